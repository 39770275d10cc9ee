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

}  // namespace
}  // namespace virtnat
