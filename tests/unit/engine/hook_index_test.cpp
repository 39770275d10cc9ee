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

TEST(HookIndex, HostElementsAreTheDnatElementsOfItsForwards) {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics,
                                 "[[forward]]\naddress = \"10.1.1.29\"\nport = \"80-81\"\n"
                                 "listen = \"*\"\n");
  auto hosts = BuildHostElements(config);
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts["lxdev01"].elements.size(), 1u);
  EXPECT_EQ(hosts["lxdev01"].elements[0].second, "198.51.100.1 . tcp . 2222 : 10.1.1.28 . 22");
  ASSERT_EQ(hosts["lxdev02"].elements.size(), 2u);  // found by address, one per port
  EXPECT_EQ(hosts["lxdev02"].elements[1].first, "fwd_dnat_any");
  EXPECT_EQ(hosts["lxdev02"].elements[1].second, "tcp . 81 : 10.1.1.29 . 81");
  HostElements parsed = ParseHostElements(SerializeHostElements(hosts["lxdev02"]));
  EXPECT_EQ(parsed.elements, hosts["lxdev02"].elements);
}

TEST(HookIndex, SerializesRoundTrip) {
  HookIndex index;
  index.table = "t";
  index.follow_vms = true;
  index.strict = true;
  index.shim = true;
  index.host_macs = {{"a", "02:00:00:00:00:01"}, {"b", ""}};
  HookIndex parsed = ParseHookIndex(SerializeHookIndex(index));
  EXPECT_EQ(parsed.table, "t");
  EXPECT_TRUE(parsed.follow_vms && parsed.strict && parsed.shim);
  EXPECT_EQ(parsed.host_macs, index.host_macs);
}

}  // namespace
}  // namespace virtnat
