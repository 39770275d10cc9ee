#include <gtest/gtest.h>

#include <algorithm>

#include "backends/nftables/host_batches.h"
#include "backends/nftables/nftables_backend.h"
#include "dual_stack_test.h"
#include "test_config.h"

namespace virtnat {
namespace {

TEST(HostElements, AreTheDnatElementsOfEachHostsForwards) {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics,
                                 "[[forward]]\naddress = \"10.1.1.29\"\nport = \"80-81\"\n"
                                 "listen = \"*\"\n");
  auto hosts = BuildHostElements(BuildDesiredState(config, {}));
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts["lxdev01"].elements.size(), 1u);
  EXPECT_EQ(hosts["lxdev01"].elements[0].second, "198.51.100.1 . tcp . 2222 : 10.1.1.28 . 22");
  ASSERT_EQ(hosts["lxdev02"].elements.size(), 2u);  // found by address, one per port
  EXPECT_EQ(hosts["lxdev02"].elements[1].first, "fwd_dnat_any");
  EXPECT_EQ(hosts["lxdev02"].elements[1].second, "tcp . 81 : 10.1.1.29 . 81");
  HostElements parsed = ParseHostElements(SerializeHostElements(hosts["lxdev02"]));
  EXPECT_EQ(parsed.elements, hosts["lxdev02"].elements);
}

// The hook switches a dual-stack host's forwards in both families.
TEST(HostElements, HoldBothFamiliesOfDualStackForwards) {
  auto hosts = BuildHostElements(testing::DualStackState());
  const auto& web = hosts["web"].elements;
  using Item = std::pair<std::string, std::string>;
  auto has = [&](const Item& item) { return std::find(web.begin(), web.end(), item) != web.end(); };
  EXPECT_TRUE(has(Item{"fwd_dnat", "198.51.100.1 . tcp . 443 : 10.77.0.28 . 8443"}));
  EXPECT_TRUE(has(Item{"fwd_dnat6", "2001:db8:100::1 . tcp . 443 : fd00:77::1c . 8443"}));
  EXPECT_TRUE(has(Item{"fwd_dnat6_any", "tcp . 2222 : fd00:77::1c . 22"}));
  EXPECT_EQ(web.size(), 4u);
  ASSERT_EQ(hosts["db"].elements.size(), 1u);  // IPv6 only
  EXPECT_EQ(hosts["db"].elements[0].first, "fwd_dnat6");
  HostBatch batch = BuildHostBatch("virtnat", hosts["web"]);
  EXPECT_FALSE(batch.start.empty());
  EXPECT_EQ(batch.elements, SerializeHostElements(hosts["web"]));
}

}  // namespace
}  // namespace virtnat
