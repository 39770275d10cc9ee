#include <gtest/gtest.h>

#include "backends/nftables/nftables_backend.h"
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

}  // namespace
}  // namespace virtnat
