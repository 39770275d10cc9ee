// The IPv6 part of virtnat's table: its sets and elements, and the rules of each family.
#include "dual_stack_test.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "backends/nftables/nft_ruleset.h"

namespace virtnat {
namespace {

using testing::DualStackState;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DualStack, Ipv4OnlyStateHasNoIpv6InItsTable) {
  DesiredState state = DualStackState();
  EXPECT_TRUE(LayoutHasIpv6(state));
  state.settings.has_public_address6 = false;
  for (auto& network : state.networks) network.address6.reset();
  for (auto& forward : state.forwards) forward.mappings6.clear();
  EXPECT_FALSE(LayoutHasIpv6(state));
  NftRuleset ruleset = RenderRuleset(state);
  EXPECT_FALSE(Has(ruleset.skeleton, "ip6")) << ruleset.skeleton;
  EXPECT_FALSE(Has(ruleset.skeleton, "fwd_dnat6")) << ruleset.skeleton;
  EXPECT_FALSE(Has(ruleset.skeleton, "nfproto")) << ruleset.skeleton;
  EXPECT_FALSE(ruleset.elements.contains(nftset::kDnat6));
}

TEST(DualStack, ForwardsBecomeElementsOfEachFamily) {
  NftRuleset ruleset = RenderRuleset(DualStackState());
  auto& elements = ruleset.elements;
  EXPECT_EQ(elements[nftset::kDnat],
            (std::set<std::string>{"198.51.100.1 . tcp . 25 : 10.78.0.25 . 25",
                                   "198.51.100.1 . tcp . 443 : 10.77.0.28 . 8443"}));
  EXPECT_EQ(elements[nftset::kDnat6],
            (std::set<std::string>{"2001:db8:100::1 . tcp . 25 : 2001:db8:78::19 . 25",
                                   "2001:db8:100::1 . tcp . 443 : fd00:77::1c . 8443",
                                   "2001:db8:100::2 . tcp . 5432 : fd00:77::29 . 5432"}));
  EXPECT_EQ(elements[nftset::kDnatAny], std::set<std::string>{"tcp . 2222 : 10.77.0.28 . 22"});
  EXPECT_EQ(elements[nftset::kDnat6Any], std::set<std::string>{"tcp . 2222 : fd00:77::1c . 22"});
  EXPECT_EQ(elements[nftset::kCount6].size(), 3u);
  EXPECT_EQ(elements[nftset::kCount6Any], std::set<std::string>{"tcp . 2222"});
  // Allowlists per family: the `*` ssh forward lists IPv4 clients only, so it is restricted
  // on IPv6 with nobody allowed (closed); the IPv6-only db forward is open to its IPv6 network.
  EXPECT_EQ(elements[nftset::kRestrictedAny], std::set<std::string>{"tcp . 2222"});
  EXPECT_EQ(elements[nftset::kAllowAny], std::set<std::string>{"tcp . 2222 . 192.0.2.0/24"});
  EXPECT_EQ(elements[nftset::kRestricted6Any], std::set<std::string>{"tcp . 2222"});
  EXPECT_TRUE(elements[nftset::kAllow6Any].empty());
  EXPECT_EQ(elements[nftset::kRestricted6],
            (std::set<std::string>{"2001:db8:100::1 . tcp . 25", "2001:db8:100::2 . tcp . 5432"}));
  EXPECT_EQ(elements[nftset::kAllow6],
            (std::set<std::string>{"2001:db8:100::1 . tcp . 25 . 2001:db8:300::/56",
                                   "2001:db8:100::1 . tcp . 25 . 2001:db8:400::7",
                                   "2001:db8:100::2 . tcp . 5432 . 2001:db8:200::/48"}));
  EXPECT_EQ(elements[nftset::kAllow],
            std::set<std::string>{"198.51.100.1 . tcp . 25 . 203.0.113.0/24"});
  // No IPv4 element of the IPv6-only forward.
  for (const auto& element : elements[nftset::kCount]) EXPECT_FALSE(Has(element, "5432"));
}

// A forward with an IPv6 source list only is closed on IPv4 (its family without sources).
TEST(DualStack, SourcesOfOneFamilyCloseTheOther) {
  DesiredState state = DualStackState();
  auto& forward = state.forwards[0];
  forward.forward.sources6 = {*Ipv6Prefix::Parse("2001:db8:500::/64")};
  NftRuleset ruleset = RenderRuleset(state);
  EXPECT_TRUE(ruleset.elements[nftset::kRestricted].contains("198.51.100.1 . tcp . 443"));
  for (const auto& element : ruleset.elements[nftset::kAllow])
    EXPECT_FALSE(Has(element, " 443 ")) << element;
  EXPECT_TRUE(ruleset.elements[nftset::kAllow6].contains(
      "2001:db8:100::1 . tcp . 443 . 2001:db8:500::/64"));
}

TEST(DualStack, InactiveForwardKeepsCountersAndAllowlistsOnly) {
  DesiredState state = DualStackState();
  for (auto& forward : state.forwards) forward.active = false;
  NftRuleset ruleset = RenderRuleset(state);
  EXPECT_TRUE(ruleset.elements[nftset::kDnat6].empty());
  EXPECT_TRUE(ruleset.elements[nftset::kDnat6Any].empty());
  EXPECT_EQ(ruleset.elements[nftset::kCount6].size(), 3u);
}

TEST(DualStack, LayoutDoesNotDependOnForwards) {
  DesiredState state = DualStackState();
  NftRuleset with = RenderRuleset(state);
  state.forwards.clear();
  NftRuleset without = RenderRuleset(state);
  EXPECT_EQ(with.skeleton_hash, without.skeleton_hash);
}

TEST(DualStack, ForwardRulesOfBothFamilies) {
  std::string text = RenderRuleset(DualStackState()).skeleton;
  EXPECT_TRUE(Has(text,
                  "map fwd_dnat6 {\n\t\ttype ipv6_addr . inet_proto . inet_service : "
                  "ipv6_addr . inet_service\n"))
      << text;
  EXPECT_TRUE(Has(text,
                  "set fwd_allow6_any {\n\t\ttype inet_proto . inet_service . ipv6_addr\n"
                  "\t\tflags interval\n"));
  EXPECT_TRUE(Has(text,
                  "ip6 daddr . meta l4proto . th dport @fwd_restricted6 ip6 daddr . meta l4proto "
                  ". th dport . ip6 saddr != @fwd_allow6 drop"));
  EXPECT_TRUE(Has(text,
                  "fib daddr type local meta l4proto . th dport @fwd_restricted6_any meta "
                  "l4proto . th dport . ip6 saddr != @fwd_allow6_any drop"));
  // Each family's `*` counter counts its own family only.
  EXPECT_TRUE(Has(text,
                  "meta nfproto ipv4 fib daddr type local meta l4proto . th dport "
                  "@fwd_count_any comment"));
  EXPECT_TRUE(Has(text,
                  "meta nfproto ipv6 fib daddr type local meta l4proto . th dport "
                  "@fwd_count6_any comment"));
  // DNAT of clients (prerouting) and of the host's own connections (output).
  for (const char* chain : {"chain prerouting {", "chain output {"}) {
    auto begin = text.find(chain);
    auto end = text.find("\t}\n", begin);
    std::string body = text.substr(begin, end - begin);
    EXPECT_TRUE(Has(body, "dnat ip6 to ip6 daddr . meta l4proto . th dport map @fwd_dnat6 "))
        << body;
    EXPECT_TRUE(
        Has(body, "fib daddr type local dnat ip6 to meta l4proto . th dport map @fwd_dnat6_any"))
        << body;
  }
}

TEST(DualStack, NetworkRulesOfBothFamilies) {
  std::string text = RenderRuleset(DualStackState()).skeleton;
  // NAT66 of the nat network, with its hairpin; the routed network: hairpin, no masquerade.
  EXPECT_TRUE(Has(text,
                  "ip6 saddr fd00:77::/64 ip6 daddr != fd00:77::/64 meta l4proto { tcp, "
                  "udp } masquerade to :1024-65535"));
  EXPECT_TRUE(Has(text, "ip6 saddr fd00:77::/64 ip6 daddr != fd00:77::/64 masquerade comment"));
  EXPECT_TRUE(Has(text, "ct status dnat ip6 saddr fd00:77::/64 ip6 daddr fd00:77::/64 masquerade"));
  EXPECT_TRUE(Has(text,
                  "ct status dnat ip6 saddr 2001:db8:78::/64 ip6 daddr 2001:db8:78::/64 "
                  "masquerade"));
  EXPECT_FALSE(Has(text, "ip6 saddr 2001:db8:78::/64 ip6 daddr != 2001:db8:78::/64"));
  // Guests out; the routed network reachable from outside over IPv6; the nat network not.
  auto out6 = text.find("iifname \"nbr0\" ip6 saddr fd00:77::/64 accept");
  auto spoofed = text.find("iifname \"nbr0\" reject");
  ASSERT_NE(out6, std::string::npos) << text;
  EXPECT_LT(out6, spoofed);
  auto in6 = text.find("oifname \"nbr1\" ip6 daddr 2001:db8:78::/64 accept");
  ASSERT_NE(in6, std::string::npos) << text;
  EXPECT_LT(in6, text.find("oifname \"nbr1\" reject"));
  EXPECT_FALSE(Has(text, "oifname \"nbr0\" ip6 daddr"));
  // Served networks: ICMPv6 that IPv6 needs, DHCPv6, and dnsmasq for the guests only.
  EXPECT_TRUE(Has(text,
                  "iifname \"nbr0\" icmpv6 type { destination-unreachable, packet-too-big, "
                  "time-exceeded, parameter-problem, nd-router-solicit, nd-neighbor-solicit, "
                  "nd-neighbor-advert } accept"));
  EXPECT_TRUE(Has(text, "iifname \"nbr0\" udp dport 547 accept"));
  EXPECT_TRUE(Has(text,
                  "iifname != \"nbr0\" ip6 daddr fd00:77::1 meta l4proto { tcp, udp } th "
                  "dport { 53, 547 } drop"));
}

// With nat6 = false a nat network's IPv6 is routed out (no masquerade) but nobody outside
// reaches its guests except through forwards.
TEST(DualStack, Nat6FalseRoutesOutButNotIn) {
  DesiredState state = DualStackState();
  state.networks[0].nat6 = false;
  std::string text = RenderRuleset(state).skeleton;
  EXPECT_FALSE(Has(text, "ip6 saddr fd00:77::/64 ip6 daddr != fd00:77::/64"));
  EXPECT_TRUE(Has(text, "iifname \"nbr0\" ip6 saddr fd00:77::/64 accept"));
  EXPECT_FALSE(Has(text, "oifname \"nbr0\" ip6 daddr"));
  EXPECT_TRUE(Has(text, "ct status dnat ip6 saddr fd00:77::/64 ip6 daddr fd00:77::/64 masquerade"));
}

// Isolated: the interface rules keep IPv6 inside the bridge as they do IPv4; no IPv6 accept
// of the forward chain, but the guests still get ND, DHCPv6 and DNS from the host.
TEST(DualStack, IsolatedNetworkKeepsIpv6Inside) {
  DesiredState state = DualStackState();
  state.networks[0].mode = NetworkMode::kIsolated;
  state.forwards.clear();
  std::string text = RenderRuleset(state).skeleton;
  EXPECT_TRUE(Has(text, "iifname \"nbr0\" oifname != \"nbr0\" reject"));
  EXPECT_FALSE(Has(text, "ip6 saddr fd00:77::/64 accept"));
  EXPECT_FALSE(Has(text, "ip6 saddr fd00:77::/64 ip6 daddr"));  // no hairpin, no NAT66
  EXPECT_TRUE(Has(text, "iifname \"nbr0\" udp dport 547 accept"));
  EXPECT_TRUE(Has(text, "iifname \"nbr0\" icmpv6 type {"));
}

// A network whose firewall is libvirt's (libvirt_forward = "nat") gets only the hairpin, as
// in IPv4; NAT66 and filtering are libvirt's.
TEST(DualStack, ProviderFirewallGetsHairpinOnly) {
  DesiredState state = DualStackState();
  state.networks[0].provider = NetworkProvider::kLibvirt;
  state.networks[0].provider_nat = true;
  std::string text = RenderRuleset(state).skeleton;
  EXPECT_TRUE(Has(text, "ct status dnat ip6 saddr fd00:77::/64 ip6 daddr fd00:77::/64 masquerade"));
  EXPECT_FALSE(Has(text, "ip6 saddr fd00:77::/64 ip6 daddr != fd00:77::/64"));
  EXPECT_FALSE(Has(text, "\"nbr0\" ip6"));
  EXPECT_FALSE(Has(text, "iifname \"nbr0\" icmpv6"));
}

// An IPv6 forward alone (to an address no network of the config holds) brings the IPv6 sets
// and forward rules, but no network gets IPv6 rules.
TEST(DualStack, Ipv6ForwardAloneBringsTheIpv6Sets) {
  DesiredState state = DualStackState();
  state.settings.has_public_address6 = false;
  for (auto& network : state.networks) network.address6.reset();
  state.forwards.resize(2);
  state.forwards.erase(state.forwards.begin());  // db: IPv6 only, listen 2001:db8:100::2
  ASSERT_TRUE(LayoutHasIpv6(state));
  NftRuleset ruleset = RenderRuleset(state);
  EXPECT_TRUE(Has(ruleset.skeleton, "dnat ip6 to ip6 daddr"));
  EXPECT_FALSE(Has(ruleset.skeleton, "ip6 saddr fd00"));
  EXPECT_EQ(ruleset.elements[nftset::kDnat6].size(), 1u);
}

// For capturing what nft sends for this table (netlink/README.md):
// VIRTNAT_WRITE_DUAL_STACK=FILE writes its whole-table replace as text.
TEST(DualStack, WritesItsReplaceForCapture) {
  NftRuleset ruleset = RenderRuleset(DualStackState());
  std::string replace = RenderReplace(ruleset);
  EXPECT_EQ(replace.find("@ELEMENTS"), std::string::npos);
  if (const char* path = std::getenv("VIRTNAT_WRITE_DUAL_STACK")) {
    std::ofstream out(path);
    out << replace;
  }
  // What `virtnat plan` prints: tests/golden/dual-stack-standalone/nftables.nft.
  if (const char* path = std::getenv("VIRTNAT_WRITE_DUAL_STACK_TABLE")) {
    std::ofstream out(path);
    out << RenderTable(ruleset);
  }
}

}  // namespace
}  // namespace virtnat
