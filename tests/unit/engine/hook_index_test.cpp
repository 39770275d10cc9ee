#include "engine/hook_index.h"

#include <gtest/gtest.h>

#include "test_config.h"

namespace virtnat {
namespace {

TEST(HookIndex, MapsDomainsToHostsByNameOrMac) {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics);
  HookIndex index = BuildHookIndex(config);
  EXPECT_EQ(HostsOfDomain(index, "lxdev01", {}), std::set<std::string>{"lxdev01"});
  EXPECT_EQ(HostsOfDomain(index, "some-vm", {"02:FF:0A:0A:06:1D"}),
            std::set<std::string>{"lxdev02"});
  EXPECT_TRUE(HostsOfDomain(index, "other", {"52:54:00:00:00:01"}).empty());
}

TEST(HookIndex, SerializesRoundTrip) {
  HookIndex index;
  index.ruleset_name = "t";
  index.follow_vms = true;
  index.strict = true;
  index.shim = true;
  index.host_macs = {{"a", "02:00:00:00:00:01"}, {"b", ""}};
  HookIndex parsed = ParseHookIndex(SerializeHookIndex(index));
  EXPECT_EQ(parsed.ruleset_name, "t");
  EXPECT_TRUE(parsed.follow_vms && parsed.strict && parsed.shim);
  EXPECT_EQ(parsed.host_macs, index.host_macs);
}

}  // namespace
}  // namespace virtnat
