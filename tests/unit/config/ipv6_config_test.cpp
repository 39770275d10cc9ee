// IPv6 in the config (issue 14): the dual-stack keys of settings, networks and hosts, the
// families a forward opens on, and their bad input.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "config/forward_spec.h"
#include "config/validate.h"

namespace virtnat {
namespace {

// A dual-stack network with a derived (lxdev01) and a written (lxdev02) host address6, an
// IPv4-only network beside it, and one forward to the dual-stack host.
const std::string kDualStack = R"([settings]
table = "virtnat"
public_address = "198.51.100.1"
public_address6 = "2001:db8:100::1"
vm_lifecycle = "ignore"

[[network]]
name = "nat_bridge"
mode = "nat"
provider = "external"
bridge = "nbr0"
address = "10.1.1.1/24"
address6 = "fd00:77::1/64"
dhcp_range = "10.1.1.100-10.1.1.254"
dhcp_range6 = "fd00:77::100-fd00:77::1ff"
nat6 = true
domain = "devops.test"
mac_prefix = "02:FF:0A:0A:06"

[[network.host]]
name = "lxdev01"
address = "10.1.1.28"
mac = "02:FF:0A:0A:06:1C"

[[network.host]]
name = "lxdev02"
address = "10.1.1.29"
address6 = "fd00:77::29"

[[network]]
name = "v4only"
mode = "nat"
provider = "external"
bridge = "nbr1"
address = "10.2.2.1/24"

[[network.host]]
name = "old"
address = "10.2.2.10"

[[forward]]
host = "lxdev01"
port = "2222"
to_port = "22"
source = ["198.51.100.0/24", "2001:db8:1::/48"]
)";

Config Parse(const std::string& text, Diagnostics& diagnostics, const std::string& extra = "") {
  std::vector<ConfigSource> sources{{"virtnat.toml", text}};
  if (!extra.empty()) sources.push_back({"conf.d/50-cli.toml", extra});
  return ParseConfig(sources, diagnostics);
}

std::string Errors(const Diagnostics& diagnostics) {
  return FormatErrors(diagnostics);
}

std::string Warnings(const Diagnostics& diagnostics) {
  std::string text;
  for (const auto& warning : diagnostics.warnings()) text += warning.ToString() + "\n";
  return text;
}

// kDualStack with `replace` replaced by `with` (which must be there).
std::string Edited(const std::string& replace, const std::string& with) {
  std::string text = kDualStack;
  auto position = text.find(replace);
  EXPECT_NE(position, std::string::npos) << replace;
  if (position != std::string::npos) text.replace(position, replace.size(), with);
  return text;
}

std::string Text(const std::optional<Ipv6Address>& address) {
  return address ? address->ToString() : "-";
}

TEST(Ipv6Config, ParsesADualStackNetwork) {
  Diagnostics diagnostics;
  Config config = Parse(kDualStack, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  const Network& network = config.networks.at(0);
  ASSERT_TRUE(network.DualStack());
  EXPECT_EQ(network.address6->ToString(), "fd00:77::1/64");
  EXPECT_EQ(network.address6->Subnet().ToString(), "fd00:77::/64");
  EXPECT_EQ(network.dhcp_range6->ToString(), "fd00:77::100-fd00:77::1ff");
  EXPECT_TRUE(network.nat6);
  // Derived: the prefix + the IPv4 address's last octet (28 = 0x1c).
  EXPECT_EQ(Text(network.hosts.at(0).address6), "fd00:77::1c");
  EXPECT_TRUE(network.hosts.at(0).address6_derived);
  EXPECT_EQ(Text(network.hosts.at(1).address6), "fd00:77::29");
  EXPECT_FALSE(network.hosts.at(1).address6_derived);
  // The IPv4-only network beside it gets no IPv6.
  EXPECT_FALSE(config.networks.at(1).DualStack());
  EXPECT_FALSE(config.networks.at(1).hosts.at(0).address6.has_value());
  EXPECT_EQ(Text(config.settings.public_address6), "2001:db8:100::1");
  EXPECT_TRUE(config.settings.has_public_address6);

  const Forward& forward = config.forwards.at(0);
  EXPECT_EQ(forward.target.ToString(), "10.1.1.28");
  EXPECT_EQ(Text(forward.target6), "fd00:77::1c");
  EXPECT_TRUE(forward.open4);
  EXPECT_TRUE(forward.open6);
  EXPECT_EQ(forward.listen->ToString(), "198.51.100.1");
  EXPECT_EQ(Text(forward.listen6), "2001:db8:100::1");
  ASSERT_EQ(forward.sources.size(), 1u);
  EXPECT_EQ(forward.sources[0].ToString(), "198.51.100.0/24");
  ASSERT_EQ(forward.sources6.size(), 1u);
  EXPECT_EQ(forward.sources6[0].ToString(), "2001:db8:1::/48");
}

TEST(Ipv6Config, Nat6DefaultsToTrueAndCanBeOff) {
  Diagnostics defaulted;
  Config config = Parse(Edited("nat6 = true\n", ""), defaulted);
  ASSERT_FALSE(defaulted.HasErrors()) << Errors(defaulted);
  EXPECT_TRUE(config.networks.at(0).nat6);
  Diagnostics off;
  config = Parse(Edited("nat6 = true", "nat6 = false"), off);
  ASSERT_FALSE(off.HasErrors()) << Errors(off);
  EXPECT_FALSE(config.networks.at(0).nat6);
}

TEST(Ipv6Config, PublicAddress6Star) {
  Diagnostics diagnostics;
  Config config = Parse(Edited("\"2001:db8:100::1\"", "\"*\""), diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  EXPECT_TRUE(config.settings.has_public_address6);
  EXPECT_FALSE(config.settings.public_address6.has_value());
  EXPECT_TRUE(config.forwards.at(0).open6);
  EXPECT_FALSE(config.forwards.at(0).listen6.has_value());
}

struct FamilyCase {
  std::string name;
  std::string forward;  // the [[forward]] keys besides port
  bool open4, open6;
  std::string listen, listen6, target, target6, network;
};

void PrintTo(const FamilyCase& family, std::ostream* out) {
  *out << family.name;
}

class ForwardFamilies : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(ForwardFamilies, OpenWhatTheListenAddressAndTheTargetHave) {
  const FamilyCase& want = GetParam();
  Diagnostics diagnostics;
  Config config =
      Parse(kDualStack, diagnostics, "[[forward]]\n" + want.forward + "\nport = 9000\n");
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  const Forward& forward = config.forwards.at(1);
  EXPECT_EQ(forward.open4, want.open4);
  EXPECT_EQ(forward.open6, want.open6);
  EXPECT_EQ(forward.listen ? forward.listen->ToString() : "*", want.listen);
  EXPECT_EQ(forward.listen6 ? forward.listen6->ToString() : "*", want.listen6);
  EXPECT_EQ(forward.target.ToString(), want.target);
  EXPECT_EQ(Text(forward.target6), want.target6);
  EXPECT_EQ(forward.network, want.network);
  // Validating the validated config again changes nothing (forward add validates the
  // snapshot's forwards beside the new one).
  Config again = config;
  Diagnostics second;
  ValidateConfig(again, second);
  EXPECT_FALSE(second.HasErrors()) << Errors(second);
  EXPECT_TRUE(again.forwards.at(1).SameRule(forward));
  EXPECT_EQ(again.networks.at(0).hosts.at(0).address6, config.networks.at(0).hosts.at(0).address6);
}

INSTANTIATE_TEST_SUITE_P(
    Ipv6Config, ForwardFamilies,
    ::testing::Values(
        FamilyCase{"DualStackHostNoListen", "host = \"lxdev02\"", true, true, "198.51.100.1",
                   "2001:db8:100::1", "10.1.1.29", "fd00:77::29", "nat_bridge"},
        FamilyCase{"Ipv4OnlyHostNoListen", "host = \"old\"", true, false, "198.51.100.1", "*",
                   "10.2.2.10", "-", "v4only"},
        FamilyCase{"ListenIpv6", "host = \"lxdev01\"\nlisten = \"2001:db8:100::5\"", false, true,
                   "*", "2001:db8:100::5", "10.1.1.28", "fd00:77::1c", "nat_bridge"},
        FamilyCase{"ListenIpv4", "host = \"lxdev01\"\nlisten = \"198.51.100.7\"", true, false,
                   "198.51.100.7", "*", "10.1.1.28", "fd00:77::1c", "nat_bridge"},
        FamilyCase{"ListenStarDualStack", "host = \"lxdev01\"\nlisten = \"*\"", true, true, "*",
                   "*", "10.1.1.28", "fd00:77::1c", "nat_bridge"},
        FamilyCase{"ListenStarIpv4Only", "host = \"old\"\nlisten = \"*\"", true, false, "*", "*",
                   "10.2.2.10", "-", "v4only"},
        // Written as a host's IPv6 address: that host, in both families.
        FamilyCase{"TargetIsAHostsIpv6Address", "address = \"fd00:77::29\"", true, true,
                   "198.51.100.1", "2001:db8:100::1", "10.1.1.29", "fd00:77::29", "nat_bridge"},
        FamilyCase{"TargetIsAHostsIpv4Address", "address = \"10.1.1.28\"", true, true,
                   "198.51.100.1", "2001:db8:100::1", "10.1.1.28", "fd00:77::1c", "nat_bridge"},
        // An IPv6 address no host owns: IPv6 only.
        FamilyCase{"Ipv6OnlyTarget", "address = \"fd00:77::99\"", false, true, "*",
                   "2001:db8:100::1", "0.0.0.0", "fd00:77::99", "nat_bridge"},
        FamilyCase{"Ipv6OnlyTargetListenStar", "address = \"fd00:77::99\"\nlisten = \"*\"", false,
                   true, "*", "*", "0.0.0.0", "fd00:77::99", "nat_bridge"},
        FamilyCase{"Ipv6OnlyTargetOutsideNetworks", "address = \"2001:db8:9::5\"", false, true, "*",
                   "2001:db8:100::1", "0.0.0.0", "2001:db8:9::5", ""}),
    [](const ::testing::TestParamInfo<FamilyCase>& info) { return info.param.name; });

TEST(Ipv6Config, WithoutPublicAddress6ForwardsOpenIpv4Only) {
  Diagnostics diagnostics;
  Config config =
      Parse(Edited("public_address6 = \"2001:db8:100::1\"\n", ""), diagnostics,
            "[[forward]]\nhost = \"lxdev02\"\nport = 9000\n[[forward]]\nhost = \"lxdev02\"\n"
            "port = 9001\nlisten = \"fd00:ffff::1\"\n");
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  EXPECT_TRUE(config.forwards.at(1).open4);
  EXPECT_FALSE(config.forwards.at(1).open6);
  // A `listen` of IPv6 needs no public_address6.
  EXPECT_FALSE(config.forwards.at(2).open4);
  EXPECT_TRUE(config.forwards.at(2).open6);
}

TEST(Ipv6Config, WithPublicAddress6OnlyForwardsOpenIpv6Only) {
  Diagnostics diagnostics;
  Config config = Parse(Edited("public_address = \"198.51.100.1\"\n", ""), diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  EXPECT_FALSE(config.forwards.at(0).open4);
  EXPECT_TRUE(config.forwards.at(0).open6);
  // Control: a forward to an IPv4-only host has no listen address then.
  Diagnostics v4;
  Parse(Edited("public_address = \"198.51.100.1\"\n", ""), v4,
        "[[forward]]\nhost = \"old\"\nport = 9000\n");
  EXPECT_NE(Errors(v4).find("conf.d/50-cli.toml:1: forward[0]: no listen address: set 'listen' "
                            "here or settings.public_address"),
            std::string::npos)
      << Errors(v4);
}

struct BadCase {
  std::string name;
  std::string replace;  // text of kDualStack to replace
  std::string with;
  std::string expected;    // substring of the errors
  std::string extra = "";  // conf.d/50-cli.toml, if any
};

void PrintTo(const BadCase& bad, std::ostream* out) {
  *out << bad.name;
}

class BadIpv6Config : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadIpv6Config, ReportsFileLineAndField) {
  const BadCase& bad = GetParam();
  Diagnostics diagnostics;
  Parse(Edited(bad.replace, bad.with), diagnostics, bad.extra);
  ASSERT_TRUE(diagnostics.HasErrors());
  EXPECT_NE(Errors(diagnostics).find(bad.expected), std::string::npos)
      << "got: " << Errors(diagnostics);
  for (const auto& error : diagnostics.errors())
    EXPECT_EQ(error.ToString().find('\n'), std::string::npos) << error.ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Ipv6Config, BadIpv6Config,
    ::testing::Values(
        BadCase{"BadAddress6", "fd00:77::1/64", "fd00:77::zz/64",
                "virtnat.toml:13: network[0].address6: 'fd00:77::zz/64' is not an IPv6 address "
                "with prefix like fd00:77::1/64"},
        BadCase{"Address6WithoutPrefix", "fd00:77::1/64", "fd00:77::1",
                "network[0].address6: 'fd00:77::1' is not an IPv6 address with prefix"},
        BadCase{"Prefix48", "fd00:77::1/64", "fd00:77::1/48",
                "virtnat.toml:13: network[0].address6: 'fd00:77::1/48': prefix /48 is outside "
                "64-126"},
        BadCase{"Prefix127", "fd00:77::1/64", "fd00:77::1/127",
                "network[0].address6: 'fd00:77::1/127': prefix /127 is outside 64-126"},
        BadCase{"Prefix129", "fd00:77::1/64", "fd00:77::1/129",
                "network[0].address6: 'fd00:77::1/129' is not an IPv6 address with prefix"},
        BadCase{"Ipv4InAddress6", "fd00:77::1/64", "10.1.1.1/24",
                "network[0].address6: '10.1.1.1/24' is not an IPv6 address"},
        BadCase{"Ipv6InAddress", "address = \"10.1.1.1/24\"", "address = \"fd00:77::1/64\"",
                "network[0].address: 'fd00:77::1/64' is not a host address with prefix like "
                "10.1.1.1/24 (prefix 8-30); an IPv6 address goes in address6"},
        BadCase{"Address6IsTheSubnet", "fd00:77::1/64", "fd00:77::/64",
                "network[0].address6: fd00:77:: is the subnet's own address"},
        BadCase{"DhcpRange6Outside", "fd00:77::100-fd00:77::1ff", "fd00:78::100-fd00:78::1ff",
                "virtnat.toml:15: network[0].dhcp_range6: fd00:78::100-fd00:78::1ff is not "
                "inside the subnet fd00:77::/64"},
        BadCase{"DhcpRange6ContainsAddress6", "fd00:77::100-fd00:77::1ff", "fd00:77::-fd00:77::f",
                "network[0].dhcp_range6: fd00:77::-fd00:77::f contains the host's own address "
                "fd00:77::1"},
        BadCase{"DhcpRange6Malformed", "fd00:77::100-fd00:77::1ff", "fd00:77::100",
                "network[0].dhcp_range6: 'fd00:77::100' is not a range like "
                "fd00:77::100-fd00:77::1ff"},
        BadCase{"DhcpRange6Reversed", "fd00:77::100-fd00:77::1ff", "fd00:77::1ff-fd00:77::100",
                "is not a range like"},
        BadCase{"DhcpRange6WithoutAddress6", "address6 = \"fd00:77::1/64\"\n", "",
                "network[0].dhcp_range6: dhcp_range6 needs the network's IPv6 subnet: add "
                "address6"},
        BadCase{"Nat6WithoutAddress6",
                "address6 = \"fd00:77::1/64\"\ndhcp_range = \"10.1.1.100-10.1.1.254\"\n"
                "dhcp_range6 = \"fd00:77::100-fd00:77::1ff\"\n",
                "dhcp_range = \"10.1.1.100-10.1.1.254\"\n",
                "network[0].nat6: nat6 needs the network's IPv6 subnet: add address6"},
        BadCase{"Nat6OnRouted", "mode = \"nat\"", "mode = \"routed\"",
                "virtnat.toml:16: network[0].nat6: only a network with mode = \"nat\" has nat6"},
        BadCase{"HostAddress6Outside", "address6 = \"fd00:77::29\"", "address6 = \"fd00:78::29\"",
                "virtnat.toml:28: network[0].host[1].address6: fd00:78::29 is outside network "
                "'nat_bridge' (fd00:77::/64)"},
        BadCase{"HostAddress6IsTheBridge", "address6 = \"fd00:77::29\"",
                "address6 = \"fd00:77::1\"",
                "network[0].host[1].address6: fd00:77::1 is the host's own address on the "
                "bridge"},
        BadCase{"HostAddress6InDhcpRange6", "address6 = \"fd00:77::29\"",
                "address6 = \"fd00:77::150\"",
                "network[0].host[1].address6: fd00:77::150 is inside dhcp_range6"},
        BadCase{"HostAddress6Malformed", "address6 = \"fd00:77::29\"",
                "address6 = \"fd00:77::29/64\"",
                "network[0].host[1].address6: 'fd00:77::29/64' is not an IPv6 address"},
        BadCase{"HostIpv6InAddress", "address = \"10.1.1.29\"", "address = \"fd00:77::29\"",
                "network[0].host[1].address: 'fd00:77::29' is not an IPv4 address (an IPv6 "
                "address goes in address6)"},
        BadCase{"HostAddress6WithoutNetworkAddress6", "address = \"10.2.2.10\"",
                "address = \"10.2.2.10\"\naddress6 = \"fd00:88::10\"",
                "network[1].host[0].address6: network 'v4only' has no IPv6 subnet: add address6 "
                "to the network, or leave this out"},
        BadCase{"DuplicateAddress6Written", "address6 = \"fd00:77::29\"",
                "address6 = \"fd00:77::1c\"",
                "virtnat.toml:28: network[0].host[1].address6: duplicate address6 fd00:77::1c, "
                "also used by host 'lxdev01' at virtnat.toml:20 (a derived address"},
        BadCase{"OverlappingSubnets6", "address = \"10.2.2.1/24\"",
                "address = \"10.2.2.1/24\"\naddress6 = \"fd00:77:0:0:1::1/80\"",
                "network[1].address6: subnet fd00:77:0:0:1::/80 overlaps network 'nat_bridge' "
                "(fd00:77::/64)"},
        BadCase{"PublicAddress6NotIpv6", "public_address6 = \"2001:db8:100::1\"",
                "public_address6 = \"198.51.100.1\"",
                "virtnat.toml:4: settings.public_address6: '198.51.100.1' is not an IPv6 address "
                "or \"*\""},
        BadCase{"PublicAddressIpv6", "public_address = \"198.51.100.1\"",
                "public_address = \"2001:db8::1\"",
                "settings.public_address: '2001:db8::1' is not an IPv4 address or \"*\" (an IPv6 "
                "address goes in public_address6)"},
        BadCase{"ListenIpv6ToIpv4OnlyHost", "", "",
                "conf.d/50-cli.toml:4: forward[0].listen: host 'old' has no IPv6 address "
                "(network 'v4only' has no address6); there is no NAT46",
                "[[forward]]\nhost = \"old\"\nport = 9000\nlisten = \"2001:db8:100::1\"\n"},
        BadCase{"ListenIpv4ToIpv6OnlyTarget", "", "",
                "conf.d/50-cli.toml:4: forward[0].listen: [fd00:77::99] has no IPv4 address; "
                "there is no NAT46",
                "[[forward]]\naddress = \"fd00:77::99\"\nport = 9000\nlisten = \"198.51.100.1\"\n"},
        BadCase{"Ipv6OnlyTargetWithoutPublicAddress6", "public_address6 = \"2001:db8:100::1\"\n",
                "",
                "conf.d/50-cli.toml:1: forward[0]: no listen address: set 'listen' here or "
                "settings.public_address6 ([fd00:77::99] has no IPv4 address)",
                "[[forward]]\naddress = \"fd00:77::99\"\nport = 9000\n"},
        BadCase{"BadListen", "", "",
                "conf.d/50-cli.toml:4: forward[0].listen: 'fd00::zz' is not an IPv4 address, an "
                "IPv6 address or \"*\"",
                "[[forward]]\nhost = \"lxdev01\"\nport = 9000\nlisten = \"fd00::zz\"\n"},
        BadCase{"BadForwardAddress", "", "",
                "conf.d/50-cli.toml:2: forward[0].address: 'fd00:77::1c/64' is not an IPv4 "
                "address or an IPv6 address",
                "[[forward]]\naddress = \"fd00:77::1c/64\"\nport = 9000\n"},
        BadCase{"ForwardToTheBridgesAddress6", "", "",
                "forward[0].address: fd00:77::1 is the host's own address on network "
                "'nat_bridge'",
                "[[forward]]\naddress = \"fd00:77::1\"\nport = 9000\n"},
        BadCase{"Source6HostBits", "\"2001:db8:1::/48\"", "\"2001:db8:1::1/48\"",
                "virtnat.toml:45: forward[0].source: '2001:db8:1::1/48' is not a network like "
                "198.51.100.0/24 or 2001:db8:1::/48 (host bits must be zero)"},
        BadCase{"LinkLocalAddress6", "fd00:77::1/64", "fe80::1/64",
                "virtnat.toml:13: network[0].address6: 'fe80::1/64' is a link-local address, no "
                "subnet for guests"},
        BadCase{"MulticastHostAddress6", "address6 = \"fd00:77::29\"", "address6 = \"ff02::1\"",
                "virtnat.toml:28: network[0].host[1].address6: 'ff02::1' is a multicast address, "
                "no address for a host"},
        BadCase{"UnspecifiedListen", "", "",
                "conf.d/50-cli.toml:4: forward[0].listen: '::' is the unspecified address, no "
                "address to listen on (\"*\" is every address)",
                "[[forward]]\nhost = \"lxdev01\"\nport = 9000\nlisten = \"::\"\n"},
        BadCase{"LoopbackPublicAddress6", "\"2001:db8:100::1\"", "\"::1\"",
                "virtnat.toml:4: settings.public_address6: '::1' is the loopback address, no "
                "address for forwards to listen on"},
        BadCase{"Source6Prefix129", "\"2001:db8:1::/48\"", "\"2001:db8:1::/129\"",
                "forward[0].source: '2001:db8:1::/129' is not a network"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(Ipv6Config, DerivedAddressesOfABigIpv4SubnetCanCollide) {
  // 10.1.1.28 and 10.1.2.28 in one /16 both end in .28: both derive fd00:77::1c.
  std::string text = Edited("address = \"10.1.1.1/24\"", "address = \"10.1.0.1/16\"");
  std::string second = "address = \"10.1.1.29\"\naddress6 = \"fd00:77::29\"";
  // A MAC of its own: the derived one would repeat lxdev01's (the same last octet).
  text.replace(text.find(second), second.size(),
               "address = \"10.1.2.28\"\nmac = \"02:FF:0A:0A:07:1C\"");
  Diagnostics diagnostics;
  Parse(text, diagnostics);
  EXPECT_NE(Errors(diagnostics)
                .find("network[0].host[1].address: duplicate address6 fd00:77::1c, also used by "
                      "host 'lxdev01' at virtnat.toml:20 (a derived address: the subnet + the "
                      "IPv4 address's last octet; give one of them address6)"),
            std::string::npos)
      << Errors(diagnostics);
  // Control: with an address6 of its own, the second host is fine.
  text.replace(text.find("address = \"10.1.2.28\""), 21,
               "address = \"10.1.2.28\"\naddress6 = \"fd00:77::2:1c\"");
  Diagnostics fixed;
  Parse(text, fixed);
  EXPECT_FALSE(fixed.HasErrors()) << Errors(fixed);
}

TEST(Ipv6Config, OneIpv4AddressTwiceIsReportedOnceAsIpv4) {
  Diagnostics diagnostics;
  Parse(Edited("address = \"10.1.1.29\"\naddress6 = \"fd00:77::29\"", "address = \"10.1.1.28\""),
        diagnostics);
  EXPECT_NE(Errors(diagnostics).find("duplicate address 10.1.1.28"), std::string::npos)
      << Errors(diagnostics);
  EXPECT_EQ(Errors(diagnostics).find("duplicate address6"), std::string::npos)
      << Errors(diagnostics);
}

TEST(Ipv6Config, DerivedAddressOutsideASmallSubnet) {
  // A /124 holds fd00:77::0-f: 10.1.1.28's fd00:77::1c is not in it.
  Diagnostics diagnostics;
  Parse(Edited("dhcp_range6 = \"fd00:77::100-fd00:77::1ff\"\n", "")
            .replace(kDualStack.find("fd00:77::1/64"), 13, "fd00:77::1/124"),
        diagnostics);
  EXPECT_NE(Errors(diagnostics)
                .find("virtnat.toml:21: network[0].host[0].address: the derived IPv6 address "
                      "fd00:77::1c (the subnet + the last octet of 10.1.1.28) is outside network "
                      "'nat_bridge' (fd00:77::/124); give the host address6"),
            std::string::npos)
      << Errors(diagnostics);
}

TEST(Ipv6Config, APrefixOtherThan64IsAcceptedWithAWarning) {
  Diagnostics diagnostics;
  Parse(Edited("fd00:77::1/64", "fd00:77::1/80"), diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  EXPECT_NE(Warnings(diagnostics)
                .find("virtnat.toml:13: network[0].address6: fd00:77::1/80 is a /80: router "
                      "advertisements let guests configure themselves (SLAAC) only on a /64; "
                      "guests of network 'nat_bridge' need DHCPv6"),
            std::string::npos)
      << Warnings(diagnostics);
  // Control: a /64 has no such warning.
  Diagnostics slash64;
  Parse(kDualStack, slash64);
  EXPECT_EQ(Warnings(slash64).find("SLAAC"), std::string::npos) << Warnings(slash64);
}

TEST(Ipv6Config, PortConflictsArePerFamily) {
  auto errors = [](const std::string& extra) {
    Diagnostics diagnostics;
    Parse(kDualStack, diagnostics, extra);
    return Errors(diagnostics);
  };
  // An IPv4 forward and an IPv6 forward on one port: no conflict.
  EXPECT_EQ(errors("[[forward]]\nhost = \"old\"\nport = 8080\nlisten = \"*\"\n"
                   "[[forward]]\nhost = \"lxdev02\"\nport = 8080\nlisten = \"2001:db8:100::1\"\n"),
            "");
  // Two IPv6 forwards on one address and port do.
  EXPECT_NE(errors("[[forward]]\naddress = \"fd00:77::99\"\nport = 8080\n"
                   "[[forward]]\nhost = \"lxdev02\"\nport = 8080\nlisten = \"2001:db8:100::1\"\n")
                .find("conf.d/50-cli.toml:6: forward[1].port: tcp [2001:db8:100::1]:8080 is "
                      "already forwarded by the forward at conf.d/50-cli.toml:1"),
            std::string::npos);
  // "*" (every IPv6 address) against one address.
  EXPECT_NE(errors("[[forward]]\naddress = \"fd00:77::99\"\nport = 8080\nlisten = \"*\"\n"
                   "[[forward]]\nhost = \"lxdev02\"\nport = 8080\nlisten = \"2001:db8:100::1\"\n")
                .find("tcp [2001:db8:100::1]:8080 is already forwarded"),
            std::string::npos);
  // Control: other IPv6 addresses do not conflict.
  EXPECT_EQ(errors("[[forward]]\naddress = \"fd00:77::99\"\nport = 8080\n"
                   "[[forward]]\nhost = \"lxdev02\"\nport = 8080\nlisten = \"2001:db8:100::2\"\n"),
            "");
  // A dual-stack forward (the base config's, 2222 on both families) conflicts in either.
  EXPECT_NE(errors("[[forward]]\nhost = \"lxdev02\"\nport = 2222\nlisten = \"2001:db8:100::1\"\n")
                .find("tcp [2001:db8:100::1]:2222 is already forwarded by the forward at "
                      "virtnat.toml:41"),
            std::string::npos);
  EXPECT_NE(errors("[[forward]]\nhost = \"old\"\nport = 2222\n")
                .find("tcp 198.51.100.1:2222 is already forwarded by the forward at "
                      "virtnat.toml:41"),
            std::string::npos);
}

TEST(Ipv6Config, WarningsNameBothFamilies) {
  Diagnostics diagnostics;
  Parse(kDualStack, diagnostics,
        "[[forward]]\nhost = \"lxdev02\"\nport = 5901\nlisten = \"*\"\n"
        "[[forward]]\nhost = \"lxdev02\"\nport = 8080\nsource = [\"198.51.100.0/24\"]\n");
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  std::string warnings = Warnings(diagnostics);
  EXPECT_NE(warnings.find("conf.d/50-cli.toml:4: forward[0].listen: tcp *:5901 and [::]:5901 -> "
                          "lxdev02:5901 listens on every address of the host, open to every "
                          "client"),
            std::string::npos)
      << warnings;
  EXPECT_NE(warnings.find("conf.d/50-cli.toml:1: forward[0]: tcp *:5901 and [::]:5901 -> "
                          "lxdev02:5901 opens an administrative port to every client"),
            std::string::npos)
      << warnings;
  // A source list without IPv6 networks keeps IPv6 closed: said.
  EXPECT_NE(warnings.find("conf.d/50-cli.toml:8: forward[1].source: tcp 198.51.100.1:8080 and "
                          "[2001:db8:100::1]:8080 -> lxdev02:8080: the source list has no IPv6 "
                          "network, so no IPv6 client gets in"),
            std::string::npos)
      << warnings;
  // Control: the base forward lists both families.
  EXPECT_EQ(warnings.find("forward[0].source"), std::string::npos) << warnings;
}

TEST(Ipv6Config, DescribeForward) {
  Diagnostics diagnostics;
  Config config = Parse(kDualStack, diagnostics,
                        "[[forward]]\naddress = \"fd00:77::99\"\nport = 80\n"
                        "[[forward]]\nhost = \"old\"\nport = 81\nto_port = 8081\n");
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  EXPECT_EQ(DescribeForward(config.forwards.at(0)),
            "tcp 198.51.100.1:2222 and [2001:db8:100::1]:2222 -> lxdev01:22");
  EXPECT_EQ(DescribeForward(config.forwards.at(1)), "tcp [2001:db8:100::1]:80 -> [fd00:77::99]:80");
  EXPECT_EQ(DescribeForward(config.forwards.at(2)), "tcp 198.51.100.1:81 -> old:8081");
}

TEST(Ipv6Config, OvnHasNoDhcpRange6) {
  Diagnostics diagnostics;
  Parse(R"([settings]
ovn_northbound = "unix:/run/ovn/ovnnb_db.sock"

[[network]]
name = "fleet"
provider = "ovn"
mode = "isolated"
address = "10.5.0.1/24"
address6 = "fd00:5::1/64"
dhcp_range6 = "fd00:5::100-fd00:5::1ff"
)",
        diagnostics);
  EXPECT_EQ(Errors(diagnostics),
            "virtnat.toml:10: network[0].dhcp_range6: provider \"ovn\" gives IPv6 by DHCPv6 to "
            "the network's hosts only (each port's own address): leave dhcp_range6 out");
}

TEST(Ipv6ForwardSpec, TakesAnIpv6TargetInBrackets) {
  ForwardSpec spec = ParseForwardSpec("[fd00:77::29]:22", "2223");
  EXPECT_EQ(spec.address, "fd00:77::29");
  EXPECT_TRUE(spec.host.empty());
  EXPECT_EQ(spec.to_port, "22");
  spec.listen = "2001:db8:100::1";
  spec.sources = {"2001:db8:1::/48"};
  std::string toml = ForwardSpecToToml(spec);
  EXPECT_NE(toml.find("address = \"fd00:77::29\"\n"), std::string::npos) << toml;
  EXPECT_NE(toml.find("listen = \"2001:db8:100::1\"\n"), std::string::npos) << toml;
  // The written forward parses as the config would.
  Diagnostics diagnostics;
  Config config = Parse(kDualStack, diagnostics, toml);
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  EXPECT_EQ(config.forwards.at(1).network, "nat_bridge");
  EXPECT_EQ(config.forwards.at(1).sources6.size(), 1u);
}

TEST(Ipv6ForwardSpec, RejectsIpv6WithoutBracketsAndBadAddresses) {
  for (const char* target :
       {"fd00:77::29:22", "[fd00:77::zz]:22", "[10.1.1.28]:22", "[]:22", "[fd00:77::29:22"})
    EXPECT_THROW(ParseForwardSpec(target, "2222"), BadInput) << target;
  try {
    ParseForwardSpec("fd00:77::29:22", "2222");
  } catch (const BadInput& error) {
    EXPECT_NE(std::string(error.what()).find("in brackets, like [fd00:77::29]:22"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace virtnat
