// The config of provider "ovn": its settings and network keys, and what is bad input.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "providers/ovn/ovn_test_config.h"

namespace virtnat {
namespace {

using testing::kFleetConfig;
using testing::ParseFleet;

TEST(OvnConfig, ParsesTheIssuesExample) {
  Diagnostics diagnostics;
  Config config = ParseFleet(kFleetConfig, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  EXPECT_EQ(config.settings.fleet.northbound, "unix:/run/ovn/ovnnb_db.sock");
  const Network& fleet = *config.FindNetwork("fleet");
  EXPECT_EQ(fleet.provider, NetworkProvider::kOvn);
  EXPECT_EQ(ToString(fleet.provider), "ovn");
  EXPECT_EQ(fleet.bridge, "");
  EXPECT_EQ(fleet.uplink, "physnet1");
  EXPECT_EQ(fleet.uplink_address->ToString(), "198.51.100.50/24");
  EXPECT_EQ(fleet.uplink_gateway->ToString(), "198.51.100.254");
  EXPECT_EQ(fleet.gateway_chassis, (std::vector<std::string>{"hv1", "hv2"}));
  // Forwards to its hosts listen on its uplink_address; the others on public_address.
  EXPECT_EQ(config.forwards[0].listen->ToString(), "198.51.100.50");
  EXPECT_EQ(config.forwards[0].network, "fleet");
  EXPECT_EQ(config.forwards[3].listen->ToString(), "192.0.2.1");
}

TEST(OvnConfig, ForwardsToOvnHostsNeedNoPublicAddress) {
  std::string text = kFleetConfig;
  text.replace(text.find("public_address = \"192.0.2.1\"\n"), 29, "");
  Diagnostics diagnostics;
  ParseFleet(text, diagnostics);
  // Only the standalone network's forward misses its listen address.
  EXPECT_EQ(FormatErrors(diagnostics),
            "virtnat.toml:52: forward[3]: no listen address: set 'listen' here or "
            "settings.public_address");
}

TEST(OvnConfig, DualStackForwardsOpenOnUplinkAddress6Too) {
  Diagnostics diagnostics;
  Config config = ParseFleet(testing::FleetConfig6(), diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  const Network& fleet = *config.FindNetwork("fleet");
  EXPECT_EQ(fleet.address6->ToString(), "fd00:99::1/64");
  EXPECT_EQ(fleet.uplink_address6->ToString(), "2001:db8:100::50/64");
  EXPECT_EQ(fleet.uplink_gateway6->ToString(), "2001:db8:100::fe");
  EXPECT_EQ(fleet.hosts[0].address6->ToString(), "fd00:99::b");
  const Forward& web = config.forwards[0];
  EXPECT_TRUE(web.open4 && web.open6);
  EXPECT_EQ(web.listen->ToString(), "198.51.100.50");
  EXPECT_EQ(web.listen6->ToString(), "2001:db8:100::50");
  EXPECT_EQ(web.target6->ToString(), "fd00:99::b");
  // The standalone network has no address6: its forward stays IPv4 (public_address).
  EXPECT_FALSE(config.forwards[3].open6);
  // Control: without uplink_address6 the same forward opens on IPv4 only.
  std::string text = testing::FleetConfig6();
  const std::string uplink6 =
      "uplink_address6 = \"2001:db8:100::50/64\"\nuplink_gateway6 = \"2001:db8:100::fe\"\n";
  text.replace(text.find(uplink6), uplink6.size(), "");
  Diagnostics without;
  Config v4 = ParseFleet(text, without);
  ASSERT_FALSE(without.HasErrors()) << FormatErrors(without);
  EXPECT_TRUE(v4.forwards[0].open4);
  EXPECT_FALSE(v4.forwards[0].open6);
}

TEST(OvnConfig, AnIpv6ListenOpensIpv6Only) {
  std::string text = testing::FleetConfig6();
  text.replace(text.find("port = 8080\n"), 12, "port = 8080\nlisten = \"2001:db8:100::77\"\n");
  Diagnostics diagnostics;
  Config config = ParseFleet(text, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  EXPECT_FALSE(config.forwards[0].open4);
  EXPECT_TRUE(config.forwards[0].open6);
  EXPECT_EQ(config.forwards[0].listen6->ToString(), "2001:db8:100::77");
}

TEST(OvnConfig, SslNeedsItsThreeFiles) {
  Diagnostics diagnostics;
  Config config = ParseFleet(R"([settings]
ovn_northbound = "ssl:192.0.2.10:6641,ssl:192.0.2.11:6641"
ovn_ssl_private_key = "/etc/ovn/key.pem"
ovn_ssl_certificate = "/etc/ovn/cert.pem"
ovn_ssl_ca_cert = "/etc/ovn/cacert.pem"
)",
                             diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  EXPECT_EQ(config.settings.fleet.ssl_ca_cert, "/etc/ovn/cacert.pem");
}

struct BadOvn {
  std::string name;
  std::string replace;  // in kFleetConfig
  std::string with;
  std::string expected;     // a substring of the errors
  bool dual_stack = false;  // in testing::FleetConfig6() instead
};

class OvnBadConfig : public ::testing::TestWithParam<BadOvn> {};

TEST_P(OvnBadConfig, IsReportedWhereItIs) {
  const BadOvn& bad = GetParam();
  std::string text = bad.dual_stack ? testing::FleetConfig6() : kFleetConfig;
  auto at = text.find(bad.replace);
  ASSERT_NE(at, std::string::npos) << bad.replace;
  text.replace(at, bad.replace.size(), bad.with);
  Diagnostics diagnostics;
  ParseFleet(text, diagnostics);
  EXPECT_NE(FormatErrors(diagnostics).find(bad.expected), std::string::npos)
      << FormatErrors(diagnostics);
}

INSTANTIATE_TEST_SUITE_P(
    Ovn, OvnBadConfig,
    ::testing::Values(
        BadOvn{"ModeOpen", "mode = \"nat\"", "mode = \"open\"",
               "virtnat.toml:8: network[0].mode: mode open is not available with provider = "
               "\"ovn\" (nat, routed or isolated)"},
        BadOvn{"ModeBridged", "mode = \"nat\"", "mode = \"bridged\"",
               "mode bridged is not available with provider = \"ovn\""},
        BadOvn{"Bridge", "provider = \"ovn\"\n", "provider = \"ovn\"\nbridge = \"br0\"\n",
               "virtnat.toml:8: network[0].bridge: an ovn network has no bridge of its own"},
        BadOvn{"DotInName", "name = \"fleet\"", "name = \"fleet.a\"",
               "network[0].name: 'fleet.a': the name of an ovn network has no '.'"},
        BadOvn{"NoUplink", "uplink = \"physnet1\"\n", "",
               "virtnat.toml:5: network[0]: missing key 'uplink'"},
        BadOvn{"BadUplink", "uplink = \"physnet1\"", "uplink = \"phys:net\"",
               "network[0].uplink: 'phys:net' is not a provider network's name"},
        BadOvn{"NoUplinkAddress", "uplink_address = \"198.51.100.50/24\"\n", "",
               "network[0]: missing key 'uplink_address'"},
        BadOvn{"UplinkAddressWithoutPrefix", "\"198.51.100.50/24\"", "\"198.51.100.50\"",
               "network[0].uplink_address: '198.51.100.50' is not an address with prefix"},
        BadOvn{"UplinkAddressInTheSubnet", "\"198.51.100.50/24\"", "\"10.99.0.50/24\"",
               "network[0].uplink_address: 10.99.0.50/24 overlaps the network's own subnet"},
        BadOvn{"UplinkAddressIsTheNetworkAddress", "\"198.51.100.50/24\"", "\"198.51.100.0/24\"",
               "is the network or broadcast address of 198.51.100.0/24"},
        BadOvn{"GatewayOffTheUplink", "\"198.51.100.254\"", "\"203.0.113.1\"",
               "virtnat.toml:14: network[0].uplink_gateway: 203.0.113.1 is not on the uplink's "
               "subnet 198.51.100.0/24"},
        BadOvn{"GatewayIsTheUplinkAddress", "\"198.51.100.254\"", "\"198.51.100.50\"",
               "uplink_gateway: 198.51.100.50 is the uplink_address itself"},
        BadOvn{"NoGatewayChassis", "gateway_chassis = [\"hv1\", \"hv2\"]\n", "",
               "network[0]: missing key 'gateway_chassis'"},
        BadOvn{"EmptyGatewayChassis", "[\"hv1\", \"hv2\"]", "[]",
               "network[0].gateway_chassis: name at least one chassis"},
        BadOvn{"ChassisTwice", "[\"hv1\", \"hv2\"]", "[\"hv1\", \"hv1\"]",
               "network[0].gateway_chassis: chassis 'hv1' is listed twice"},
        BadOvn{"ChassisName", "[\"hv1\", \"hv2\"]", "[\"hv 1\"]",
               "gateway_chassis: 'hv 1' is not a chassis name"},
        BadOvn{"IsolatedWithUplink", "mode = \"nat\"", "mode = \"isolated\"",
               "network[0].uplink: an isolated network has no uplink: leave uplink out"},
        BadOvn{"UplinkKeysOnOtherProviders", "bridge = \"vnlocal0\"\n",
               "bridge = \"vnlocal0\"\ngateway_chassis = [\"hv1\"]\n",
               "network[1].gateway_chassis: only networks with provider = \"ovn\" have "
               "gateway_chassis"},
        BadOvn{"HostWithoutMac", "mac = \"02:76:6e:0a:00:0b\"\n", "",
               "host 'web1' of ovn network 'fleet' needs a mac"},
        BadOvn{"ListenAny", "port = 8080\n", "port = 8080\nlisten = \"*\"\n",
               "forward[0].listen: \"*\" is no address for a forward to network 'fleet'"},
        BadOvn{"BadNorthbound", "\"unix:/run/ovn/ovnnb_db.sock\"", "\"tcp:192.0.2.10\"",
               "virtnat.toml:3: settings.ovn_northbound: 'tcp:192.0.2.10' is not an OVSDB "
               "remote"},
        BadOvn{"RelativeUnixSocket", "\"unix:/run/ovn/ovnnb_db.sock\"", "\"unix:ovnnb_db.sock\"",
               "settings.ovn_northbound: 'unix:ovnnb_db.sock' is not an OVSDB remote"},
        BadOvn{"SslWithoutFiles", "\"unix:/run/ovn/ovnnb_db.sock\"", "\"ssl:192.0.2.10:6641\"",
               "settings: missing key 'ovn_ssl_private_key'"},
        BadOvn{"SslFilesWithoutSsl", "ovn_northbound = \"unix:/run/ovn/ovnnb_db.sock\"\n",
               "ovn_northbound = \"unix:/run/ovn/ovnnb_db.sock\"\novn_ssl_ca_cert = \"/ca.pem\"\n",
               "settings.ovn_ssl_ca_cert: only an ssl: ovn_northbound or ovn_southbound needs"},
        BadOvn{
            "SameUplinkAddressTwice", "[[forward]]\nhost = \"web1\"\nport = 8080",
            "[[network]]\nname = \"fleet-x\"\nprovider = \"ovn\"\naddress = "
            "\"10.98.0.1/24\"\nuplink = \"physnet1\"\nuplink_address = "
            "\"198.51.100.50/24\"\ngateway_chassis = [\"hv1\"]\n[[network.host]]\nname = "
            "\"web1\"\naddress = \"10.98.0.5\"\nmac = \"02:00:00:00:00:05\"\n\n[[forward]]\nhost = "
            "\"web1\"\nport = 8080",
            "198.51.100.50 is also the uplink_address of network 'fleet'"}),
    [](const ::testing::TestParamInfo<BadOvn>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Ovn6, OvnBadConfig,
    ::testing::Values(
        BadOvn{"UplinkAddress6WithoutAddress6", "address6 = \"fd00:99::1/64\"\n", "",
               "network[0].uplink_address6: uplink_address6 needs the network's IPv6 subnet: "
               "add address6",
               true},
        BadOvn{"UplinkAddress6WithoutPrefix", "\"2001:db8:100::50/64\"", "\"2001:db8:100::50\"",
               "virtnat.toml:16: network[0].uplink_address6: '2001:db8:100::50' is not an IPv6 "
               "address with prefix",
               true},
        BadOvn{"UplinkAddress6InTheSubnet", "\"2001:db8:100::50/64\"", "\"fd00:99::50/64\"",
               "network[0].uplink_address6: fd00:99::50/64 overlaps the network's own subnet "
               "fd00:99::/64",
               true},
        BadOvn{"Gateway6OffTheUplink", "\"2001:db8:100::fe\"", "\"2001:db8:200::1\"",
               "virtnat.toml:17: network[0].uplink_gateway6: 2001:db8:200::1 is not on the "
               "uplink's subnet 2001:db8:100::/64",
               true},
        BadOvn{"Gateway6WithoutUplinkAddress6", "uplink_address6 = \"2001:db8:100::50/64\"\n", "",
               "network[0].uplink_gateway6: uplink_gateway6 is reached through "
               "uplink_address6: add it",
               true},
        BadOvn{"IsolatedWithUplinkAddress6", "mode = \"nat\"", "mode = \"isolated\"",
               "network[0].uplink_address6: an isolated network has no uplink: leave "
               "uplink_address6 out",
               true},
        BadOvn{"UplinkAddress6OnOtherProviders", "bridge = \"vnlocal0\"\n",
               "bridge = \"vnlocal0\"\nuplink_address6 = \"2001:db8:100::51/64\"\n",
               "network[1].uplink_address6: only networks with provider = \"ovn\" have "
               "uplink_address6",
               true},
        BadOvn{"ListenAny6", "port = 8080\n", "port = 8080\nlisten = \"*\"\n",
               "forward[0].listen: \"*\" is no address for a forward to network 'fleet'", true}),
    [](const ::testing::TestParamInfo<BadOvn>& info) { return info.param.name; });

TEST(OvnConfig, PortNamesOfTwoNetworksMustNotCollide) {
  // Network "a" with host "b-c" and network "a-b" with host "c" would both have port "a-b-c".
  Diagnostics diagnostics;
  ParseFleet(R"([[network]]
name = "a"
provider = "ovn"
mode = "isolated"
address = "10.97.0.1/24"
[[network.host]]
name = "b-c"
address = "10.97.0.5"
mac = "02:00:00:00:01:05"

[[network]]
name = "a-b"
provider = "ovn"
mode = "isolated"
address = "10.96.0.1/24"
[[network.host]]
name = "c"
address = "10.96.0.5"
mac = "02:00:00:00:02:05"
)",
             diagnostics);
  EXPECT_EQ(FormatErrors(diagnostics),
            "virtnat.toml:17: network[1].host[0].name: its OVN port 'a-b-c' is also the port of "
            "host 'b-c' on network 'a'; rename one");
}

}  // namespace
}  // namespace virtnat
