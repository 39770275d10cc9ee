#include "providers/standalone/host_bridge.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/errors.h"

namespace virtnat {
namespace {

std::string JoinAddresses(const std::vector<Ipv4Interface>& addresses) {
  std::string text;
  for (const auto& address : addresses) text += (text.empty() ? "" : ", ") + address.ToString();
  return text;
}

bool HasAddress(const std::vector<Ipv4Interface>& addresses, const Ipv4Interface& wanted) {
  return std::any_of(addresses.begin(), addresses.end(), [&](const Ipv4Interface& address) {
    return address.address == wanted.address && address.length == wanted.length;
  });
}

HostBridgeLinks Observe(LinkManager& links, const Network& network) {
  HostBridgeLinks now;
  now.bridge = links.Find(network.bridge);
  if (!network.uplink.empty()) now.uplink = links.Find(network.uplink);
  if (now.bridge) now.bridge_addresses = links.Ipv4Addresses(network.bridge);
  if (now.uplink) {
    now.uplink_addresses = links.Ipv4Addresses(network.uplink);
    if (now.uplink->master_index != 0) now.uplink_master = links.NameOf(now.uplink->master_index);
  }
  return now;
}

class Log {
 public:
  explicit Log(const Network& network) : name_(network.name) {}
  void Add(const std::string& text) {
    lines_.push_back(fmt::format("network {}: {}", name_, text));
  }
  std::vector<std::string> Take() { return std::move(lines_); }

 private:
  std::string name_;
  std::vector<std::string> lines_;
};

std::string WithNetwork(const Network& network, const std::string& message) {
  std::string prefix = fmt::format("network {}: ", network.name);
  return message.starts_with(prefix) ? message : prefix + message;
}

}  // namespace

bool NeedsHostBridge(const Network& network) {
  return network.provider == NetworkProvider::kLibvirt && network.define &&
         network.mode == NetworkMode::kBridged;
}

std::string HostBridgeAlias(const Network& network) {
  return "virtnat:" + network.name;
}

std::vector<HostBridgeStep> PlanHostBridgeStart(const Network& network,
                                                const HostBridgeLinks& links) {
  std::vector<HostBridgeStep> steps;
  if (links.bridge && links.bridge->kind != "bridge")
    throw RuntimeFailure(
        fmt::format("{} exists and is not a bridge ({})", network.bridge,
                    links.bridge->kind.empty() ? "a plain device" : links.bridge->kind));
  if (!links.uplink) throw RuntimeFailure(fmt::format("uplink {} does not exist", network.uplink));
  if (network.uplink == network.bridge)
    throw RuntimeFailure(fmt::format("uplink {} is the bridge itself", network.uplink));
  bool enslaved = links.bridge && links.uplink->master_index == links.bridge->index;
  if (!enslaved) {
    if (links.uplink->master_index != 0)
      throw RuntimeFailure(fmt::format(
          "uplink {} is a port of {}: virtnat does not take it away; release it first",
          network.uplink,
          links.uplink_master.empty() ? fmt::format("link {}", links.uplink->master_index)
                                      : links.uplink_master));
    if (!links.uplink_addresses.empty())
      throw RuntimeFailure(fmt::format(
          "uplink {} has the address {}: enslaved to {} it would no longer carry the host's own "
          "traffic; move the address to the bridge (the network's 'address') first",
          network.uplink, JoinAddresses(links.uplink_addresses), network.bridge));
  }
  if (!links.bridge) steps.push_back(HostBridgeStep::kCreateBridge);
  if (!enslaved) steps.push_back(HostBridgeStep::kEnslaveUplink);
  if (!links.uplink->up) steps.push_back(HostBridgeStep::kUplinkUp);
  if (network.has_address && !HasAddress(links.bridge_addresses, network.address))
    steps.push_back(HostBridgeStep::kAddAddress);
  if (!links.bridge || !links.bridge->up) steps.push_back(HostBridgeStep::kBridgeUp);
  return steps;
}

HostBridgeStopPlan PlanHostBridgeStop(const Network& network, const HostBridgeLinks& links) {
  HostBridgeStopPlan plan;
  if (!links.bridge) return plan;
  if (links.bridge->kind != "bridge") {
    plan.note = fmt::format("{} left in place: it is not a bridge", network.bridge);
    return plan;
  }
  if (links.bridge->alias != HostBridgeAlias(network)) {
    plan.note = fmt::format(
        "bridge {} left in place with its ports: virtnat did not create it (its alias is not "
        "\"{}\")",
        network.bridge, HostBridgeAlias(network));
    return plan;
  }
  if (links.uplink && links.uplink->master_index == links.bridge->index)
    plan.steps.push_back(HostBridgeStopStep::kReleaseUplink);
  plan.steps.push_back(HostBridgeStopStep::kDeleteBridge);
  return plan;
}

std::vector<std::string> StartHostBridge(const Network& network) {
  Log log(network);
  bool created = false;
  std::optional<LinkManager> links;
  try {
    links.emplace();
    HostBridgeLinks now = Observe(*links, network);
    std::vector<HostBridgeStep> steps = PlanHostBridgeStart(network, now);
    for (HostBridgeStep step : steps) {
      switch (step) {
        case HostBridgeStep::kCreateBridge: {
          // The uplink's MAC: the host keeps its identity on the LAN, and guests joining with
          // lower MACs never change the bridge's.
          std::optional<MacAddress> mac;
          if (now.uplink->mac != MacAddress{}) mac = now.uplink->mac;
          links->CreateBridge(network.bridge, mac, false);
          created = true;
          links->SetAlias(network.bridge, HostBridgeAlias(network));
          log.Add(fmt::format("bridge {} created (STP off{})", network.bridge,
                              mac ? ", the MAC of " + network.uplink : ""));
          break;
        }
        case HostBridgeStep::kEnslaveUplink:
          links->SetMaster(network.uplink, network.bridge);
          log.Add(fmt::format("uplink {} enslaved to {}", network.uplink, network.bridge));
          break;
        case HostBridgeStep::kUplinkUp:
          links->SetUp(network.uplink);
          log.Add(fmt::format("uplink {} brought up", network.uplink));
          break;
        case HostBridgeStep::kAddAddress:
          links->AddIpv4Address(network.bridge, network.address);
          log.Add(fmt::format("address {} set on {}", network.address.ToString(), network.bridge));
          break;
        case HostBridgeStep::kBridgeUp:
          links->SetUp(network.bridge);
          if (!created) log.Add(fmt::format("bridge {} was down: brought up", network.bridge));
          break;
      }
    }
  } catch (const RuntimeFailure& failure) {
    if (created) {
      try {
        links->Delete(network.bridge);  // also releases the uplink
      } catch (const RuntimeFailure&) {
      }
    }
    throw RuntimeFailure(WithNetwork(network, failure.what()));
  }
  return log.Take();
}

std::vector<std::string> StopHostBridge(const Network& network) {
  Log log(network);
  try {
    LinkManager links;
    HostBridgeStopPlan plan = PlanHostBridgeStop(network, Observe(links, network));
    if (!plan.note.empty()) log.Add(plan.note);
    for (HostBridgeStopStep step : plan.steps) {
      if (step == HostBridgeStopStep::kReleaseUplink) {
        links.SetMaster(network.uplink, "");
        log.Add(fmt::format("uplink {} released from {}", network.uplink, network.bridge));
      } else if (links.Delete(network.bridge)) {
        log.Add(fmt::format("bridge {} removed", network.bridge));
      }
    }
  } catch (const RuntimeFailure& failure) {
    throw RuntimeFailure(WithNetwork(network, failure.what()));
  }
  return log.Take();
}

}  // namespace virtnat
