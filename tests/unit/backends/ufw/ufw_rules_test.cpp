// The ufw rules virtnat adds through ufw, and how it finds its own in ufw's user.rules.
#include "backends/ufw/ufw_rules.h"

#include <gtest/gtest.h>

#include "test_config.h"

namespace virtnat {
namespace {

using Args = std::vector<std::string>;

TEST(UfwRules, RouteRulesPerBridgeAndDhcpDnsWhereTheHostServesThem) {
  Diagnostics diagnostics;
  Config config = testing::Parse(R"(
[[network]]
name = "lab"
provider = "standalone"
bridge = "vsbr0"
address = "10.2.2.1/24"
[[network]]
name = "ext"
bridge = "nbr0"
address = "10.1.1.1/24"
[[network]]
name = "diy"
mode = "open"
bridge = "nbr2"
address = "10.4.4.1/24"
)",
                                 diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  auto rules = BuildUfwRules(BuildDesiredState(config, {}));
  ASSERT_EQ(rules.size(), 7u);  // vsbr0: 2 + 3; nbr0 (external: no dnsmasq of virtnat's): 2
  EXPECT_EQ(rules[0].tuple, "route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0");
  EXPECT_EQ(rules[0].add, (Args{"route", "allow", "in", "on", "vsbr0", "comment", "virtnat"}));
  EXPECT_EQ(rules[0].remove, (Args{"route", "delete", "allow", "in", "on", "vsbr0"}));
  EXPECT_EQ(rules[1].tuple, "route:allow any any 0.0.0.0/0 any 0.0.0.0/0 out_vsbr0");
  EXPECT_EQ(rules[2].tuple, "allow udp 67 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0");
  EXPECT_EQ(rules[2].add, (Args{"allow", "in", "on", "vsbr0", "to", "any", "port", "67", "proto",
                                "udp", "comment", "virtnat"}));
  EXPECT_EQ(rules[4].tuple, "allow tcp 53 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0");
  EXPECT_EQ(rules[6].tuple, "route:allow any any 0.0.0.0/0 any 0.0.0.0/0 out_nbr0");
}

// A dual-stack network's guests ask DHCPv6 too (udp 547); the IPv4-only one above (the
// control) gets no such rule.
TEST(UfwRules, DualStackNetworkAlsoPassesDhcpv6) {
  Diagnostics diagnostics;
  Config config = testing::Parse(R"(
[[network]]
name = "lab"
provider = "standalone"
bridge = "vsbr0"
address = "10.2.2.1/24"
address6 = "fd00:2::1/64"
)",
                                 diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  auto rules = BuildUfwRules(BuildDesiredState(config, {}));
  ASSERT_EQ(rules.size(), 6u);
  EXPECT_EQ(rules[5].tuple, "allow udp 547 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0");
  EXPECT_EQ(UfwDeleteArgs(rules[5].tuple), rules[5].remove);
}

TEST(UfwRules, FindsItsOwnTuplesAndHowToDeleteThem) {
  // As ufw 0.36 writes user.rules (the comment in hex).
  const std::string user_rules =
      "*filter\n:ufw-user-input - [0:0]\n### RULES ###\n\n"
      "### tuple ### route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_nbr0 "
      "comment=766972746e6174\n-A ufw-user-forward -i nbr0 -j ACCEPT\n\n"
      "### tuple ### allow udp 67 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0 comment=766972746e6174\n"
      "-A ufw-user-input -i vsbr0 -p udp --dport 67 -j ACCEPT\n\n"
      "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n"
      "-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n";
  EXPECT_EQ(VirtnatUfwTuples(user_rules),
            (std::set<std::string>{"route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_nbr0",
                                   "allow udp 67 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0"}));
  EXPECT_EQ(UfwDeleteArgs("route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_nbr0"),
            (Args{"route", "delete", "allow", "in", "on", "nbr0"}));
  EXPECT_EQ(UfwDeleteArgs("allow udp 67 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0"),
            (Args{"--force", "delete", "allow", "in", "on", "vsbr0", "to", "any", "port", "67",
                  "proto", "udp"}));
  EXPECT_TRUE(UfwDeleteArgs("deny tcp 22 0.0.0.0/0 any 0.0.0.0/0 in").empty());
}

// ufw writes each rule to user.rules and (IPV6=yes) user6.rules; an admin's ufw command that
// races the watch's can leave one family without it.
TEST(UfwRules, ARuleMissingFromUser6RulesIsMissing) {
  UfwRule in{"route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0", {}, {}};
  UfwRule out{"route:allow any any 0.0.0.0/0 any 0.0.0.0/0 out_vsbr0", {}, {}};
  const std::string v4 =
      "### tuple ### route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_vsbr0 comment=766972746e6174\n"
      "### tuple ### route:allow any any 0.0.0.0/0 any 0.0.0.0/0 out_vsbr0 "
      "comment=766972746e6174\n";
  const std::string v6_without_in =
      "### tuple ### route:allow any any ::/0 any ::/0 out_vsbr0 comment=766972746e6174\n";
  auto missing = MissingUfwRules({in, out}, v4, v6_without_in);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].tuple, in.tuple);
  // Controls: ufw without IPv6 (no user6.rules to check), and both files complete.
  EXPECT_TRUE(MissingUfwRules({in, out}, v4, std::nullopt).empty());
  const std::string v6 =
      v6_without_in +
      "### tuple ### route:allow any any ::/0 any ::/0 in_vsbr0 comment=766972746e6174\n";
  EXPECT_TRUE(MissingUfwRules({in, out}, v4, v6).empty());
  // A rule only user6.rules still has is one of virtnat's, named in user.rules' form.
  EXPECT_EQ(VirtnatUfwTuplesOfBoth("", v6_without_in),
            (std::set<std::string>{"route:allow any any 0.0.0.0/0 any 0.0.0.0/0 out_vsbr0"}));
  EXPECT_EQ(Ipv6Tuple(in.tuple), "route:allow any any ::/0 any ::/0 in_vsbr0");
  EXPECT_EQ(Ipv4Tuple(Ipv6Tuple(in.tuple)), in.tuple);
}

TEST(UfwRules, ReadsIpv6FromUfwsDefaults) {
  EXPECT_TRUE(UfwDefaultsEnableIpv6("# comment\nIPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\n"));
  EXPECT_TRUE(UfwDefaultsEnableIpv6("IPV6=\"yes\"\n"));
  EXPECT_FALSE(UfwDefaultsEnableIpv6("IPV6=no\n"));
  EXPECT_FALSE(UfwDefaultsEnableIpv6("#IPV6=yes\n"));
  EXPECT_FALSE(UfwDefaultsEnableIpv6(""));
}

}  // namespace
}  // namespace virtnat
