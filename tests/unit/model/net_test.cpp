#include "model/net.h"

#include <gtest/gtest.h>

namespace virtnat {

TEST(Ipv4Address, ParsesAndPrints) {
  auto address = Ipv4Address::Parse("10.1.1.28");
  ASSERT_TRUE(address);
  EXPECT_EQ(address->ToString(), "10.1.1.28");
  EXPECT_EQ(address->value, 0x0a01011cu);
}

TEST(Ipv4Address, RejectsMalformed) {
  for (const char* bad : {"", "10.1.1", "10.1.1.256", "10.1.1.1.1", "10.01.1.1", "a.b.c.d",
                          "10.1.1.-1", " 10.1.1.1", "10.1.1.1/24"})
    EXPECT_FALSE(Ipv4Address::Parse(bad)) << bad;
}

TEST(Ipv6Address, RejectsAnEmbeddedNul) {
  // inet_pton stops at a NUL: "::" followed by junk must not pass as "::" (a fuzz finding:
  // `forward add [::\0...]:22 22` wrote the junk into conf.d/50-cli.toml).
  EXPECT_TRUE(Ipv6Address::Parse("::"));
  EXPECT_FALSE(Ipv6Address::Parse(std::string_view("::\0\xcd", 4)));
  EXPECT_FALSE(Ipv6Address::Parse(std::string_view("fd00::1\0", 8)));
}

TEST(Ipv4Prefix, RequiresZeroHostBits) {
  EXPECT_TRUE(Ipv4Prefix::Parse("198.51.100.0/24"));
  EXPECT_FALSE(Ipv4Prefix::Parse("198.51.100.1/24"));
  auto single = Ipv4Prefix::Parse("198.51.100.7");
  ASSERT_TRUE(single);
  EXPECT_EQ(single->length, 32);
  EXPECT_EQ(single->ToString(), "198.51.100.7");
  EXPECT_TRUE(Ipv4Prefix::Parse("0.0.0.0/0")->Contains(*Ipv4Address::Parse("8.8.8.8")));
}

TEST(Ipv4Interface, SubnetOfHostAddress) {
  auto interface = Ipv4Interface::Parse("10.1.1.1/24");
  ASSERT_TRUE(interface);
  EXPECT_EQ(interface->Subnet().ToString(), "10.1.1.0/24");
  EXPECT_FALSE(Ipv4Interface::Parse("10.1.1.1"));
  EXPECT_FALSE(Ipv4Interface::Parse("10.1.1.1/31"));
}

TEST(Ipv4Range, OrderedAndContains) {
  auto range = Ipv4Range::Parse("10.1.1.100-10.1.1.254");
  ASSERT_TRUE(range);
  EXPECT_TRUE(range->Contains(*Ipv4Address::Parse("10.1.1.100")));
  EXPECT_FALSE(range->Contains(*Ipv4Address::Parse("10.1.1.99")));
  EXPECT_FALSE(Ipv4Range::Parse("10.1.1.254-10.1.1.100"));
}

TEST(MacAddress, ParsesUpperCases) {
  auto mac = MacAddress::Parse("02:ff:0a:0a:06:1c");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->ToString(), "02:FF:0A:0A:06:1C");
  EXPECT_FALSE(MacAddress::Parse("02:FF:0A:0A:06"));
  EXPECT_FALSE(MacAddress::Parse("02:FF:0A:0A:06:1CC"));
  EXPECT_TRUE(ParseMacPrefix("02:FF:0A:0A:06"));
  EXPECT_FALSE(ParseMacPrefix("02:FF:0A:0A"));
}

}  // namespace virtnat
