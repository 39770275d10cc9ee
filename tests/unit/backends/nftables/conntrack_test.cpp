#include "backends/nftables/conntrack.h"

#include <gtest/gtest.h>

namespace virtnat {
namespace {

TEST(Conntrack, ParsesClosedDnatElements) {
  auto mappings = ParseClosedMappings({"198.51.100.1 . udp . 5354 : 10.1.1.28 . 53",
                                       "tcp . 80 : 10.1.1.29 . 8080", "not an element"});
  ASSERT_EQ(mappings.size(), 2u);
  EXPECT_EQ(mappings[0].listen, "198.51.100.1");
  EXPECT_EQ(mappings[0].protocol, 17);
  EXPECT_EQ(mappings[0].port, 5354);
  EXPECT_EQ(mappings[0].target, "10.1.1.28");
  EXPECT_EQ(mappings[0].to_port, 53);
  EXPECT_TRUE(mappings[1].listen.empty());
  EXPECT_EQ(mappings[1].protocol, 6);
  EXPECT_EQ(mappings[1].to_port, 8080);
}

TEST(Conntrack, ParsesClosedIpv6DnatElements) {
  auto mappings = ParseClosedMappings(
      {"2001:db8:100::1 . tcp . 443 : fd00:77::1c . 8443", "udp . 53 : fd00:77::1c . 5353"});
  ASSERT_EQ(mappings.size(), 2u);
  EXPECT_EQ(mappings[0].listen, "2001:db8:100::1");
  EXPECT_EQ(mappings[0].port, 443);
  EXPECT_EQ(mappings[0].target, "fd00:77::1c");
  EXPECT_EQ(mappings[0].to_port, 8443);
  EXPECT_TRUE(mappings[1].listen.empty());
  EXPECT_EQ(mappings[1].protocol, 17);
  EXPECT_EQ(mappings[1].target, "fd00:77::1c");
}

// Mixed families in one mapping (no NAT46) and unparsable addresses end nothing; with nothing
// tracked or nothing wanted, nothing is dumped.
TEST(Conntrack, ForgetsNothingForMappingsOfNoFamily) {
  EXPECT_EQ(ForgetConnections(
                {{"198.51.100.1", 6, 80, "fd00:77::1c", 80}, {"", 6, 80, "not-an-address", 80}}),
            0u);
}

}  // namespace
}  // namespace virtnat
