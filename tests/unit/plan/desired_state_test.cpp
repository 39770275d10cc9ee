#include "plan/desired_state.h"

#include <gtest/gtest.h>

#include "test_config.h"

namespace virtnat {
namespace {

TEST(DesiredState, ExpandsRangesPortByPortForEachProtocol) {
  Forward forward;
  forward.protocols = {Protocol::kTcp, Protocol::kUdp};
  forward.port = {8000, 8002};
  forward.to_port = {9000, 9002};
  auto mappings = ExpandForward(forward);
  ASSERT_EQ(mappings.size(), 6u);
  EXPECT_EQ(mappings[1].port, 8001);
  EXPECT_EQ(mappings[1].to_port, 9001);
  EXPECT_EQ(mappings[3].protocol, Protocol::kUdp);
  EXPECT_EQ(mappings[3].port, 8000);
}

TEST(DesiredState, LibvirtLifecycleFollowsRunningHosts) {
  std::string text = testing::kBaseConfig;
  text.replace(text.find("\"ignore\""), 8, "\"libvirt\"");
  Diagnostics diagnostics;
  Config config = testing::Parse(text, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  EXPECT_FALSE(BuildDesiredState(config, {}).forwards[0].active);
  EXPECT_TRUE(BuildDesiredState(config, {"lxdev01"}).forwards[0].active);
  EXPECT_FALSE(BuildDesiredState(config, {"lxdev02"}).forwards[0].active);
}

TEST(DesiredState, IgnoreLifecycleIsAlwaysActive) {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics);
  EXPECT_TRUE(BuildDesiredState(config, {}).forwards[0].active);
}

TEST(DesiredState, WithoutNetworksDropsTheirForwardsToo) {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics, R"(
[[network]]
name = "other"
bridge = "nbr9"
address = "10.9.9.1/24"

[[network.host]]
name = "lxother"
address = "10.9.9.5"

[[forward]]
host = "lxother"
port = "2299"
to_port = "22"
)");
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  ASSERT_EQ(config.forwards.size(), 2u);
  Config rest = WithoutNetworks(config, {"nat_bridge"});
  ASSERT_EQ(rest.networks.size(), 1u);
  EXPECT_EQ(rest.networks[0].name, "other");
  ASSERT_EQ(rest.forwards.size(), 1u);
  EXPECT_EQ(rest.forwards[0].host, "lxother");
  EXPECT_EQ(BuildDesiredState(rest, {}).forwards.size(), 1u);
  EXPECT_EQ(WithoutNetworks(config, {}).forwards.size(), 2u);
  EXPECT_EQ(WithoutNetworks(config, {"no_such_network"}).networks.size(), 2u);
}

}  // namespace
}  // namespace virtnat
