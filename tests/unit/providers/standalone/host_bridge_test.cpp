#include "providers/standalone/host_bridge.h"

#include <gtest/gtest.h>

#include "test_config.h"
#include "providers/libvirt/network_xml.h"

namespace virtnat {
namespace {

using Step = HostBridgeStep;
using StopStep = HostBridgeStopStep;

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

LinkFacts Link(int index, const std::string& kind, bool up, int master = 0,
               const std::string& alias = "") {
  LinkFacts facts;
  facts.index = index;
  facts.kind = kind;
  facts.up = up;
  facts.master_index = master;
  facts.alias = alias;
  return facts;
}

// The links after a start: virtnat's bridge (index 10) with the uplink (index 3) in it.
HostBridgeLinks Started(const Network& network) {
  HostBridgeLinks links;
  links.bridge = Link(10, "bridge", true, 0, HostBridgeAlias(network));
  links.uplink = Link(3, "veth", true, 10);
  links.uplink_master = "br-lan";
  return links;
}

std::string RuntimeError(const Network& network, const HostBridgeLinks& links) {
  try {
    PlanHostBridgeStart(network, links);
  } catch (const RuntimeFailure& failure) {
    return failure.what();
  }
  return "";
}

TEST(HostBridge, OnlyDefinedBridgedLibvirtNetworksGetOne) {
  Network network = Bridged();
  EXPECT_TRUE(NeedsHostBridge(network));
  EXPECT_EQ(HostBridgeAlias(network), "virtnat:lan");
  Network other = network;
  other.define = false;  // libvirt's own network: not virtnat's to build
  EXPECT_FALSE(NeedsHostBridge(other));
  other = network;
  other.provider = NetworkProvider::kStandalone;  // StartStandaloneNetwork builds it
  EXPECT_FALSE(NeedsHostBridge(other));
  other = network;
  other.provider = NetworkProvider::kExternal;  // the admin's bridge
  EXPECT_FALSE(NeedsHostBridge(other));
  other = network;
  other.mode = NetworkMode::kNat;  // libvirt creates its own bridge
  EXPECT_FALSE(NeedsHostBridge(other));
}

TEST(HostBridge, FreshStartCreatesEnslavesAndBringsUp) {
  HostBridgeLinks links;
  links.uplink = Link(3, "veth", false);
  EXPECT_EQ(PlanHostBridgeStart(Bridged(), links),
            (std::vector<Step>{Step::kCreateBridge, Step::kEnslaveUplink, Step::kUplinkUp,
                               Step::kBridgeUp}));
  links.uplink->up = true;
  EXPECT_EQ(PlanHostBridgeStart(Bridged(), links),
            (std::vector<Step>{Step::kCreateBridge, Step::kEnslaveUplink, Step::kBridgeUp}));
}

TEST(HostBridge, SecondStartDoesNothing) {
  Network network = Bridged();
  EXPECT_TRUE(PlanHostBridgeStart(network, Started(network)).empty());
}

TEST(HostBridge, RepairsWhatIsMissing) {
  Network network = Bridged();
  HostBridgeLinks links = Started(network);
  links.uplink->master_index = 0;  // somebody released it
  links.uplink_master.clear();
  links.bridge->up = false;
  EXPECT_EQ(PlanHostBridgeStart(network, links),
            (std::vector<Step>{Step::kEnslaveUplink, Step::kBridgeUp}));
}

TEST(HostBridge, AddressOfTheNetworkGoesOnTheBridge) {
  Network network = Bridged("address = \"192.0.2.1/24\"\n");
  HostBridgeLinks links = Started(network);
  EXPECT_EQ(PlanHostBridgeStart(network, links), (std::vector<Step>{Step::kAddAddress}));
  links.bridge_addresses.push_back(network.address);
  EXPECT_TRUE(PlanHostBridgeStart(network, links).empty());
}

TEST(HostBridge, UsesAnExistingBridgeAsItIs) {
  Network network = Bridged();
  HostBridgeLinks links;
  links.bridge = Link(10, "bridge", true);  // the admin's, no alias
  links.uplink = Link(3, "veth", true);
  EXPECT_EQ(PlanHostBridgeStart(network, links), (std::vector<Step>{Step::kEnslaveUplink}));
}

TEST(HostBridge, RefusesBeforeChangingAnything) {
  Network network = Bridged();
  HostBridgeLinks links;
  EXPECT_EQ(RuntimeError(network, links), "uplink eth1 does not exist");

  links.uplink = Link(3, "veth", true, 7);
  links.uplink_master = "br0";
  EXPECT_EQ(RuntimeError(network, links),
            "uplink eth1 is a port of br0: virtnat does not take it away; release it first");

  links.uplink = Link(3, "veth", true);
  links.uplink_addresses = {*Ipv4Interface::Parse("198.51.100.1/24")};
  EXPECT_NE(RuntimeError(network, links).find("uplink eth1 has the address 198.51.100.1/24"),
            std::string::npos);

  links.uplink_addresses.clear();
  links.bridge = Link(10, "veth", true);
  EXPECT_EQ(RuntimeError(network, links), "br-lan exists and is not a bridge (veth)");
}

TEST(HostBridge, AnUplinkAlreadyInTheBridgeMayKeepItsAddress) {
  // The admin's setup, in place before virtnat: nothing to refuse, nothing to do.
  Network network = Bridged();
  HostBridgeLinks links = Started(network);
  links.uplink_addresses = {*Ipv4Interface::Parse("198.51.100.1/24")};
  EXPECT_TRUE(PlanHostBridgeStart(network, links).empty());
}

TEST(HostBridge, StopReleasesTheUplinkAndDeletesOnlyVirtnatsBridge) {
  Network network = Bridged();
  HostBridgeStopPlan plan = PlanHostBridgeStop(network, Started(network));
  EXPECT_EQ(plan.steps, (std::vector<StopStep>{StopStep::kReleaseUplink, StopStep::kDeleteBridge}));
  EXPECT_TRUE(plan.note.empty());

  HostBridgeLinks released = Started(network);
  released.uplink->master_index = 0;
  EXPECT_EQ(PlanHostBridgeStop(network, released).steps,
            (std::vector<StopStep>{StopStep::kDeleteBridge}));

  HostBridgeLinks foreign = Started(network);
  foreign.bridge->alias = "";
  plan = PlanHostBridgeStop(network, foreign);
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_NE(plan.note.find("bridge br-lan left in place"), std::string::npos) << plan.note;

  foreign.bridge->alias = "virtnat:other";  // made for another network
  EXPECT_TRUE(PlanHostBridgeStop(network, foreign).steps.empty());

  HostBridgeLinks not_bridge;
  not_bridge.bridge = Link(10, "dummy", true);
  plan = PlanHostBridgeStop(network, not_bridge);
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_EQ(plan.note, "br-lan left in place: it is not a bridge");

  EXPECT_TRUE(PlanHostBridgeStop(network, HostBridgeLinks{}).steps.empty());
  EXPECT_TRUE(PlanHostBridgeStop(network, HostBridgeLinks{}).note.empty());
}

// At boot the network hook rebuilds the network from virtnat's <metadata> in libvirt's XML
// (no config, no /run/virtnat): in every state of the links it plans exactly what apply plans
// for the config's network, at start and at stop.
TEST(HostBridge, TheHookPlansWhatApplyPlans) {
  for (const std::string& extra : {std::string(), std::string("address = \"192.0.2.1/24\"\n")}) {
    Network config = Bridged(extra);
    Network hook = BridgedNetworkFromFacts(ParseNetworkFacts(RenderNetworkXml(config)));
    EXPECT_EQ(HostBridgeAlias(hook), HostBridgeAlias(config));
    EXPECT_TRUE(NeedsHostBridge(hook));
    std::vector<HostBridgeLinks> states;
    HostBridgeLinks fresh;  // after a reboot: no bridge, the uplink down
    fresh.uplink = Link(3, "veth", false);
    states.push_back(fresh);
    states.push_back(Started(config));
    HostBridgeLinks released = Started(config);
    released.uplink->master_index = 0;
    released.uplink_master.clear();
    released.bridge->up = false;
    states.push_back(released);
    HostBridgeLinks foreign;  // the admin's bridge
    foreign.bridge = Link(10, "bridge", true);
    foreign.uplink = Link(3, "veth", true);
    states.push_back(foreign);
    for (const auto& links : states) {
      EXPECT_EQ(PlanHostBridgeStart(hook, links), PlanHostBridgeStart(config, links)) << extra;
      HostBridgeStopPlan by_hook = PlanHostBridgeStop(hook, links);
      HostBridgeStopPlan by_apply = PlanHostBridgeStop(config, links);
      EXPECT_EQ(by_hook.steps, by_apply.steps) << extra;
      EXPECT_EQ(by_hook.note, by_apply.note) << extra;
    }
    HostBridgeLinks missing;  // the uplink is gone: both refuse with the same words
    EXPECT_EQ(RuntimeError(hook, missing), RuntimeError(config, missing));
  }
}

}  // namespace
}  // namespace virtnat
