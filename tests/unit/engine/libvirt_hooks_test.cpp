// The network hook's decision: what it does for each libvirt call and the XML on its stdin.
#include "engine/libvirt_hooks.h"

#include <gtest/gtest.h>

#include <sstream>

#include "providers/libvirt/network_xml.h"
#include "providers/standalone/host_bridge.h"
#include "test_config.h"

namespace virtnat {
namespace {

// libvirt's stdin for a network hook: the network's live XML inside <hookData>.
std::string HookData(const std::string& network_xml) {
  return "<hookData>\n" + network_xml + "</hookData>";
}

Network Bridged(const std::string& extra = "") {
  Diagnostics diagnostics;
  Config config = testing::Parse(
      "[[network]]\nname = \"lan\"\nmode = \"bridged\"\nprovider = \"libvirt\"\n"
      "bridge = \"br-lan\"\nuplink = \"eth1\"\n" +
          extra,
      diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  return config.networks.at(0);
}

HookCall Call(const std::string& network, const std::string& operation) {
  return HookCall{network, operation, operation == "stopped" ? "end" : "begin", "-"};
}

// libvirt's own rendering of a definition virtnat made: other attribute quotes, a uuid, a MAC.
std::string AsLibvirtWritesIt(const std::string& uplink, const std::string& address = "") {
  return "<network>\n  <name>lan</name>\n  <uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>\n"
         "  <metadata>\n    <virtnat:bridged "
         "xmlns:virtnat=\"https://virtnat.example/xmlns/network/1\" uplink=\"" +
         uplink + "\"" + (address.empty() ? "" : " address=\"" + address + "\"") +
         "/>\n  </metadata>\n  <forward mode='bridge'/>\n  <bridge name='br-lan'/>\n</network>\n";
}

TEST(NetworkHook, StartBeginBuildsTheHostBridgeFromTheMetadata) {
  NetworkHookDecision decision =
      DecideNetworkHook(Call("lan", "start"), HookData(RenderNetworkXml(Bridged())));
  EXPECT_EQ(decision.action, NetworkHookAction::kStartHostBridge);
  EXPECT_EQ(decision.error, "");
  EXPECT_EQ(decision.exit_status, 0);
  ASSERT_TRUE(decision.network);
  // Exactly the network apply would build: same name (so the same alias), bridge and uplink.
  Network want = Bridged();
  EXPECT_EQ(decision.network->name, want.name);
  EXPECT_EQ(decision.network->bridge, want.bridge);
  EXPECT_EQ(decision.network->uplink, want.uplink);
  EXPECT_EQ(decision.network->has_address, want.has_address);
  EXPECT_EQ(HostBridgeAlias(*decision.network), HostBridgeAlias(want));
  EXPECT_TRUE(NeedsHostBridge(*decision.network));
}

TEST(NetworkHook, TheAddressComesBackFromLibvirtsRendering) {
  NetworkHookDecision decision =
      DecideNetworkHook(Call("lan", "start"), HookData(AsLibvirtWritesIt("eth1", "10.9.9.2/24")));
  ASSERT_EQ(decision.action, NetworkHookAction::kStartHostBridge) << decision.error;
  EXPECT_TRUE(decision.network->has_address);
  EXPECT_EQ(decision.network->address.ToString(), "10.9.9.2/24");
  Network want = Bridged("address = \"10.9.9.2/24\"\n");
  EXPECT_EQ(ParseNetworkFacts(RenderNetworkXml(want)).bridged,
            ParseNetworkFacts(AsLibvirtWritesIt("eth1", "10.9.9.2/24")).bridged);
}

TEST(NetworkHook, StoppedEndRemovesTheHostBridge) {
  NetworkHookDecision decision =
      DecideNetworkHook(Call("lan", "stopped"), HookData(AsLibvirtWritesIt("eth1")));
  EXPECT_EQ(decision.action, NetworkHookAction::kStopHostBridge);
  ASSERT_TRUE(decision.network);
  EXPECT_EQ(decision.network->bridge, "br-lan");
  EXPECT_EQ(decision.network->uplink, "eth1");
}

TEST(NetworkHook, NetworksWithoutVirtnatsMetadataAreLeftAlone) {
  // libvirt's default network, and a nat network of virtnat's (libvirt makes its bridge).
  std::string libvirt_default =
      "<network><name>default</name><forward mode='nat'/><bridge name='virbr0'/>"
      "<ip address='192.168.122.1' netmask='255.255.255.0'/></network>";
  for (const char* operation : {"start", "stopped"}) {
    NetworkHookDecision decision =
        DecideNetworkHook(Call("default", operation), HookData(libvirt_default));
    EXPECT_EQ(decision.action, NetworkHookAction::kNothing) << operation;
    EXPECT_EQ(decision.error, "") << operation;
    EXPECT_EQ(decision.exit_status, 0) << operation;
  }
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics);
  Network nat = config.networks.at(0);
  nat.provider = NetworkProvider::kLibvirt;
  EXPECT_EQ(DecideNetworkHook(Call(nat.name, "start"), HookData(RenderNetworkXml(nat))).action,
            NetworkHookAction::kNothing);
}

TEST(NetworkHook, OtherOperationsNeedNoXml) {
  EXPECT_TRUE(NetworkHookReadsXml(Call("lan", "start")));
  EXPECT_TRUE(NetworkHookReadsXml(Call("lan", "stopped")));
  for (const char* operation : {"started", "updated"}) {
    EXPECT_FALSE(NetworkHookReadsXml(Call("lan", operation)));
    EXPECT_EQ(DecideNetworkHook(Call("lan", operation), "").action, NetworkHookAction::kEnsureShim);
  }
  for (const char* operation : {"port-created", "port-deleted", "plugged", "whatever"}) {
    EXPECT_FALSE(NetworkHookReadsXml(Call("lan", operation)));
    NetworkHookDecision decision =
        DecideNetworkHook(Call("lan", operation), HookData(AsLibvirtWritesIt("eth1")));
    EXPECT_EQ(decision.action, NetworkHookAction::kNothing) << operation;
    EXPECT_EQ(decision.error, "") << operation;
  }
  // No XML at all (run by hand without stdin): nothing to do, no complaint.
  NetworkHookDecision decision = DecideNetworkHook(Call("lan", "start"), " \n");
  EXPECT_EQ(decision.action, NetworkHookAction::kNothing);
  EXPECT_EQ(decision.error, "");
}

// Bad XML: one line that says what is wrong; nothing is done and libvirt goes on (the network
// is not known to be virtnat's).
TEST(NetworkHook, BadXmlIsOneLineAndChangesNothing) {
  for (const std::string& xml : {std::string("<hookData><network><name>lan</name>"),
                                 std::string("not xml at all"), std::string("<a></b>")}) {
    NetworkHookDecision decision = DecideNetworkHook(Call("lan", "start"), xml);
    EXPECT_EQ(decision.action, NetworkHookAction::kNothing) << xml;
    EXPECT_EQ(decision.exit_status, 0) << xml;
    EXPECT_EQ(decision.error.rfind("network lan start: unreadable network XML on stdin: ", 0), 0u)
        << decision.error;
    EXPECT_EQ(decision.error.find('\n'), std::string::npos) << decision.error;
    EXPECT_NE(decision.error.find("; nothing done"), std::string::npos) << decision.error;
  }
  NetworkHookDecision decision = DecideNetworkHook(Call("lan", "start"), "<hookData/>");
  EXPECT_EQ(decision.action, NetworkHookAction::kNothing);
  EXPECT_EQ(decision.error, "network lan start: no <network> in the XML on stdin; nothing done");
  decision = DecideNetworkHook(Call("other", "start"), HookData(AsLibvirtWritesIt("eth1")));
  EXPECT_EQ(decision.action, NetworkHookAction::kNothing);
  EXPECT_EQ(decision.error, "network other start: the XML on stdin is network lan's; nothing done");
}

// virtnat's metadata that cannot be used: the network cannot work, so libvirt must not start
// it (exit 1, libvirt shows the message); at stop it is only reported.
TEST(NetworkHook, UnusableMetadataFailsTheStartOnly) {
  NetworkHookDecision decision =
      DecideNetworkHook(Call("lan", "start"), HookData(AsLibvirtWritesIt("eth/1")));
  EXPECT_EQ(decision.action, NetworkHookAction::kNothing);
  EXPECT_EQ(decision.exit_status, 1);
  EXPECT_EQ(decision.error,
            "network lan: virtnat's metadata is not usable: uplink 'eth/1' is not a valid "
            "interface name");
  decision = DecideNetworkHook(Call("lan", "stopped"), HookData(AsLibvirtWritesIt("eth/1")));
  EXPECT_EQ(decision.action, NetworkHookAction::kNothing);
  EXPECT_EQ(decision.exit_status, 0);
  EXPECT_FALSE(decision.error.empty());
  decision = DecideNetworkHook(Call("lan", "start"), HookData(AsLibvirtWritesIt("eth1", "bad")));
  EXPECT_EQ(decision.exit_status, 1);
  EXPECT_NE(decision.error.find("address 'bad'"), std::string::npos) << decision.error;
}

// RunNetworkHook with bad XML changes nothing and needs no state: exit 0.
TEST(NetworkHook, RunWithBadXmlExitsZero) {
  StateDir state(::testing::TempDir() + "/virtnat-network-hook-state-does-not-exist");
  std::istringstream input("<hookData><network>");
  EXPECT_EQ(RunNetworkHook(state, Call("lan", "start"), input), 0);
  std::istringstream empty("");
  EXPECT_EQ(RunNetworkHook(state, Call("lan", "stopped"), empty), 0);
}

TEST(QemuHook, TheShimGoesBackOnTopWhenAVmWithForwardsStarts) {
  HookIndex index;
  index.shim = true;
  // A VM that stands for a host: at prepare and start (libvirtd may have re-created its rules
  // above the shim while no VM ran).
  EXPECT_TRUE(QemuHookEnsuresShim(index, "prepare", {"lxdev01"}));
  EXPECT_TRUE(QemuHookEnsuresShim(index, "start", {"lxdev01"}));
  EXPECT_FALSE(QemuHookEnsuresShim(index, "stopped", {"lxdev01"}));
  EXPECT_FALSE(QemuHookEnsuresShim(index, "release", {"lxdev01"}));
  // A VM of nobody's: nothing to do; reconnect ensures it whatever the VM.
  EXPECT_FALSE(QemuHookEnsuresShim(index, "start", {}));
  EXPECT_TRUE(QemuHookEnsuresShim(index, "reconnect", {}));
  // No network's firewall is libvirt's: never.
  index.shim = false;
  EXPECT_FALSE(QemuHookEnsuresShim(index, "start", {"lxdev01"}));
  EXPECT_FALSE(QemuHookEnsuresShim(index, "reconnect", {}));
}

}  // namespace
}  // namespace virtnat
