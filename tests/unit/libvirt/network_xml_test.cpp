#include "libvirt/network_xml.h"

#include <gtest/gtest.h>

#include "../test_config.h"

namespace virtnat {
namespace {

Network BaseNetwork() {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  return config.networks.at(0);
}

TEST(NetworkXml, HasBridgeDomainDnsAndStaticLeases) {
  std::string xml = RenderNetworkXml(BaseNetwork());
  for (const char* expected :
       {"<name>nat_bridge</name>", "<forward mode=\"open\" />",
        "<bridge name=\"nbr0\" stp=\"on\" delay=\"0\" />",
        "<domain name=\"devops.test\" localOnly=\"yes\" />", "<hostname>lxdev01</hostname>",
        "<ip address=\"10.1.1.1\" prefix=\"24\">",
        "<range start=\"10.1.1.100\" end=\"10.1.1.254\" />",
        "<host mac=\"02:ff:0a:0a:06:1c\" name=\"lxdev01.devops.test\" ip=\"10.1.1.28\" />",
        "<host mac=\"02:ff:0a:0a:06:1d\" name=\"lxdev02.devops.test\" ip=\"10.1.1.29\" />"})
    EXPECT_NE(xml.find(expected), std::string::npos) << expected << "\n" << xml;
}

TEST(NetworkXml, LibvirtForwardNatHandsNatToLibvirt) {
  Network network = BaseNetwork();
  network.provider = NetworkProvider::kLibvirt;
  network.libvirt_forward = "nat";
  EXPECT_FALSE(network.VirtnatOwnsFirewall());
  EXPECT_NE(RenderNetworkXml(network).find("<forward mode=\"nat\" />"), std::string::npos);
}

TEST(NetworkXml, FactsRoundTripAndNormaliseLibvirtsForm) {
  Network network = BaseNetwork();
  LibvirtNetworkFacts want = DesiredNetworkFacts(network);
  // libvirt writes a netmask, upper/lower case MACs and extra elements.
  std::string libvirt = R"(<network>
  <name>nat_bridge</name><uuid>x</uuid>
  <forward mode='open'/>
  <bridge name='nbr0' stp='on' delay='0'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <domain name='devops.test' localOnly='yes'/>
  <dns><host ip='10.1.1.28'><hostname>lxdev01</hostname></host>
       <host ip='10.1.1.29'><hostname>lxdev02</hostname></host></dns>
  <ip address='10.1.1.1' netmask='255.255.255.0'>
    <dhcp><range start='10.1.1.100' end='10.1.1.254'/>
      <host mac='02:FF:0A:0A:06:1C' name='lxdev01.devops.test' ip='10.1.1.28'/>
      <host mac='02:ff:0a:0a:06:1d' name='lxdev02.devops.test' ip='10.1.1.29'/>
    </dhcp></ip></network>)";
  LibvirtNetworkFacts have = ParseNetworkFacts(libvirt);
  EXPECT_TRUE(have.SameShape(want));
  EXPECT_EQ(have.dhcp_hosts, want.dhcp_hosts);
  EXPECT_EQ(have.dns_hosts, want.dns_hosts);
  network.bridge = "nbr1";
  EXPECT_FALSE(have.SameShape(DesiredNetworkFacts(network)));
}

// One libvirt network per mode, as a config would have them.
Network ModeNetwork(const std::string& mode) {
  Diagnostics diagnostics;
  std::string text =
      mode == "bridged"
          ? "[[network]]\nname = \"lan\"\nmode = \"bridged\"\nprovider = \"libvirt\"\n"
            "bridge = \"br-lan\"\nuplink = \"eth1\"\n"
          : "[[network]]\nname = \"" + mode + "_net\"\nmode = \"" + mode +
                "\"\nprovider = \"libvirt\"\nbridge = \"vbr0\"\naddress = \"10.5.5.1/24\"\n"
                "dhcp_range = \"10.5.5.100-10.5.5.150\"\ndomain = \"lab.test\"\n"
                "[[network.host]]\nname = \"g1\"\naddress = \"10.5.5.28\"\n"
                "mac = \"02:00:00:05:05:1C\"\n";
  Config config = testing::Parse(text, diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  return config.networks.at(0);
}

// nat, routed, isolated and open: libvirt adds no firewall rules (mode open); virtnat's table
// implements the mode, and libvirt still runs DHCP and DNS on the bridge.
TEST(NetworkXml, EveryRoutingModeGetsForwardModeOpen) {
  for (const char* mode : {"nat", "routed", "isolated", "open"}) {
    Network network = ModeNetwork(mode);
    EXPECT_TRUE(network.VirtnatOwnsFirewall()) << mode;
    EXPECT_EQ(LibvirtForwardMode(network), "open") << mode;
    std::string xml = RenderNetworkXml(network);
    for (const char* expected :
         {"<forward mode=\"open\" />", "<bridge name=\"vbr0\" stp=\"on\" delay=\"0\" />",
          "<ip address=\"10.5.5.1\" prefix=\"24\">",
          "<range start=\"10.5.5.100\" end=\"10.5.5.150\" />",
          "<host mac=\"02:00:00:05:05:1c\" name=\"g1.lab.test\" ip=\"10.5.5.28\" />",
          "<hostname>g1</hostname>"})
      EXPECT_NE(xml.find(expected), std::string::npos) << mode << ": " << expected << "\n" << xml;
    LibvirtNetworkFacts facts = DesiredNetworkFacts(network);
    EXPECT_EQ(facts.forward_mode, "open") << mode;
    EXPECT_EQ(facts.address, "10.5.5.1/24") << mode;
  }
}

// bridged: libvirt only attaches guests to the host bridge; no address, DHCP, DNS or STP.
TEST(NetworkXml, BridgedGetsForwardModeBridgeAndNothingElse) {
  Network network = ModeNetwork("bridged");
  EXPECT_EQ(LibvirtForwardMode(network), "bridge");
  EXPECT_EQ(RenderNetworkXml(network),
            "<network>\n  <name>lan</name>\n  <forward mode=\"bridge\" />\n"
            "  <bridge name=\"br-lan\" />\n</network>\n");
  // libvirt's own form of that definition has the same shape: a second apply changes nothing.
  LibvirtNetworkFacts have = ParseNetworkFacts(
      "<network><name>lan</name><uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>"
      "<forward mode='bridge'/><bridge name='br-lan'/></network>");
  LibvirtNetworkFacts want = DesiredNetworkFacts(network);
  EXPECT_TRUE(have.SameShape(want));
  EXPECT_EQ(have.forward_mode, "bridge");
  EXPECT_TRUE(have.address.empty());
  EXPECT_TRUE(have.dhcp_hosts.empty());
}

TEST(NetworkXml, ModeChangesAreShapeChanges) {
  LibvirtNetworkFacts nat = DesiredNetworkFacts(ModeNetwork("nat"));
  Network routed = ModeNetwork("routed");
  routed.name = "nat_net";
  // nat and routed render alike for libvirt (both open): virtnat's table tells them apart.
  EXPECT_TRUE(nat.SameShape(DesiredNetworkFacts(routed)));
  Network bridged = ModeNetwork("bridged");
  bridged.name = "nat_net";
  bridged.bridge = "vbr0";
  EXPECT_FALSE(nat.SameShape(DesiredNetworkFacts(bridged)));
}

TEST(NetworkXml, StaleHostBridgeWhenABridgedNetworkMoves) {
  Network bridged = ModeNetwork("bridged");
  LibvirtNetworkFacts have = DesiredNetworkFacts(bridged);
  EXPECT_EQ(StaleHostBridge(have, bridged), std::nullopt);  // same bridge: kept
  Network moved = bridged;
  moved.bridge = "br-lan2";
  EXPECT_EQ(StaleHostBridge(have, moved), "br-lan");
  Network nat = ModeNetwork("nat");
  nat.name = "lan";
  nat.bridge = "br-lan";
  EXPECT_EQ(StaleHostBridge(have, nat), "br-lan");  // libvirt makes its own bridge for open
  // A network that was not bridged had no host bridge of virtnat's.
  EXPECT_EQ(StaleHostBridge(DesiredNetworkFacts(ModeNetwork("nat")), bridged), std::nullopt);
}

// A redefinition names the defined network's UUID, or libvirt refuses it ("network already
// exists with uuid ...").
TEST(NetworkXml, RedefinitionKeepsLibvirtsUuid) {
  Network network = ModeNetwork("bridged");
  const std::string uuid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
  LibvirtNetworkFacts have = ParseNetworkFacts("<network><name>lan</name><uuid>" + uuid +
                                               "</uuid><forward mode='bridge'/>"
                                               "<bridge name='br-old'/></network>");
  EXPECT_EQ(have.uuid, uuid);
  std::string xml = RenderNetworkXml(network, have.uuid);
  EXPECT_NE(xml.find("<name>lan</name>\n  <uuid>" + uuid + "</uuid>"), std::string::npos) << xml;
  EXPECT_EQ(ParseNetworkFacts(xml).uuid, uuid);
  EXPECT_EQ(RenderNetworkXml(network).find("<uuid>"), std::string::npos);
  EXPECT_FALSE(have.SameShape(DesiredNetworkFacts(network)));  // br-old -> br-lan
}

TEST(NetworkXml, LibvirtForwardNatOnlyForModeNat) {
  for (const char* mode : {"routed", "isolated", "open"}) {
    Diagnostics diagnostics;
    testing::Parse(std::string("[[network]]\nname = \"n\"\nmode = \"") + mode +
                       "\"\nprovider = \"libvirt\"\nbridge = \"vbr0\"\n"
                       "address = \"10.5.5.1/24\"\nlibvirt_forward = \"nat\"\n",
                   diagnostics);
    std::string errors = FormatErrors(diagnostics);
    EXPECT_NE(errors.find("virtnat.toml:7: network[0].libvirt_forward: only a network with mode "
                          "= \"nat\""),
              std::string::npos)
        << mode << ": " << errors;
  }
  Diagnostics diagnostics;
  testing::Parse(
      "[[network]]\nname = \"n\"\nmode = \"nat\"\nprovider = \"libvirt\"\nbridge = \"vbr0\"\n"
      "address = \"10.5.5.1/24\"\nlibvirt_forward = \"nat\"\n",
      diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
}

}  // namespace
}  // namespace virtnat
