#include "providers/standalone/link_names.h"

#include <gtest/gtest.h>

namespace virtnat {
namespace {

TEST(DummyNicName, ShortBridgeGetsTheNicSuffix) {
  EXPECT_EQ(DummyNicName("nbr0"), "nbr0-nic");
  EXPECT_EQ(DummyNicName("virbr12345a"), "virbr12345a-nic");  // 11 + 4 = 15 bytes
}

TEST(DummyNicName, LongBridgeGetsAStableShortName) {
  std::string name = DummyNicName("virbr12345ab");  // 12 bytes: "-nic" would make 16
  EXPECT_LE(name.size(), 15u);
  EXPECT_EQ(name.substr(0, 7), "virbr1-");
  EXPECT_EQ(name.substr(name.size() - 4), "-nic");
  EXPECT_EQ(name, DummyNicName("virbr12345ab"));
  // Bridges that share their first bytes still get different NICs.
  EXPECT_NE(DummyNicName("virbr12345ab"), DummyNicName("virbr12345ac"));
  EXPECT_EQ(DummyNicName("abcdefghijklmno").size(), 15u);
}

TEST(StableBridgeMac, QemuPrefixAndStableHash) {
  MacAddress mac = StableBridgeMac("nat_bridge");
  EXPECT_EQ(mac.bytes[0], 0x52);
  EXPECT_EQ(mac.bytes[1], 0x54);
  EXPECT_EQ(mac.bytes[2], 0x00);
  EXPECT_EQ(mac, StableBridgeMac("nat_bridge"));
  EXPECT_NE(mac, StableBridgeMac("nat_bridge2"));
  // Fixed by FNV-1a's definition: a new version must not move existing bridges' MACs.
  EXPECT_EQ(LowerCaseMac(StableBridgeMac("a")), "52:54:00:01:ec:8c");  // FNV-1a("a")
}

TEST(LowerCaseMac, FormatsLikeTheKernel) {
  EXPECT_EQ(LowerCaseMac(*MacAddress::Parse("02:FF:0A:0A:06:1C")), "02:ff:0a:0a:06:1c");
}

}  // namespace
}  // namespace virtnat
