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

}  // namespace
}  // namespace virtnat
