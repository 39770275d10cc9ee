// The ruleset doctor with IPv6 probes. Fixtures (tests/data/rulesets/), dumped with
// `nft -j list ruleset` from a network namespace:
// - admin6.{nft,json}: an admin's `table ip6 t` dropping forwards to fd00:77::/64, a `table ip
//   t4` dropping forwards to 10.99.0.0/24, and an `inet host` input chain (policy drop) that
//   lets neighbour solicitations/advertisements, DNS and DHCP (v4) in, but not DHCPv6 or
//   router solicitations;
// - ip6tables-nft.{json,nft}: `ip6tables-nft -P FORWARD DROP` with accepts for
//   related/established and nbr0 -> uplink (the .nft text translates the xt matches).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "backends/nftables/ruleset_doctor.h"

namespace virtnat {
namespace {

using nlohmann::json;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::filesystem::path(__FILE__).parent_path() / "../../../data/rulesets" / name);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// LAN client 2001:db8:1::10 on uplink; guest fd00:77::1c on nbr0 (host fd00:77::1).
RulesetProbe Forward6AfterDnat() {
  RulesetProbe p;
  p.label = "forward tcp [2001:db8::1]:2222 -> web [fd00:77::1c]:22 (after DNAT)";
  p.family = "ip6";
  p.hook = "forward";
  p.iifname = "uplink";
  p.oifname = "nbr0";
  p.saddr = "2001:db8:1::10";
  p.daddr = "fd00:77::1c";
  p.protocol = "tcp";
  p.dport = 22;
  p.ct_state = "new";
  p.ct_status_dnat = true;
  return p;
}

RulesetProbe Forward4AfterDnat() {
  RulesetProbe p = Forward6AfterDnat();
  p.label = "forward tcp 198.51.100.1:2222 -> web 10.77.0.28:22 (after DNAT)";
  p.family = "ip";
  p.saddr = "198.51.100.10";
  p.daddr = "10.77.0.28";
  return p;
}

RulesetProbe Reply6() {
  RulesetProbe p;
  p.label = "the guest's answer";
  p.family = "ip6";
  p.hook = "forward";
  p.iifname = "nbr0";
  p.oifname = "uplink";
  p.saddr = "fd00:77::1c";
  p.daddr = "2001:db8:1::10";
  p.protocol = "tcp";
  p.sport = 22;
  p.ct_state = "established";
  p.ct_status_dnat = true;
  return p;
}

RulesetProbe FromGuest(const std::string& family, const std::string& protocol,
                       std::optional<uint16_t> dport) {
  RulesetProbe p;
  p.label = family + " " + protocol + " from guests";
  p.family = family;
  p.hook = "input";
  p.iifname = "nbr0";
  p.saddr = family == "ip6" ? "fe80::1c" : "0.0.0.0";
  p.daddr = family == "ip6" ? "ff02::1:2" : "255.255.255.255";
  p.protocol = protocol;
  p.dport = dport;
  p.ct_state = "new";
  p.ct_status_dnat = false;
  return p;
}

RulesetProbe Icmpv6FromGuest(uint8_t type) {
  RulesetProbe p = FromGuest("ip6", "icmpv6", std::nullopt);
  p.daddr = type == 133 ? "ff02::2" : "fd00:77::1";
  p.icmpv6_type = type;
  p.ct_state = "untracked";
  return p;
}

RulesetProbeResult One(const json& ruleset, const RulesetProbe& probe,
                       const RulesetDoctorOptions& options = {}) {
  auto results = DiagnoseRuleset(ruleset, {probe}, options);
  EXPECT_EQ(results.size(), 1u);
  return results.front();
}

std::string Describe(const RulesetProbeResult& r) {
  std::string out = std::string(ProbeVerdictName(r.verdict)) + "\n";
  for (const auto& f : r.findings) out += FormatFinding(f) + "\n";
  return out;
}

TEST(RulesetDoctor6, AnIp6TableDropsTheIpv6ForwardAfterDnatAndNamesTheRule) {
  auto r = One(json::parse(Fixture("admin6.json")), Forward6AfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  ASSERT_EQ(r.findings.size(), 1u) << Describe(r);
  const RulesetFinding& f = r.findings.front();
  EXPECT_EQ(f.family, "ip6");
  EXPECT_EQ(f.table, "t");
  EXPECT_EQ(f.chain, "f");
  ASSERT_TRUE(f.handle.has_value());
  EXPECT_EQ(*f.handle, 2u);
  EXPECT_EQ(f.rule, "ip6 daddr fd00:77::/64 drop");
  EXPECT_NE(f.fix.find("ip6 daddr fd00:77::1c"), std::string::npos) << f.fix;
}

TEST(RulesetDoctor6, ControlTheIpv4TwinPassesTheIp6TableAndTheIpTableMissesIt) {
  // Same ruleset: the ip6 table never sees IPv4, and t4 drops only 10.99.0.0/24.
  auto r = One(json::parse(Fixture("admin6.json")), Forward4AfterDnat());
  EXPECT_EQ(r.verdict, ProbeVerdict::kPasses) << Describe(r);
  for (const auto& chain : r.traversed) EXPECT_EQ(chain.find("ip6 "), std::string::npos) << chain;
}

TEST(RulesetDoctor6, ControlAnIpRuleNeverMatchesAnIpv6PacketNorAnOtherPrefix) {
  json admin6 = json::parse(Fixture("admin6.json"));
  RulesetProbe v4 = Forward4AfterDnat();
  v4.daddr = "10.99.0.5";  // t4 drops this one: the IPv4 evaluation works
  EXPECT_EQ(One(admin6, v4).verdict, ProbeVerdict::kBlocked);
  RulesetProbe v6 = Forward6AfterDnat();
  v6.daddr = "fd00:78::1c";  // outside fd00:77::/64
  auto r = One(admin6, v6);
  EXPECT_EQ(r.verdict, ProbeVerdict::kPasses) << Describe(r);
}

TEST(RulesetDoctor6, DhcpV6AndRouterSolicitationsBlockedWhereDhcpV4AndNdPass) {
  json admin6 = json::parse(Fixture("admin6.json"));
  auto dhcp6 = One(admin6, FromGuest("ip6", "udp", 547));
  ASSERT_EQ(dhcp6.verdict, ProbeVerdict::kBlocked) << Describe(dhcp6);
  EXPECT_EQ(dhcp6.findings.front().table, "host");
  EXPECT_EQ(dhcp6.findings.front().rule, "policy drop");
  auto rs = One(admin6, Icmpv6FromGuest(133));
  EXPECT_EQ(rs.verdict, ProbeVerdict::kBlocked) << Describe(rs);
  // Controls: DHCP (v4), and neighbour solicitations/advertisements, which the set accepts.
  EXPECT_EQ(One(admin6, FromGuest("ip", "udp", 67)).verdict, ProbeVerdict::kPasses);
  auto ns = One(admin6, Icmpv6FromGuest(135));
  EXPECT_EQ(ns.verdict, ProbeVerdict::kPasses) << Describe(ns);
  EXPECT_EQ(One(admin6, Icmpv6FromGuest(136)).verdict, ProbeVerdict::kPasses);
  EXPECT_EQ(One(admin6, FromGuest("ip6", "udp", 53)).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctor6, Ip6tablesNftPolicyDropBlocksTheIpv6ForwardOnly) {
  json ruleset = json::parse(Fixture("ip6tables-nft.json"));
  RulesetDoctorOptions options;
  options.nft_listing = Fixture("ip6tables-nft.nft");
  auto r = One(ruleset, Forward6AfterDnat(), options);
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  EXPECT_EQ(r.findings.front().family, "ip6");
  EXPECT_EQ(r.findings.front().table, "filter");
  EXPECT_EQ(r.findings.front().rule, "policy drop");
  // Controls: the IPv4 forward (no ip table here), the answer (related,established accepted,
  // read from the translation) and the guests going out (nbr0 -> uplink accepted).
  EXPECT_EQ(One(ruleset, Forward4AfterDnat(), options).verdict, ProbeVerdict::kPasses);
  auto reply = One(ruleset, Reply6(), options);
  EXPECT_EQ(reply.verdict, ProbeVerdict::kPasses) << Describe(reply);
  RulesetProbe egress = Reply6();
  egress.ct_state = "new";
  egress.ct_status_dnat = false;
  egress.dport = 443;
  EXPECT_EQ(One(ruleset, egress, options).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctor6, WithoutTheListingTheXtMatchMayBlockNeverFine) {
  // An answer leaving by another uplink: only the (untranslated) conntrack match accepts it.
  RulesetProbe reply = Reply6();
  reply.oifname = "uplink2";
  json ruleset = json::parse(Fixture("ip6tables-nft.json"));
  auto r = One(ruleset, reply);
  EXPECT_EQ(r.verdict, ProbeVerdict::kMayBlock) << Describe(r);
  // Control: with the listing, the translation `ct state related,established` accepts it.
  RulesetDoctorOptions options;
  options.nft_listing = Fixture("ip6tables-nft.nft");
  EXPECT_EQ(One(ruleset, reply, options).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctor6, ARuleThatCannotBeAnalysedMayBlock) {
  json ruleset = json::parse(R"({"nftables": [
    {"metainfo": {"json_schema_version": 1}},
    {"table": {"family": "ip6", "name": "m", "handle": 1}},
    {"chain": {"family": "ip6", "table": "m", "name": "f", "handle": 1, "type": "filter",
               "hook": "forward", "prio": 0, "policy": "accept"}},
    {"rule": {"family": "ip6", "table": "m", "chain": "f", "handle": 2, "expr": [
      {"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}},
      {"drop": null}]}}]})");
  auto r = One(ruleset, Forward6AfterDnat());
  EXPECT_EQ(r.verdict, ProbeVerdict::kMayBlock) << Describe(r);
  // Control: the IPv4 probe never enters the ip6 table.
  EXPECT_EQ(One(ruleset, Forward4AfterDnat()).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctor6, InetTablesSeeBothFamiliesAndIpv6AddressesAreCompared) {
  json ruleset = json::parse(R"({"nftables": [
    {"metainfo": {"json_schema_version": 1}},
    {"table": {"family": "inet", "name": "x", "handle": 1}},
    {"chain": {"family": "inet", "table": "x", "name": "f", "handle": 1, "type": "filter",
               "hook": "forward", "prio": 0, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "x", "chain": "f", "handle": 2, "expr": [
      {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}},
                 "right": "fd00:77::1c"}},
      {"reject": null}]}},
    {"rule": {"family": "inet", "table": "x", "chain": "f", "handle": 3, "expr": [
      {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                 "right": {"range": ["10.77.0.20", "10.77.0.30"]}}},
      {"drop": null}]}}]})");
  auto v6 = One(ruleset, Forward6AfterDnat());
  ASSERT_EQ(v6.verdict, ProbeVerdict::kBlocked) << Describe(v6);
  EXPECT_EQ(*v6.findings.front().handle, 2u);
  auto v4 = One(ruleset, Forward4AfterDnat());
  ASSERT_EQ(v4.verdict, ProbeVerdict::kBlocked) << Describe(v4);
  EXPECT_EQ(*v4.findings.front().handle, 3u);
  RulesetProbe other = Forward6AfterDnat();
  other.daddr = "fd00:77::1d";  // control: one address further
  EXPECT_EQ(One(ruleset, other).verdict, ProbeVerdict::kPasses);
}

// The real rulesets of the IPv4 tests (tests/lab/coexist_smoke.sh), now with IPv6 probes.
RulesetDoctorOptions WithListing(const std::string& name) {
  RulesetDoctorOptions options;
  options.nft_listing = Fixture(name + ".nft");
  return options;
}

TEST(RulesetDoctor6Real, DockersIpOnlyTablesNeverSeeIpv6) {
  json docker = json::parse(Fixture("docker.json"));
  auto options = WithListing("docker");
  // Control: Docker's FORWARD policy drop blocks the IPv4 forward.
  EXPECT_EQ(One(docker, Forward4AfterDnat(), options).verdict, ProbeVerdict::kBlocked);
  auto r = One(docker, Forward6AfterDnat(), options);
  EXPECT_EQ(r.verdict, ProbeVerdict::kPasses) << Describe(r);
  EXPECT_TRUE(r.traversed.empty());
}

// What Docker 20.10 with --ip6tables leaves in ip6tables (seen in tests/lab/test_dockerd.sh):
// FORWARD with policy drop and no rule, Docker's isolation chains, no DOCKER-USER.
json Docker2010Ip6tables() {
  return json::parse(R"({"nftables": [
    {"table": {"family": "ip6", "name": "filter"}},
    {"chain": {"family": "ip6", "table": "filter", "name": "DOCKER"}},
    {"chain": {"family": "ip6", "table": "filter", "name": "DOCKER-ISOLATION-STAGE-1"}},
    {"chain": {"family": "ip6", "table": "filter", "name": "FORWARD", "type": "filter",
               "hook": "forward", "prio": 0, "policy": "drop"}}]})");
}

TEST(RulesetDoctor6Real, Docker2010sIp6tablesPolicyDropNamesIp6tablesForward) {
  auto r = One(Docker2010Ip6tables(), Forward6AfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  EXPECT_NE(r.findings.front().fix.find("`ip6tables -I FORWARD -i uplink -o nbr0"),
            std::string::npos)
      << r.findings.front().fix;
  // Control: the same policy without Docker's chains is an admin's table: no Docker advice.
  json plain = Docker2010Ip6tables();
  plain["nftables"].erase(1);  // DOCKER
  plain["nftables"].erase(1);  // DOCKER-ISOLATION-STAGE-1
  auto admin = One(plain, Forward6AfterDnat());
  ASSERT_EQ(admin.verdict, ProbeVerdict::kBlocked) << Describe(admin);
  EXPECT_EQ(admin.findings.front().fix.find("Docker"), std::string::npos)
      << admin.findings.front().fix;
}

TEST(RulesetDoctor6Real, UfwsIp6FilterBlocksTheIpv6Forward) {
  json ufw = json::parse(Fixture("ufw.json"));
  auto options = WithListing("ufw");
  auto r = One(ufw, Forward6AfterDnat(), options);
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  for (const auto& f : r.findings) EXPECT_EQ(f.family, "ip6") << FormatFinding(f);
  EXPECT_NE(r.findings.front().fix.find("ufw route allow"), std::string::npos)
      << r.findings.front().fix;
  for (const auto& chain : r.traversed) EXPECT_EQ(chain.rfind("ip6 ", 0), 0u) << chain;
}

// ufw's user rules as virtnat adds them (`ufw route allow in/out on nbr0`), in ip6tables.
void AddUfw6RouteAllow(json& ruleset) {
  for (const char* direction : {"iifname", "oifname"}) {
    ruleset["nftables"].push_back(json::parse(fmt::format(
        R"({{"rule": {{"family": "ip6", "table": "filter", "chain": "ufw6-user-forward",
              "expr": [{{"match": {{"op": "==", "left": {{"meta": {{"key": "{}"}}}},
                                   "right": "nbr0"}}}}, {{"accept": null}}]}}}})",
        direction)));
  }
}

TEST(RulesetDoctor6Real, UfwsRoutingHeaderDropNeverMatchesTheProbes) {
  json ufw = json::parse(Fixture("ufw.json"));
  auto options = WithListing("ufw");
  ASSERT_NE(options.nft_listing.find("rt type 0"), std::string::npos);
  AddUfw6RouteAllow(ufw);
  // before6.rules' `-m rt --rt-type 0 -j DROP` comes first; a packet without a routing header
  // passes it, so the forward and the answer reach the route allows.
  for (const auto& probe : {Forward6AfterDnat(), Reply6()}) {
    auto r = One(ufw, probe, options);
    EXPECT_EQ(r.verdict, ProbeVerdict::kPasses) << Describe(r);
    EXPECT_TRUE(r.findings.empty()) << Describe(r);
  }
  // Control: another interface is not in the route allows; ufw's policy drop blocks it.
  RulesetProbe other = Forward6AfterDnat();
  other.oifname = "nbr9";
  EXPECT_EQ(One(ufw, other, options).verdict, ProbeVerdict::kBlocked);
}

TEST(RulesetDoctor6Real, UfwsNeighbourDiscoveryAcceptsAreEvaluatedFromTheListing) {
  json ufw = json::parse(Fixture("ufw.json"));
  auto options = WithListing("ufw");
  // before6.rules: `-p ipv6-icmp --icmpv6-type router-solicitation -m hl --hl-eq 255 -j
  // ACCEPT` (xt matches icmp6 and hl, translated in the listing), before the policy drop.
  for (uint8_t type : {133, 135, 136}) {
    auto r = One(ufw, Icmpv6FromGuest(type), options);
    EXPECT_EQ(r.verdict, ProbeVerdict::kPasses) << int(type) << " " << Describe(r);
  }
  // Control: without the listing the same rules cannot be read, so the policy may block.
  EXPECT_EQ(One(ufw, Icmpv6FromGuest(133)).verdict, ProbeVerdict::kMayBlock);
  // Control: DHCPv6 has no accept there; ufw's policy drop blocks it.
  EXPECT_EQ(One(ufw, FromGuest("ip6", "udp", 547), options).verdict, ProbeVerdict::kBlocked);
}

TEST(RulesetDoctor6Real, FirewalldsBogonRejectConcernsOnlyItsPrefixes) {
  json firewalld = json::parse(Fixture("firewalld.json"));
  auto options = WithListing("firewalld");
  // filter_FORWARD first rejects IPv4-mapped and 6to4 destinations, then dispatches by zone
  // (nbr0 is in none here, so the public zone rejects the rest).
  RulesetProbe out = Reply6();
  out.ct_state = "new";
  out.ct_status_dnat = false;
  out.sport.reset();
  out.dport = 443;
  out.daddr = "2001:4860:4860::8888";  // what the engine's egress probe asks about
  auto r = One(firewalld, out, options);
  ASSERT_FALSE(r.findings.empty()) << Describe(r);
  EXPECT_EQ(r.findings.front().chain, "filter_FWD_public") << Describe(r);
  // Control: a 6to4 address of a private network meets the bogon reject.
  out.daddr = "2002:c0a8::1";
  EXPECT_EQ(One(firewalld, out, options).findings.front().chain, "filter_FORWARD");
  bool bogon_named = false;
  for (const auto& f : r.findings) bogon_named = bogon_named || f.chain == "filter_FORWARD";
  EXPECT_FALSE(bogon_named) << Describe(r);
}

TEST(RulesetDoctor6Real, FirewalldWithTheBridgeInNoZone) {
  json firewalld = json::parse(Fixture("firewalld.json"));
  auto options = WithListing("firewalld");
  // As in IPv4: firewalld accepts `ct status dnat` in filter_FORWARD, so the forward passes;
  // the control, the same packet routed (not DNATed), meets the default zone's reject.
  auto forward = One(firewalld, Forward6AfterDnat(), options);
  EXPECT_EQ(forward.verdict, ProbeVerdict::kPasses) << Describe(forward);
  RulesetProbe routed = Forward6AfterDnat();
  routed.ct_status_dnat = false;
  auto r = One(firewalld, routed, options);
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  EXPECT_EQ(r.findings.front().chain, "filter_FWD_public");
  auto dhcp6 = One(firewalld, FromGuest("ip6", "udp", 547), options);
  ASSERT_EQ(dhcp6.verdict, ProbeVerdict::kBlocked) << Describe(dhcp6);
  EXPECT_EQ(dhcp6.findings.front().chain, "filter_IN_public");
  EXPECT_NE(dhcp6.findings.front().fix.find("dhcpv6"), std::string::npos)
      << dhcp6.findings.front().fix;
  // firewalld's IPv6 reverse path filter (`fib saddr . mark . iif oif missing drop`): the
  // client's packet before DNAT passes when the route back leaves by the uplink, is dropped
  // when it does not, and may be blocked (never "fine") when the probe cannot say.
  RulesetProbe before = Forward6AfterDnat();
  before.hook = "prerouting";
  before.oifname.clear();
  before.daddr = "2001:db8:100::1";
  before.ct_status_dnat = false;
  before.fib_daddr_type = "local";
  before.reverse_path_ok = true;
  auto rpf = One(firewalld, before, options);
  EXPECT_EQ(rpf.verdict, ProbeVerdict::kPasses) << Describe(rpf);
  before.reverse_path_ok = false;
  rpf = One(firewalld, before, options);
  ASSERT_EQ(rpf.verdict, ProbeVerdict::kBlocked) << Describe(rpf);
  EXPECT_EQ(rpf.findings.front().chain, "filter_PREROUTING");
  before.reverse_path_ok.reset();
  rpf = One(firewalld, before, options);
  EXPECT_EQ(rpf.verdict, ProbeVerdict::kMayBlock) << Describe(rpf);
  before.family = "ip";  // control: firewalld filters only IPv6 by reverse path
  before.saddr = "198.51.100.10";
  before.daddr = "198.51.100.1";
  EXPECT_EQ(One(firewalld, before, options).verdict, ProbeVerdict::kPasses);
  auto ns = One(firewalld, Icmpv6FromGuest(135), options);
  EXPECT_EQ(ns.verdict, ProbeVerdict::kPasses) << Describe(ns);
  auto rs = One(firewalld, Icmpv6FromGuest(133), options);
  EXPECT_EQ(rs.verdict, ProbeVerdict::kPasses) << Describe(rs);
}

}  // namespace
}  // namespace virtnat
