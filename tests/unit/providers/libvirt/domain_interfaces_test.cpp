#include "providers/libvirt/domain_interfaces.h"
#include "plan/vm_hosts.h"

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include "base/errors.h"
#include "config/config_loader.h"
#include "lab_network_config.h"

namespace virtnat {
namespace {

// A running domain's live XML as libvirt 9 writes it: a network NIC (with the bridge libvirt
// put it on), a bridge NIC, a direct (macvtap) NIC, a user-mode NIC and a vhost-user NIC.
constexpr const char* kLiveXml = R"(<domain type='kvm' id='3'>
  <name>lxdev01</name>
  <devices>
    <interface type='network'>
      <mac address='02:ff:0a:0a:06:1c'/>
      <source network='nat_bridge' portid='5b0b0c5e-1111-2222-3333-444455556666' bridge='nbr0'/>
      <target dev='vnet3'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:aa:bb:cc'/>
      <source bridge='br-lan'/>
      <target dev='vnet4'/>
      <model type='e1000e'/>
    </interface>
    <interface type='direct'>
      <mac address='52:54:00:00:00:02'/>
      <source dev='eno1' mode='bridge'/>
      <target dev='macvtap0'/>
      <model type='virtio'/>
    </interface>
    <interface type='user'>
      <mac address='52:54:00:00:00:03'/>
      <model type='rtl8139'/>
    </interface>
    <interface type='vhostuser'>
      <mac address='52:54:00:00:00:04'/>
      <source type='unix' path='/run/vhost.sock' mode='server'/>
    </interface>
  </devices>
</domain>)";

TEST(DomainInterfaces, EveryInterfaceTypeModelMacSourceAndTarget) {
  auto nics = ParseDomainInterfaces(kLiveXml, "libvirt");
  ASSERT_EQ(nics.size(), 5u);

  EXPECT_EQ(nics[0].type, "network");
  EXPECT_EQ(nics[0].model, "virtio");
  EXPECT_EQ(nics[0].mac, "02:FF:0A:0A:06:1C");  // upper case, like the config's
  EXPECT_EQ(nics[0].source_type, "network");
  EXPECT_EQ(nics[0].source, "nat_bridge");
  EXPECT_EQ(nics[0].bridge, "nbr0");
  EXPECT_EQ(nics[0].target, "vnet3");

  EXPECT_EQ(nics[1].type, "bridge");
  EXPECT_EQ(nics[1].model, "e1000e");
  EXPECT_EQ(nics[1].source_type, "bridge");
  EXPECT_EQ(nics[1].source, "br-lan");
  EXPECT_EQ(nics[1].bridge, "br-lan");
  EXPECT_EQ(nics[1].target, "vnet4");

  EXPECT_EQ(nics[2].type, "direct");
  EXPECT_EQ(nics[2].source_type, "dev");
  EXPECT_EQ(nics[2].source, "eno1");
  EXPECT_EQ(nics[2].bridge, "");

  EXPECT_EQ(nics[3].type, "user");
  EXPECT_EQ(nics[3].model, "rtl8139");
  EXPECT_EQ(nics[3].source, "");
  EXPECT_EQ(nics[3].target, "");

  EXPECT_EQ(nics[4].type, "vhostuser");
  EXPECT_EQ(nics[4].source_type, "path");
  EXPECT_EQ(nics[4].source, "/run/vhost.sock");
  EXPECT_EQ(nics[4].model, "");

  for (const auto& nic : nics) EXPECT_TRUE(nic.addresses.empty());  // only libvirt knows them
}

TEST(DomainInterfaces, InactiveDefinitionHasNoTargetNorBridge) {
  auto nics = ParseDomainInterfaces(R"(<domain type='qemu'><name>off</name><devices>
    <interface type='network'><mac address='52:54:00:12:34:56'/><source network='default'/>
    <model type='virtio'/></interface></devices></domain>)",
                                    "libvirt");
  ASSERT_EQ(nics.size(), 1u);
  EXPECT_EQ(nics[0].source, "default");
  EXPECT_EQ(nics[0].bridge, "");
  EXPECT_EQ(nics[0].target, "");
}

TEST(DomainInterfaces, NoDevicesNoInterfacesAndTextThatIsNoMacStays) {
  EXPECT_TRUE(ParseDomainInterfaces("<domain><name>empty</name></domain>", "x").empty());
  auto nics = ParseDomainInterfaces(
      "<domain><devices><interface type='ethernet'><mac address='not-a-mac'/>"
      "<target dev='tap7'/></interface></devices></domain>",
      "x");
  ASSERT_EQ(nics.size(), 1u);
  EXPECT_EQ(nics[0].mac, "not-a-mac");
  EXPECT_EQ(nics[0].target, "tap7");
}

TEST(DomainInterfaces, MalformedNamesSourceAndLine) {
  try {
    ParseDomainInterfaces("<domain>\n<devices>\n<interface type='network'>\n</domain>", "dom");
    FAIL() << "no exception";
  } catch (const BadInput& error) {
    EXPECT_EQ(std::string(error.what()).rfind("dom:4: domain XML:", 0), 0u) << error.what();
  }
  EXPECT_THROW(ParseDomainInterfaces("<network/>", "dom"), BadInput);
}

TEST(DomainInterfaces, StateNamesAreVirsh) {
  EXPECT_EQ(DomainStateName(VIR_DOMAIN_RUNNING), "running");
  EXPECT_EQ(DomainStateName(VIR_DOMAIN_SHUTOFF), "shut off");
  EXPECT_EQ(DomainStateName(VIR_DOMAIN_PAUSED), "paused");
  EXPECT_EQ(DomainStateName(VIR_DOMAIN_CRASHED), "crashed");
  EXPECT_EQ(DomainStateName(12345), "no state");
}

Config LabConfig() {
  Diagnostics diagnostics;
  Config config = ParseConfig({{"virtnat.toml", testing::kLabNetworkConfig}}, diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors());
  return config;
}

TEST(DomainInterfaces, HostByMacWhateverTheDomainIsCalled) {
  Config config = LabConfig();
  auto nics = ParseDomainInterfaces(kLiveXml, "libvirt");
  MatchConfigHosts(config, "some-other-name", nics);
  EXPECT_EQ(nics[0].host, "lxdev01");  // 02:FF:0A:0A:06:1C is lxdev01's MAC
  EXPECT_EQ(nics[0].host_network, "nat_bridge");
  EXPECT_EQ(nics[0].host_address, "10.1.1.28");
  for (std::size_t i = 1; i < nics.size(); ++i) EXPECT_EQ(nics[i].host, "") << i;
}

TEST(DomainInterfaces, HostByNameOnlyForTheInterfaceOnItsNetwork) {
  Config config = LabConfig();
  // lxdev02's MAC comes from the mac_prefix (…:1D); this domain has other MACs, so its name
  // decides, and only the NIC on nbr0 is lxdev02.
  auto nics = ParseDomainInterfaces(R"(<domain><name>lxdev02</name><devices>
    <interface type='bridge'><mac address='52:54:00:00:00:09'/><source bridge='br-lan'/></interface>
    <interface type='bridge'><mac address='52:54:00:00:00:0a'/><source bridge='nbr0'/></interface>
    </devices></domain>)",
                                    "x");
  MatchConfigHosts(config, "lxdev02", nics);
  EXPECT_EQ(nics[0].host, "");
  EXPECT_EQ(nics[1].host, "lxdev02");
  EXPECT_EQ(nics[1].host_address, "10.1.1.29");

  // A single NIC elsewhere is still that host (the hook would follow the domain by name).
  auto single = ParseDomainInterfaces(R"(<domain><devices><interface type='network'>
    <mac address='52:54:00:00:00:0b'/><source network='default'/></interface></devices></domain>)",
                                      "x");
  MatchConfigHosts(config, "lxdev02", single);
  EXPECT_EQ(single[0].host, "lxdev02");

  // Control: a domain that is no host and has no host's MAC matches nothing.
  auto stranger = single;
  stranger[0].host.clear();
  MatchConfigHosts(config, "stranger", stranger);
  EXPECT_EQ(stranger[0].host, "");
}

}  // namespace
}  // namespace virtnat
