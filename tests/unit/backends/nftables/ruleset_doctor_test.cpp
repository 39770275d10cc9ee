#include "backends/nftables/ruleset_doctor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

// The fixtures are real rulesets: tests/data/rulesets/{docker,firewalld,ufw}.{json,nft} were
// dumped by tests/lab/coexist_smoke.sh from a namespace where the daemon really ran (a bridge
// nbr0 10.1.1.1/24 in no firewalld zone, an uplink 198.51.100.1/24); libvirt-nat.json is
// libvirt's NAT ruleset (libvirt-nat.nft, as libvirt's golden files pin it) loaded by nft.

namespace virtnat {
namespace {

using nlohmann::json;

std::filesystem::path RulesetsDir() {
  return std::filesystem::path(__FILE__).parent_path() / "../../../data/rulesets";
}

std::string ReadFixture(const std::string& name) {
  std::ifstream in(RulesetsDir() / name);
  EXPECT_TRUE(in.good()) << "missing fixture " << (RulesetsDir() / name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json LoadJson(const std::string& name) {
  return json::parse(ReadFixture(name));
}

json Empty() {
  return json::parse(R"({"nftables": [{"metainfo": {"json_schema_version": 1}}]})");
}

// The lab's topology (lab/lab.sh): LAN client c1 198.51.100.10 on uplink, guest lxdev01
// 10.1.1.28 on bridge nbr0 (host 10.1.1.1).
RulesetProbe ForwardAfterDnat() {
  RulesetProbe p;
  p.label = "forward tcp 198.51.100.1:2222 -> lxdev01 10.1.1.28:22 after DNAT";
  p.hook = "forward";
  p.iifname = "uplink";
  p.oifname = "nbr0";
  p.saddr = "198.51.100.10";
  p.daddr = "10.1.1.28";
  p.protocol = "tcp";
  p.sport = 40000;
  p.dport = 22;
  p.ct_state = "new";
  p.ct_status_dnat = true;
  return p;
}

RulesetProbe RoutedToGuest() {
  RulesetProbe p = ForwardAfterDnat();
  p.label = "forward tcp 198.51.100.10 -> 10.1.1.28:22 (routed, no DNAT)";
  p.ct_status_dnat = false;
  return p;
}

RulesetProbe GuestEgress() {
  RulesetProbe p;
  p.label = "guest egress from nbr0";
  p.hook = "forward";
  p.iifname = "nbr0";
  p.oifname = "uplink";
  p.saddr = "10.1.1.28";
  p.daddr = "198.51.100.10";
  p.protocol = "tcp";
  p.sport = 40000;
  p.dport = 7000;
  p.ct_state = "new";
  p.ct_status_dnat = false;
  return p;
}

RulesetProbe DhcpFromGuests() {
  RulesetProbe p;
  p.label = "DHCP from guests on nbr0";
  p.hook = "input";
  p.iifname = "nbr0";
  p.saddr = "0.0.0.0";
  p.daddr = "255.255.255.255";
  p.protocol = "udp";
  p.sport = 68;
  p.dport = 67;
  p.ct_state = "new";
  p.ct_status_dnat = false;
  p.fib_daddr_type = "broadcast";
  return p;
}

RulesetProbe DnsFromGuests() {
  RulesetProbe p;
  p.label = "DNS from guests on nbr0";
  p.hook = "input";
  p.iifname = "nbr0";
  p.saddr = "10.1.1.28";
  p.daddr = "10.1.1.1";
  p.protocol = "udp";
  p.sport = 40000;
  p.dport = 53;
  p.ct_state = "new";
  p.ct_status_dnat = false;
  p.fib_daddr_type = "local";
  return p;
}

RulesetProbeResult One(const json& ruleset, const RulesetProbe& probe,
                       const RulesetDoctorOptions& options = {}) {
  auto results = DiagnoseRuleset(ruleset, {probe}, options);
  EXPECT_EQ(results.size(), 1u);
  return results.at(0);
}

std::string Describe(const RulesetProbeResult& r) {
  std::string out = std::string(ProbeVerdictName(r.verdict)) + "\n";
  for (const auto& f : r.findings) out += FormatFinding(f) + "\n";
  for (const auto& t : r.traversed) out += "  traversed " + t + "\n";
  return out;
}

// ------------------------------------------------------------------ Docker

TEST(RulesetDoctorDocker, ForwardPolicyDropBlocksAForward) {
  auto r = One(LoadJson("docker.json"), ForwardAfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  ASSERT_EQ(r.findings.size(), 1u) << Describe(r);
  const RulesetFinding& f = r.findings[0];
  EXPECT_EQ(f.family, "ip");
  EXPECT_EQ(f.table, "filter");
  EXPECT_EQ(f.chain, "FORWARD");
  EXPECT_EQ(f.base_chain, "FORWARD");
  EXPECT_FALSE(f.handle.has_value());
  EXPECT_EQ(f.rule, "policy drop");
  EXPECT_NE(f.fix.find("DOCKER-USER"), std::string::npos) << f.fix;
  EXPECT_NE(f.fix.find("iptables -I DOCKER-USER -i uplink -o nbr0 -d 10.1.1.28 -p tcp --dport 22 "
                       "-m conntrack --ctstate DNAT -j ACCEPT"),
            std::string::npos)
      << f.fix;
  EXPECT_NE(FormatFinding(f).find("blocked: forward tcp 198.51.100.1:2222"), std::string::npos);
}

TEST(RulesetDoctorDocker, ControlEmptyRulesetPasses) {
  auto r = One(Empty(), ForwardAfterDnat());
  EXPECT_EQ(r.verdict, ProbeVerdict::kPasses) << Describe(r);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(r.traversed.empty());
}

TEST(RulesetDoctorDocker, GuestEgressBlockedButHostInputPasses) {
  json docker = LoadJson("docker.json");
  EXPECT_EQ(One(docker, GuestEgress()).verdict, ProbeVerdict::kBlocked);
  // Docker leaves INPUT alone: DHCP and DNS to the host pass.
  EXPECT_EQ(One(docker, DhcpFromGuests()).verdict, ProbeVerdict::kPasses);
  EXPECT_EQ(One(docker, DnsFromGuests()).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctorDocker, AnAcceptInDockerUserIsTheFix) {
  json docker = LoadJson("docker.json");
  // iptables -I DOCKER-USER -i uplink -o nbr0 -j ACCEPT, as nft's JSON has it.
  json rule = json::parse(R"({"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER",
    "handle": 900, "expr": [
      {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "uplink"}},
      {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "nbr0"}},
      {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}})");
  auto& items = docker["nftables"];
  // Rules of a chain are in order: put it before DOCKER-USER's "return".
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (it->contains("rule") && (*it)["rule"]["chain"] == "DOCKER-USER") {
      items.insert(it, rule);
      break;
    }
  }
  EXPECT_EQ(One(docker, ForwardAfterDnat()).verdict, ProbeVerdict::kPasses);
  EXPECT_EQ(One(docker, GuestEgress()).verdict, ProbeVerdict::kBlocked);  // the other way still
}

// ------------------------------------------------------------------ firewalld

TEST(RulesetDoctorFirewalld, BlocksAForwardToAGuest) {
  auto r = One(LoadJson("firewalld.json"), RoutedToGuest());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  ASSERT_EQ(r.findings.size(), 1u) << Describe(r);
  const RulesetFinding& f = r.findings[0];
  EXPECT_EQ(f.family, "inet");
  EXPECT_EQ(f.table, "firewalld");
  EXPECT_EQ(f.base_chain, "filter_FORWARD");
  EXPECT_EQ(f.chain, "filter_FWD_public");  // the default zone takes an interface in no zone
  ASSERT_TRUE(f.handle.has_value());
  EXPECT_EQ(f.rule, "reject with icmpx admin-prohibited");
  EXPECT_NE(f.fix.find("firewall-cmd"), std::string::npos) << f.fix;
  EXPECT_EQ(One(LoadJson("firewalld.json"), GuestEgress()).verdict, ProbeVerdict::kBlocked);
}

TEST(RulesetDoctorFirewalld, DnatedConnectionsPassItsForwardChain) {
  // firewalld 1.x accepts `ct status dnat` in filter_FORWARD: a forward itself passes...
  EXPECT_EQ(One(LoadJson("firewalld.json"), ForwardAfterDnat()).verdict, ProbeVerdict::kPasses);
  // ...and when the probe cannot say whether the packet was DNATed, it may be blocked.
  RulesetProbe unsure = ForwardAfterDnat();
  unsure.ct_status_dnat.reset();
  auto r = One(LoadJson("firewalld.json"), unsure);
  ASSERT_EQ(r.verdict, ProbeVerdict::kMayBlock) << Describe(r);
  EXPECT_NE(r.findings.at(0).reason.find("ct status"), std::string::npos) << Describe(r);
}

TEST(RulesetDoctorFirewalld, BlocksDhcpAndDnsOnABridgeInNoZone) {
  json fw = LoadJson("firewalld.json");
  for (const RulesetProbe& probe : {DhcpFromGuests(), DnsFromGuests()}) {
    auto r = One(fw, probe);
    ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << probe.label << "\n" << Describe(r);
    ASSERT_EQ(r.findings.size(), 1u);
    EXPECT_EQ(r.findings[0].base_chain, "filter_INPUT");
    EXPECT_EQ(r.findings[0].chain, "filter_IN_public");
    EXPECT_EQ(r.findings[0].rule, "reject with icmpx admin-prohibited");
  }
  // Control: an established reply passes firewalld's input.
  RulesetProbe reply = DnsFromGuests();
  reply.ct_state = "established";
  EXPECT_EQ(One(fw, reply).verdict, ProbeVerdict::kPasses);
  // Control: ssh to the host is what zone public allows.
  RulesetProbe ssh = DnsFromGuests();
  ssh.protocol = "tcp";
  ssh.dport = 22;
  EXPECT_EQ(One(fw, ssh).verdict, ProbeVerdict::kPasses) << Describe(One(fw, ssh));
}

// ------------------------------------------------------------------ ufw

TEST(RulesetDoctorUfw, BlocksForward) {
  RulesetDoctorOptions with_listing;
  with_listing.nft_listing = ReadFixture("ufw.nft");
  json ufw = LoadJson("ufw.json");
  for (const RulesetProbe& probe : {ForwardAfterDnat(), GuestEgress()}) {
    auto r = One(ufw, probe, with_listing);
    ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << probe.label << "\n" << Describe(r);
    ASSERT_EQ(r.findings.size(), 1u);
    EXPECT_EQ(r.findings[0].table, "filter");
    EXPECT_EQ(r.findings[0].family, "ip");
    EXPECT_EQ(r.findings[0].chain, "FORWARD");
    EXPECT_EQ(r.findings[0].rule, "policy drop");
    EXPECT_NE(r.findings[0].fix.find("ufw route allow in on"), std::string::npos);
  }
  // Control: an established connection passes (ufw-before-forward accepts it).
  RulesetProbe established = ForwardAfterDnat();
  established.ct_state = "established";
  EXPECT_EQ(One(ufw, established, with_listing).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctorUfw, WithoutTheListingXtMatchesMayBlock) {
  // nft's JSON names iptables' conntrack match without its states: the doctor cannot tell
  // whether ufw's "related,established accept" takes the packet, so it says "may block".
  auto r = One(LoadJson("ufw.json"), ForwardAfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kMayBlock) << Describe(r);
  EXPECT_EQ(r.findings.at(0).rule, "policy drop");
  EXPECT_NE(r.findings.at(0).reason.find("xt match conntrack"), std::string::npos) << Describe(r);
}

TEST(RulesetDoctorUfw, BlocksDhcpFromGuests) {
  RulesetDoctorOptions with_listing;
  with_listing.nft_listing = ReadFixture("ufw.nft");
  auto r = One(LoadJson("ufw.json"), DhcpFromGuests(), with_listing);
  EXPECT_NE(r.verdict, ProbeVerdict::kPasses) << Describe(r);
}

// ------------------------------------------------------------------ libvirt (nftables backend)

RulesetProbe LibvirtInbound() {
  RulesetProbe p;
  p.label = "forward tcp -> 192.168.122.10:22 after DNAT";
  p.hook = "forward";
  p.iifname = "uplink";
  p.oifname = "virbr0";
  p.saddr = "198.51.100.10";
  p.daddr = "192.168.122.10";
  p.protocol = "tcp";
  p.sport = 40000;
  p.dport = 22;
  p.ct_state = "new";
  p.ct_status_dnat = true;
  return p;
}

TEST(RulesetDoctorLibvirt, RejectsANewInboundForwardInGuestInput) {
  auto r = One(LoadJson("libvirt-nat.json"), LibvirtInbound());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  ASSERT_EQ(r.findings.size(), 1u) << Describe(r);
  const RulesetFinding& f = r.findings[0];
  EXPECT_EQ(f.family, "ip");
  EXPECT_EQ(f.table, "libvirt_network");
  EXPECT_EQ(f.base_chain, "forward");
  EXPECT_EQ(f.chain, "guest_input");
  ASSERT_TRUE(f.handle.has_value());
  EXPECT_EQ(f.rule, "oif \"virbr0\" counter reject");
  EXPECT_NE(f.fix.find("nft insert rule ip libvirt_network guest_input"), std::string::npos)
      << f.fix;
  // The IPv6 table is there but not traversed by an IPv4 packet.
  EXPECT_EQ(r.traversed, std::vector<std::string>{"ip libvirt_network forward"});
}

TEST(RulesetDoctorLibvirt, PassesEstablishedAndGuestEgress) {
  json lv = LoadJson("libvirt-nat.json");
  RulesetProbe established = LibvirtInbound();
  established.ct_state = "established";
  EXPECT_EQ(One(lv, established).verdict, ProbeVerdict::kPasses);
  RulesetProbe egress;
  egress.label = "guest egress from virbr0";
  egress.hook = "forward";
  egress.iifname = "virbr0";
  egress.oifname = "uplink";
  egress.saddr = "192.168.122.10";
  egress.daddr = "198.51.100.10";
  egress.dport = 7000;
  EXPECT_EQ(One(lv, egress).verdict, ProbeVerdict::kPasses);
  // Control: a guest with an address outside libvirt's subnet is rejected in guest_output.
  egress.saddr = "10.9.9.9";
  auto r = One(lv, egress);
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  EXPECT_EQ(r.findings.at(0).chain, "guest_output");
}

TEST(RulesetDoctorLibvirt, TheShimLetsTheForwardPass) {
  json lv = LoadJson("libvirt-nat.json");
  json shim = json::parse(R"({"rule": {"family": "ip", "table": "libvirt_network",
    "chain": "guest_input", "handle": 999, "expr": [
      {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
      {"accept": null}]}})");
  auto& items = lv["nftables"];
  for (auto it = items.begin(); it != items.end(); ++it) {
    if (it->contains("rule") && (*it)["rule"]["chain"] == "guest_input") {
      items.insert(it, shim);
      break;
    }
  }
  EXPECT_EQ(One(lv, LibvirtInbound()).verdict, ProbeVerdict::kPasses);
  RulesetProbe routed = LibvirtInbound();
  routed.ct_status_dnat = false;
  EXPECT_EQ(One(lv, routed).verdict, ProbeVerdict::kBlocked);
}

// ------------------------------------------------------------------ semantics, synthetic

json Ruleset(const std::string& chains_and_rules) {
  return json::parse(R"({"nftables": [{"metainfo": {"json_schema_version": 1}},)" +
                     chains_and_rules + "]}");
}

const char* kAdminForward = R"(
  {"table": {"family": "inet", "name": "admin", "handle": 1}},
  {"chain": {"family": "inet", "table": "admin", "name": "fwd", "handle": 1, "type": "filter",
             "hook": "forward", "prio": 0, "policy": "accept"}})";

std::string Rule(const std::string& chain, int handle, const std::string& expr,
                 const std::string& table = "admin", const std::string& family = "inet") {
  return ",{\"rule\": {\"family\": \"" + family + "\", \"table\": \"" + table +
         "\", \"chain\": \"" + chain + "\", \"handle\": " + std::to_string(handle) +
         ", \"expr\": [" + expr + "]}}";
}

TEST(RulesetDoctorSemantics, UnknownMatchWithDropMayBlock) {
  json rs = Ruleset(std::string(kAdminForward) +
                    Rule("fwd", 5,
                         R"({"match": {"op": "==", "left": {"meta": {"key": "mark"}},
                             "right": 1}}, {"counter": null}, {"drop": null})"));
  auto r = One(rs, ForwardAfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kMayBlock) << Describe(r);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].verdict, ProbeVerdict::kMayBlock);
  EXPECT_EQ(r.findings[0].handle, 5u);
  EXPECT_EQ(r.findings[0].rule, "meta mark 1 counter drop");
  EXPECT_EQ(r.findings[0].reason, "meta mark");
  EXPECT_NE(FormatFinding(r.findings[0]).find("may_block: "), std::string::npos);
}

TEST(RulesetDoctorSemantics, UnknownAcceptBeforeADropMakesItMayBlock) {
  json rs = Ruleset(std::string(kAdminForward) +
                    Rule("fwd", 5, R"({"match": {"op": "==", "left": {"fib": {"result": "oif",
                         "flags": ["saddr", "iif"]}}, "right": false}}, {"accept": null})") +
                    Rule("fwd", 6, R"({"drop": null})"));
  auto r = One(rs, ForwardAfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kMayBlock) << Describe(r);
  EXPECT_EQ(r.findings.at(0).handle, 6u);
}

TEST(RulesetDoctorSemantics, UnknownDropBeforeASureDropIsBlocked) {
  json rs = Ruleset(std::string(kAdminForward) +
                    Rule("fwd", 5, R"({"limit": {"rate": 3, "per": "minute"}}, {"drop": null})") +
                    Rule("fwd", 6, R"({"reject": null})"));
  auto r = One(rs, ForwardAfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  EXPECT_EQ(r.findings.at(0).handle, 6u);  // the rule that surely drops it
  EXPECT_EQ(r.findings.at(0).rule, "reject");
}

TEST(RulesetDoctorSemantics, AcceptInOneBaseChainDoesNotStopAnother) {
  json rs = Ruleset(std::string(kAdminForward) + Rule("fwd", 2, R"({"accept": null})") + R"(,
      {"table": {"family": "ip", "name": "other", "handle": 2}},
      {"chain": {"family": "ip", "table": "other", "name": "late", "handle": 1, "type": "filter",
                 "hook": "forward", "prio": 10, "policy": "drop"}},
      {"chain": {"family": "ip", "table": "other", "name": "early", "handle": 2, "type": "filter",
                 "hook": "forward", "prio": -10, "policy": "accept"}})" +
                    Rule("early", 3, R"({"accept": null})", "other", "ip"));
  auto r = One(rs, ForwardAfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].table, "other");
  EXPECT_EQ(r.findings[0].chain, "late");
  EXPECT_EQ(r.traversed,
            (std::vector<std::string>{"ip other early", "inet admin fwd", "ip other late"}));
}

TEST(RulesetDoctorSemantics, OwnTableIsSkipped) {
  json rs = Ruleset(std::string(kAdminForward) + Rule("fwd", 2, R"({"drop": null})"));
  RulesetDoctorOptions options;
  options.own_table = "admin";
  EXPECT_EQ(One(rs, ForwardAfterDnat(), options).verdict, ProbeVerdict::kPasses);
  EXPECT_EQ(One(rs, ForwardAfterDnat()).verdict, ProbeVerdict::kBlocked);
}

TEST(RulesetDoctorSemantics, WildcardsPrefixSetsAndPortRanges) {
  std::string drop_rule = R"(
      {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "nb*"}},
      {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                 "right": {"set": [{"prefix": {"addr": "10.1.0.0", "len": 16}},
                                   {"prefix": {"addr": "192.168.0.0", "len": 16}}]}}},
      {"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}},
                 "right": {"set": [80, {"range": [20, 23]}]}}},
      {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["new", "invalid"]}},
      {"drop": null})";
  json rs = Ruleset(std::string(kAdminForward) + Rule("fwd", 7, drop_rule));
  auto r = One(rs, ForwardAfterDnat());
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  EXPECT_EQ(r.findings.at(0).rule,
            "oifname \"nb*\" ip daddr { 10.1.0.0/16, 192.168.0.0/16 } th dport { 80, 20-23 } "
            "ct state new,invalid drop");
  // Each condition is a control: change one, and the rule no longer drops the probe.
  RulesetProbe p = ForwardAfterDnat();
  p.oifname = "virbr0";
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kPasses);
  p = ForwardAfterDnat();
  p.daddr = "10.2.0.5";
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kPasses);
  p = ForwardAfterDnat();
  p.dport = 24;
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kPasses);
  p = ForwardAfterDnat();
  p.ct_state = "established";
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kPasses);
  p = ForwardAfterDnat();
  p.dport.reset();  // unknown port: unsure
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kMayBlock);
}

TEST(RulesetDoctorSemantics, JumpGotoReturnAndNamedSets) {
  std::string rules = std::string(kAdminForward) + R"(,
      {"set": {"family": "inet", "table": "admin", "name": "guests", "type": "ipv4_addr",
               "handle": 9, "flags": ["interval"],
               "elem": [{"prefix": {"addr": "10.1.1.0", "len": 24}}]}},
      {"chain": {"family": "inet", "table": "admin", "name": "check", "handle": 2}},
      {"chain": {"family": "inet", "table": "admin", "name": "deny", "handle": 3}})" +
                      Rule("fwd", 10, R"({"jump": {"target": "check"}})") +
                      Rule("fwd", 11, R"({"accept": null})") +
                      Rule("check", 12, R"({"match": {"op": "==", "left": {"payload":
                           {"protocol": "ip", "field": "daddr"}}, "right": "@guests"}},
                           {"goto": {"target": "deny"}})") +
                      Rule("deny", 13, R"({"match": {"op": "==", "left": {"payload":
                           {"protocol": "tcp", "field": "dport"}}, "right": 22}},
                           {"return": null})") +
                      Rule("deny", 14, R"({"reject": {"type": "icmpx",
                           "expr": "admin-prohibited"}})");
  json rs = Ruleset(rules);
  RulesetProbe p = ForwardAfterDnat();
  p.dport = 80;
  auto r = One(rs, p);
  ASSERT_EQ(r.verdict, ProbeVerdict::kBlocked) << Describe(r);
  EXPECT_EQ(r.findings.at(0).chain, "deny");
  EXPECT_EQ(r.findings.at(0).base_chain, "fwd");
  EXPECT_EQ(r.findings.at(0).rule, "reject with icmpx admin-prohibited");
  // A return in a chain entered by goto goes back to fwd (the caller of check): accepted.
  EXPECT_EQ(One(rs, ForwardAfterDnat()).verdict, ProbeVerdict::kPasses);
  // Not in @guests: check falls through, fwd accepts.
  p.daddr = "10.9.9.9";
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctorSemantics, VerdictMaps) {
  json rs = Ruleset(std::string(kAdminForward) + Rule("fwd", 20, R"({"vmap": {
      "key": {"meta": {"key": "iifname"}},
      "data": {"set": [["lo", {"accept": null}], ["uplink", {"drop": null}]]}}})"));
  EXPECT_EQ(One(rs, ForwardAfterDnat()).verdict, ProbeVerdict::kBlocked);
  EXPECT_EQ(One(rs, GuestEgress()).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctorSemantics, NatChainsSeeOnlyNewConnectionsAndOtherFamiliesAreIgnored) {
  json rs = Ruleset(R"(
      {"table": {"family": "ip", "name": "n", "handle": 1}},
      {"chain": {"family": "ip", "table": "n", "name": "post", "handle": 1, "type": "nat",
                 "hook": "postrouting", "prio": 100, "policy": "accept"}},
      {"table": {"family": "ip6", "name": "six", "handle": 2}},
      {"chain": {"family": "ip6", "table": "six", "name": "post", "handle": 1, "type": "filter",
                 "hook": "postrouting", "prio": 0, "policy": "drop"}})" +
                    Rule("post", 2, R"({"drop": null})", "n", "ip"));
  RulesetProbe p = GuestEgress();
  p.hook = "postrouting";
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kBlocked);
  p.ct_state = "established";
  EXPECT_EQ(One(rs, p).verdict, ProbeVerdict::kPasses);
}

TEST(RulesetDoctorSemantics, RejectsWhatIsNotNftJson) {
  EXPECT_THROW(DiagnoseRuleset(json::parse(R"({"tables": []})"), {ForwardAfterDnat()}),
               std::invalid_argument);
}

TEST(RulesetDoctorSemantics, RenderRuleExpressions) {
  EXPECT_EQ(RenderRuleExpressions(json::parse(R"([
      {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                 "right": {"prefix": {"addr": "127.0.0.0", "len": 8}}}},
      {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}},
                 "right": {"set": ["icmp", "ipv6-icmp"]}}},
      {"counter": {"packets": 3, "bytes": 4}}, {"jump": {"target": "DOCKER"}}])")),
            "ip daddr != 127.0.0.0/8 meta l4proto { icmp, ipv6-icmp } counter jump DOCKER");
}

}  // namespace
}  // namespace virtnat
