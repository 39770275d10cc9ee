// provider = "libvirt", mode = "bridged": libvirt's <forward mode='bridge'/> attaches guests to
// a host bridge that must exist before the network starts. virtnat creates that bridge through
// netlink (LinkManager), marks it as its own with the interface alias "virtnat:NETWORK",
// enslaves the uplink and, on stop, releases the uplink (never deletes it) and deletes only a
// bridge it created. The plans are pure; StartHostBridge/StopHostBridge run them in the calling
// process's network namespace.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "providers/standalone/link_manager.h"

namespace virtnat {

// What the kernel has now for one bridged network.
struct HostBridgeLinks {
  std::optional<LinkFacts> bridge;
  std::optional<LinkFacts> uplink;
  std::string uplink_master;                    // the uplink's master's name, if it has one
  std::vector<Ipv4Interface> bridge_addresses;  // IPv4 addresses on the bridge
  std::vector<Ipv4Interface> uplink_addresses;  // IPv4 addresses on the uplink
};

enum class HostBridgeStep {
  kCreateBridge,   // STP off, the uplink's MAC, alias HostBridgeAlias
  kEnslaveUplink,  // the uplink becomes a port of the bridge
  kUplinkUp,
  kAddAddress,  // the network's address (when it has one) on the bridge
  kBridgeUp,
};

enum class HostBridgeStopStep { kReleaseUplink, kDeleteBridge };

struct HostBridgeStopPlan {
  std::vector<HostBridgeStopStep> steps;
  std::string note;  // why something is left in place; empty when nothing is
};

// Networks that get a host bridge from virtnat: provider libvirt, define = true, mode bridged.
bool NeedsHostBridge(const Network& network);

// "virtnat:NETWORK", the alias of a bridge virtnat created for this network.
std::string HostBridgeAlias(const Network& network);

// The steps that bring the links to the network's wanted state, in order; none when all is in
// place. An existing bridge is used as it is (virtnat does not change its settings). Throws
// RuntimeFailure before anything changes when the bridge's name belongs to a link that is not
// a bridge, the uplink is missing, is a port of another master, or carries IPv4 addresses
// (enslaving it would cut the host's own traffic over it).
std::vector<HostBridgeStep> PlanHostBridgeStart(const Network& network,
                                                const HostBridgeLinks& links);

// Releases the uplink and deletes the bridge when virtnat created it (its alias); a bridge
// somebody else made is left as it is, uplink included.
HostBridgeStopPlan PlanHostBridgeStop(const Network& network, const HostBridgeLinks& links);

// The adapters: read the links, run the plan; one line "network X: ..." per action. A bridge
// created by a start that then fails is deleted again. Throw RuntimeFailure.
std::vector<std::string> StartHostBridge(const Network& network);
std::vector<std::string> StopHostBridge(const Network& network);

}  // namespace virtnat
