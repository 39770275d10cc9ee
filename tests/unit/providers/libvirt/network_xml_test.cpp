#include "providers/libvirt/network_xml.h"

#include <gtest/gtest.h>

#include "test_config.h"
#include "providers/standalone/host_bridge.h"

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
  network.provider_nat = true;
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
            "<network>\n  <name>lan</name>\n  <metadata>\n"
            "    <virtnat:bridged xmlns:virtnat=\"https://virtnat.example/xmlns/network/1\" "
            "uplink=\"eth1\" />\n  </metadata>\n  <forward mode=\"bridge\" />\n"
            "  <bridge name=\"br-lan\" />\n</network>\n");
  // libvirt's own form of that definition has the same shape: a second apply changes nothing.
  LibvirtNetworkFacts have = ParseNetworkFacts(
      "<network><name>lan</name><uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>"
      "<metadata><virtnat:bridged xmlns:virtnat='https://virtnat.example/xmlns/network/1' "
      "uplink='eth1'/></metadata>"
      "<forward mode='bridge'/><bridge name='br-lan'/></network>");
  LibvirtNetworkFacts want = DesiredNetworkFacts(network);
  EXPECT_TRUE(have.SameShape(want));
  EXPECT_EQ(have.bridged, want.bridged);
  EXPECT_EQ(have.forward_mode, "bridge");
  EXPECT_TRUE(have.address.empty());
  EXPECT_TRUE(have.dhcp_hosts.empty());
}

// What the network hook needs at boot travels in libvirt's own definition: uplink and address
// in virtnat's <metadata> element, bridge and name in libvirt's elements.
TEST(NetworkXml, BridgedMetadataRoundTrip) {
  Network network = ModeNetwork("bridged");
  network.address = *Ipv4Interface::Parse("198.51.100.3/24");
  network.has_address = true;
  std::string xml = RenderNetworkXml(network);
  EXPECT_NE(xml.find("<virtnat:bridged xmlns:virtnat=\"https://virtnat.example/xmlns/network/1\" "
                     "uplink=\"eth1\" address=\"198.51.100.3/24\" />"),
            std::string::npos)
      << xml;
  LibvirtNetworkFacts facts = ParseNetworkFacts(xml);
  ASSERT_TRUE(facts.bridged);
  EXPECT_EQ(facts.bridged->uplink, "eth1");
  EXPECT_EQ(facts.bridged->address, "198.51.100.3/24");
  Network back = BridgedNetworkFromFacts(facts);
  EXPECT_EQ(back.name, "lan");
  EXPECT_EQ(back.bridge, "br-lan");
  EXPECT_EQ(back.uplink, "eth1");
  EXPECT_EQ(back.mode, NetworkMode::kBridged);
  EXPECT_EQ(back.provider, NetworkProvider::kLibvirt);
  EXPECT_TRUE(back.define);
  EXPECT_TRUE(back.has_address);
  EXPECT_EQ(back.address.ToString(), "198.51.100.3/24");
  EXPECT_TRUE(NeedsHostBridge(back));
  // Without an address: none comes back.
  Network plain = BridgedNetworkFromFacts(DesiredNetworkFacts(ModeNetwork("bridged")));
  EXPECT_FALSE(plain.has_address);
  EXPECT_EQ(plain.uplink, "eth1");
}

// libvirt may write the element with another prefix or as the default namespace, and inside
// <hookData> for hooks; another application's element of the same name is not virtnat's.
TEST(NetworkXml, BridgedMetadataIsFoundByNamespace) {
  const std::string tail = "<forward mode='bridge'/><bridge name='br-lan'/></network>";
  auto facts = ParseNetworkFacts(
      "<hookData><network><name>lan</name><metadata>"
      "<vn:bridged xmlns:vn='https://virtnat.example/xmlns/network/1' uplink='eth2'/>"
      "</metadata>" +
      tail + "</hookData>");
  EXPECT_EQ(facts.name, "lan");
  EXPECT_EQ(facts.bridge, "br-lan");
  ASSERT_TRUE(facts.bridged);
  EXPECT_EQ(facts.bridged->uplink, "eth2");
  facts = ParseNetworkFacts(
      "<network><name>lan</name><metadata>"
      "<bridged xmlns='https://virtnat.example/xmlns/network/1' uplink='eth3'/></metadata>" +
      tail);
  ASSERT_TRUE(facts.bridged);
  EXPECT_EQ(facts.bridged->uplink, "eth3");
  facts = ParseNetworkFacts(
      "<network><name>lan</name><metadata>"
      "<app:bridged xmlns:app='http://app.example/1' uplink='eth4'/></metadata>" +
      tail);
  EXPECT_FALSE(facts.bridged);
  facts = ParseNetworkFacts("<network><name>lan</name>" + tail);
  EXPECT_FALSE(facts.bridged);
  EXPECT_THROW(BridgedNetworkFromFacts(facts), RuntimeFailure);
}

TEST(NetworkXml, UnusableBridgedMetadataIsRefused) {
  auto error = [](const std::string& bridge, const std::string& attributes) {
    try {
      BridgedNetworkFromFacts(
          ParseNetworkFacts("<network><name>lan</name><metadata><virtnat:bridged "
                            "xmlns:virtnat='https://virtnat.example/xmlns/network/1' " +
                            attributes + "/></metadata><forward mode='bridge'/><bridge name='" +
                            bridge + "'/></network>"));
    } catch (const RuntimeFailure& failure) {
      return std::string(failure.what());
    }
    return std::string();
  };
  EXPECT_EQ(error("br-lan", "uplink='eth1'"), "");
  EXPECT_EQ(error("br-lan", ""),
            "network lan: virtnat's metadata is not usable: uplink '' is not a valid interface "
            "name");
  EXPECT_EQ(error("br-lan", "uplink='../eth1'"),
            "network lan: virtnat's metadata is not usable: uplink '../eth1' is not a valid "
            "interface name");
  EXPECT_EQ(error("", "uplink='eth1'"),
            "network lan: virtnat's metadata is not usable: bridge name '' is not a valid "
            "interface name");
  EXPECT_EQ(error("br-lan", "uplink='eth1' address='198.51.100.3'"),
            "network lan: virtnat's metadata is not usable: address '198.51.100.3' is not an "
            "IPv4 address with a prefix length");
}

// A definition from an older virtnat has no metadata: same shape (no restart), but the
// metadata differs, so apply updates the stored definition.
TEST(NetworkXml, MissingMetadataIsNotAShapeChange) {
  Network network = ModeNetwork("bridged");
  LibvirtNetworkFacts old = ParseNetworkFacts(
      "<network><name>lan</name><forward mode='bridge'/><bridge name='br-lan'/></network>");
  LibvirtNetworkFacts want = DesiredNetworkFacts(network);
  EXPECT_TRUE(old.SameShape(want));
  EXPECT_NE(old.bridged, want.bridged);
  Network moved = network;
  moved.uplink = "eth2";
  EXPECT_TRUE(want.SameShape(DesiredNetworkFacts(moved)));
  EXPECT_NE(want.bridged, DesiredNetworkFacts(moved).bridged);
  // Other modes carry no metadata.
  EXPECT_FALSE(DesiredNetworkFacts(ModeNetwork("nat")).bridged);
  EXPECT_EQ(RenderNetworkXml(ModeNetwork("nat")).find("metadata"), std::string::npos);
}

TEST(NetworkXml, UnreadableXmlNamesItsSource) {
  try {
    ParseNetworkFacts("<network><name>lan</name>", "stdin");
    FAIL() << "no error";
  } catch (const RuntimeFailure& failure) {
    EXPECT_EQ(std::string(failure.what()).rfind("unreadable network XML on stdin: ", 0), 0u)
        << failure.what();
  }
  EXPECT_THROW(ParseNetworkFacts("<network>"), RuntimeFailure);
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

// The base network made dual-stack as the config would make it.
Network DualStackNetwork() {
  Network network = BaseNetwork();
  network.provider = NetworkProvider::kLibvirt;
  network.address6 = *Ipv6Interface::Parse("fd00:77::1/64");
  network.dhcp_range6 = *Ipv6Range::Parse("fd00:77::100-fd00:77::1ff");
  network.hosts[0].address6 = *Ipv6Address::Parse("fd00:77::1c");
  network.hosts[1].address6 = HostAddress6(network.address6->Subnet(), network.hosts[1].address);
  return network;
}

TEST(NetworkXml, DualStackHasAnIpv6ElementWithDhcpHostsAndAaaaRecords) {
  Network network = DualStackNetwork();
  std::string xml = RenderNetworkXml(network);
  for (const char* expected :
       {"<ip family=\"ipv6\" address=\"fd00:77::1\" prefix=\"64\">",
        "<range start=\"fd00:77::100\" end=\"fd00:77::1ff\" />",
        "<host id=\"00:03:00:01:02:ff:0a:0a:06:1c\" name=\"lxdev01.devops.test\" "
        "ip=\"fd00:77::1c\" />",
        "<host id=\"00:03:00:01:02:ff:0a:0a:06:1d\" name=\"lxdev02.devops.test\" "
        "ip=\"fd00:77::1d\" />",
        // The AAAA records carry the FQDN: libvirt's live updates refuse repeated names.
        "<host ip=\"fd00:77::1c\">\n      <hostname>lxdev01.devops.test</hostname>",
        "<host ip=\"fd00:77::1d\">\n      <hostname>lxdev02.devops.test</hostname>"})
    EXPECT_NE(xml.find(expected), std::string::npos) << expected << "\n" << xml;
  // The IPv4 element comes first, as in an IPv4-only network: its index stays 0.
  EXPECT_LT(xml.find("<ip address=\"10.1.1.1\""), xml.find("<ip family=\"ipv6\""));
  // virtnat's table does the NAT (forward mode open): no <nat> for libvirt.
  EXPECT_EQ(xml.find("<nat"), std::string::npos) << xml;
  LibvirtNetworkFacts facts = DesiredNetworkFacts(network);
  EXPECT_EQ(facts.address6, "fd00:77::1/64");
  EXPECT_EQ(facts.dhcp_range6, "fd00:77::100-fd00:77::1ff");
  EXPECT_EQ(facts.dhcp_hosts6.size(), 2u);
  EXPECT_EQ(facts.dns_hosts.size(), 4u);
  EXPECT_EQ(facts.ip_index, 0);
  EXPECT_EQ(facts.ip6_index, 1);
}

TEST(NetworkXml, Ipv4OnlyNetworkIgnoresIpv6AddressesOfItsHosts) {
  // Control: the hosts' IPv6 addresses alone (no address6) change nothing in the XML.
  Network network = DualStackNetwork();
  network.address6.reset();
  network.dhcp_range6.reset();
  Network ipv4_only = BaseNetwork();
  ipv4_only.provider = NetworkProvider::kLibvirt;
  EXPECT_EQ(RenderNetworkXml(network), RenderNetworkXml(ipv4_only));
  EXPECT_EQ(RenderNetworkXml(network).find("ipv6"), std::string::npos);
  LibvirtNetworkFacts facts = DesiredNetworkFacts(network);
  EXPECT_EQ(facts.address6, "");
  EXPECT_EQ(facts.ip6_index, -1);
}

TEST(NetworkXml, DualStackWithoutRangeOrMacsHasAnIpv6ElementWithoutDhcp) {
  Network network = DualStackNetwork();
  network.dhcp_range6.reset();
  for (auto& host : network.hosts) host.mac = {};
  std::string xml = RenderNetworkXml(network);
  EXPECT_NE(xml.find("<ip family=\"ipv6\" address=\"fd00:77::1\" prefix=\"64\" />"),
            std::string::npos)
      << xml;
  // The names still resolve to both families.
  EXPECT_NE(xml.find("<host ip=\"fd00:77::1d\">"), std::string::npos) << xml;
}

TEST(NetworkXml, LibvirtNatMasqueradesIpv6WhenNat6) {
  Network network = DualStackNetwork();
  network.provider_nat = true;
  EXPECT_NE(RenderNetworkXml(network).find(
                "<forward mode=\"nat\">\n    <nat ipv6=\"yes\" />\n  </forward>"),
            std::string::npos)
      << RenderNetworkXml(network);
  EXPECT_TRUE(DesiredNetworkFacts(network).nat_ipv6);
  // nat6 = false: libvirt routes IPv6.
  Network routed6 = network;
  routed6.nat6 = false;
  EXPECT_EQ(RenderNetworkXml(routed6).find("<nat"), std::string::npos);
  EXPECT_FALSE(DesiredNetworkFacts(network).SameShape(DesiredNetworkFacts(routed6)));
  // An IPv4-only network never gets it.
  network.address6.reset();
  EXPECT_EQ(RenderNetworkXml(network).find("<nat"), std::string::npos);
}

TEST(NetworkXml, DualStackFactsMatchLibvirtsOwnForm) {
  Network network = DualStackNetwork();
  LibvirtNetworkFacts want = DesiredNetworkFacts(network);
  // libvirt writes addresses its own way (here: leading zeros, upper case), and single quotes.
  std::string libvirt = R"(<network>
  <name>nat_bridge</name><uuid>x</uuid>
  <forward mode='open'/>
  <bridge name='nbr0' stp='on' delay='0'/>
  <domain name='devops.test' localOnly='yes'/>
  <dns><host ip='10.1.1.28'><hostname>lxdev01</hostname></host>
       <host ip='FD00:77:0::1C'><hostname>lxdev01.devops.test</hostname></host>
       <host ip='10.1.1.29'><hostname>lxdev02</hostname></host>
       <host ip='fd00:77::1d'><hostname>lxdev02.devops.test</hostname></host></dns>
  <ip address='10.1.1.1' netmask='255.255.255.0'>
    <dhcp><range start='10.1.1.100' end='10.1.1.254'/>
      <host mac='02:FF:0A:0A:06:1C' name='lxdev01.devops.test' ip='10.1.1.28'/>
      <host mac='02:ff:0a:0a:06:1d' name='lxdev02.devops.test' ip='10.1.1.29'/>
    </dhcp></ip>
  <ip family='ipv6' address='fd00:0077::1' prefix='64'>
    <dhcp><range start='fd00:77::100' end='fd00:77::01ff'/>
      <host id='00:03:00:01:02:FF:0A:0A:06:1C' name='lxdev01.devops.test' ip='fd00:77::1c'/>
      <host id='00:03:00:01:02:ff:0a:0a:06:1d' name='lxdev02.devops.test' ip='fd00:77::1d'/>
    </dhcp></ip></network>)";
  LibvirtNetworkFacts have = ParseNetworkFacts(libvirt);
  EXPECT_TRUE(have.SameShape(want));
  EXPECT_TRUE(have.SameHosts(want));
  EXPECT_EQ(have.ip6_index, 1);
  // A host's new IPv6 address is a live host update, not a shape change.
  network.hosts[1].address6 = *Ipv6Address::Parse("fd00:77::99");
  LibvirtNetworkFacts moved = DesiredNetworkFacts(network);
  EXPECT_TRUE(have.SameShape(moved));
  EXPECT_FALSE(have.SameHosts(moved));
  EXPECT_NE(have.dhcp_hosts6, moved.dhcp_hosts6);
  EXPECT_EQ(have.dhcp_hosts, moved.dhcp_hosts);
  // A new IPv6 prefix or range is a shape change; so is dual-stack itself.
  network.address6 = *Ipv6Interface::Parse("fd00:78::1/64");
  EXPECT_FALSE(have.SameShape(DesiredNetworkFacts(network)));
  network = DualStackNetwork();
  network.dhcp_range6.reset();
  EXPECT_FALSE(have.SameShape(DesiredNetworkFacts(network)));
  EXPECT_FALSE(have.SameShape(DesiredNetworkFacts(BaseNetwork())));
}

TEST(NetworkXml, DualStackWithoutDomainRedefinesForDnsChanges) {
  Network network = DualStackNetwork();
  LibvirtNetworkFacts with_domain = DesiredNetworkFacts(network);
  EXPECT_FALSE(with_domain.dns_names_repeat);
  network.domain.clear();
  LibvirtNetworkFacts have = DesiredNetworkFacts(network);
  // Without a domain A and AAAA records share the bare name: libvirt cannot change them live.
  EXPECT_TRUE(have.dns_names_repeat);
  EXPECT_TRUE(have.HostsUpdateLive(have));
  Network added = network;
  Host extra = added.hosts[0];
  extra.name = "lxdev03";
  extra.address = *Ipv4Address::Parse("10.1.1.30");
  extra.address6 = *Ipv6Address::Parse("fd00:77::1e");
  added.hosts.push_back(extra);
  EXPECT_FALSE(DesiredNetworkFacts(added).HostsUpdateLive(have));
  // Control: with a domain (or IPv4 only) the same change is a live update.
  Network added_with_domain = added;
  added_with_domain.domain = "devops.test";
  EXPECT_TRUE(DesiredNetworkFacts(added_with_domain).HostsUpdateLive(with_domain));
  Network ipv4_only = added;
  ipv4_only.address6.reset();
  Network ipv4_before = network;
  ipv4_before.address6.reset();
  EXPECT_TRUE(DesiredNetworkFacts(ipv4_only).HostsUpdateLive(DesiredNetworkFacts(ipv4_before)));
}

TEST(NetworkXml, DuidLlIsBuiltFromTheMac) {
  EXPECT_EQ(DuidLl(*MacAddress::Parse("52:54:00:AB:CD:EF")), "00:03:00:01:52:54:00:ab:cd:ef");
  EXPECT_EQ(DhcpHost6Xml("", "web", "fd00::1c"), "<host name='web' ip='fd00::1c'/>");
}

}  // namespace
}  // namespace virtnat
