// virtnat's firewalld zone: which bridges go in, its definition, and how virtnat reads what
// firewalld has (its zone file, its nftables table).
#include "backends/firewalld/firewalld_zone.h"

#include <gtest/gtest.h>

#include "test_config.h"

namespace virtnat {
namespace {

TEST(FirewalldZone, BridgesOfNetworksWhoseFirewallIsVirtnats) {
  Diagnostics diagnostics;
  Config config = testing::Parse(R"(
[[network]]
name = "lab"
provider = "standalone"
bridge = "nbr0"
address = "10.1.1.1/24"
[[network]]
name = "quiet"
mode = "isolated"
bridge = "nbr1"
address = "10.3.3.1/24"
[[network]]
name = "diy"
mode = "open"
bridge = "nbr2"
address = "10.4.4.1/24"
[[network]]
name = "libvirts"
provider = "libvirt"
define = false
bridge = "virbr0"
address = "192.168.122.1/24"
[[network]]
name = "defined"
provider = "libvirt"
bridge = "vnat0"
address = "10.5.5.1/24"
)",
                                 diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  // Not the open network (the admin's), not libvirt's own (libvirt puts it in zone libvirt);
  // a network virtnat defines in libvirt (forward mode open: libvirt gives it no zone) is in.
  EXPECT_EQ(FirewalldZoneBridges(BuildDesiredState(config, {})),
            (std::set<std::string>{"nbr0", "nbr1", "vnat0"}));
}

TEST(FirewalldZone, TheZoneAllowsDhcpDnsAndIcmpAndRejectsTheRestOfTheHost) {
  std::string xml = FirewalldZoneXml();
  EXPECT_NE(xml.find(R"(<zone target="ACCEPT">)"), std::string::npos);
  for (const char* service : {"dhcp", "dhcpv6", "dns"})
    EXPECT_NE(xml.find(std::string(R"(<service name=")") + service + "\"/>"), std::string::npos);
  EXPECT_NE(xml.find(R"(<rule priority="32767">)"), std::string::npos);
  EXPECT_EQ(ZoneFileInterfaces(xml), std::set<std::string>{});
}

TEST(FirewalldZone, ReadsTheInterfacesOfItsZoneFile) {
  std::string file =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<zone target=\"ACCEPT\">\n"
      "  <short>virtnat</short>\n  <interface name=\"nbr0\"/>\n  <interface name=\"vsbr0\"/>\n"
      "</zone>\n";
  EXPECT_EQ(ZoneFileInterfaces(file), (std::set<std::string>{"nbr0", "vsbr0"}));
  EXPECT_EQ(ZoneFileInterfaces("not xml <"), std::nullopt);
}

TEST(FirewalldZone, ReadsWhichInterfacesFirewalldsTableSendsToTheZone) {
  auto chain = nlohmann::json::parse(R"({"nftables": [
    {"metainfo": {"json_schema_version": 1}},
    {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT_ZONES"}},
    {"rule": {"chain": "filter_INPUT_ZONES", "expr": [
      {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "vsbr0"}},
      {"goto": {"target": "filter_IN_virtnat"}}]}},
    {"rule": {"chain": "filter_INPUT_ZONES", "expr": [
      {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}},
      {"goto": {"target": "filter_IN_public"}}]}},
    {"rule": {"chain": "filter_INPUT_ZONES", "expr": [{"goto": {"target": "filter_IN_public"}}]}}
  ]})");
  EXPECT_EQ(NftZoneInterfaces(chain, "virtnat"), std::set<std::string>{"vsbr0"});
  EXPECT_EQ(NftZoneInterfaces(chain, "public"), std::set<std::string>{"eth0"});
}

}  // namespace
}  // namespace virtnat
