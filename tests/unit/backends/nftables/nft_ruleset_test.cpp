#include "backends/nftables/nft_ruleset.h"

#include <gtest/gtest.h>

#include "test_config.h"

namespace virtnat {
namespace {

NftRuleset RenderFor(const std::string& extra, const RunningHosts& running = {}) {
  Diagnostics diagnostics;
  static Config config;  // DesiredState points into it
  config = testing::Parse(testing::kBaseConfig, diagnostics, extra);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  return RenderRuleset(BuildDesiredState(config, running));
}

TEST(NftRuleset, ForwardBecomesMapElements) {
  NftRuleset ruleset = RenderFor("");
  EXPECT_EQ(ruleset.elements[nftset::kDnat],
            std::set<std::string>{"198.51.100.1 . tcp . 2222 : 10.1.1.28 . 22"});
  EXPECT_EQ(ruleset.elements[nftset::kCount], std::set<std::string>{"198.51.100.1 . tcp . 2222"});
  EXPECT_TRUE(ruleset.elements[nftset::kRestricted].empty());
}

TEST(NftRuleset, AllowListAndAnyListen) {
  NftRuleset ruleset = RenderFor(
      "[[forward]]\nhost = \"lxdev02\"\nport = \"80\"\nlisten = \"*\"\nprotocol = \"tcp,udp\"\n"
      "source = [\"198.51.100.0/24\", \"203.0.113.7\"]\n");
  EXPECT_EQ(ruleset.elements[nftset::kDnatAny].size(), 2u);
  EXPECT_TRUE(ruleset.elements[nftset::kDnatAny].contains("udp . 80 : 10.1.1.29 . 80"));
  EXPECT_TRUE(ruleset.elements[nftset::kRestrictedAny].contains("tcp . 80"));
  EXPECT_TRUE(ruleset.elements[nftset::kAllowAny].contains("tcp . 80 . 198.51.100.0/24"));
  EXPECT_TRUE(ruleset.elements[nftset::kAllowAny].contains("udp . 80 . 203.0.113.7"));
}

TEST(NftRuleset, LayoutDoesNotDependOnForwards) {
  NftRuleset one = RenderFor("");
  NftRuleset two = RenderFor("[[forward]]\nhost = \"lxdev02\"\nport = \"80\"\n");
  EXPECT_EQ(one.skeleton, two.skeleton);
  EXPECT_EQ(one.skeleton_hash, two.skeleton_hash);
  EXPECT_NE(one.elements, two.elements);
}

TEST(NftRuleset, NetworkRulesMasqueradeAndRejectInbound) {
  NftRuleset ruleset = RenderFor("");
  const std::string& text = ruleset.skeleton;
  EXPECT_NE(text.find("ip saddr 10.1.1.0/24 ip daddr != 10.1.1.0/24 meta l4proto { tcp, udp } "
                      "masquerade to :1024-65535"),
            std::string::npos);
  EXPECT_NE(text.find("oifname \"nbr0\" reject"), std::string::npos);
  EXPECT_NE(text.find("ct status dnat ip saddr 10.1.1.0/24 ip daddr 10.1.1.0/24 masquerade"),
            std::string::npos);
  std::string replace = RenderReplace(ruleset);
  EXPECT_EQ(replace.rfind("table inet virtnat\ndelete table inet virtnat\ntable inet virtnat {", 0),
            0u);
  EXPECT_NE(replace.find("elements = { 198.51.100.1 . tcp . 2222 : 10.1.1.28 . 22 }"),
            std::string::npos)
      << replace;
  EXPECT_EQ(replace.find("@ELEMENTS"), std::string::npos);
}

// A guest of an isolated network that connects to a forward on one of the host's addresses
// must not get through to the forward's guest: its reject comes before the accept of DNATed
// connections. Guests of nat networks may use forwards, so they get no such rule.
TEST(NftRuleset, IsolatedNetworkRejectsBeforeForwardedConnections) {
  NftRuleset ruleset = RenderFor(
      "[[network]]\nname = \"backend\"\nmode = \"isolated\"\nprovider = \"external\"\n"
      "bridge = \"nbr2\"\naddress = \"10.3.3.1/24\"\n");
  const std::string& text = ruleset.skeleton;
  auto isolated = text.find("iifname \"nbr2\" oifname != \"nbr2\" reject");
  auto forwarded = text.find("ct status dnat accept");
  ASSERT_NE(isolated, std::string::npos) << text;
  ASSERT_NE(forwarded, std::string::npos) << text;
  EXPECT_LT(isolated, forwarded) << text;
  EXPECT_EQ(text.find("iifname \"nbr0\" oifname != \"nbr0\""), std::string::npos) << text;
}

TEST(NftRuleset, ElementChangesDeleteKeysThenAdd) {
  NftElements remove{{nftset::kDnat, {"1.2.3.4 . tcp . 80 : 10.1.1.28 . 80"}}};
  NftElements add{{nftset::kDnat, {"1.2.3.4 . tcp . 80 : 10.1.1.29 . 80"}}};
  EXPECT_EQ(RenderElementChanges("virtnat", remove, add),
            "delete element inet virtnat fwd_dnat { 1.2.3.4 . tcp . 80 }\n"
            "add element inet virtnat fwd_dnat { 1.2.3.4 . tcp . 80 : 10.1.1.29 . 80 }\n");
}

}  // namespace
}  // namespace virtnat
