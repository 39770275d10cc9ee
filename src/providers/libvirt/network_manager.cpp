#include "providers/libvirt/network_manager.h"

#include <fmt/format.h>

#include "plan/desired_state.h"
#include "providers/libvirt/network_xml.h"
#include "providers/standalone/host_bridge.h"

namespace virtnat {
namespace {

std::string ShapeDifference(const LibvirtNetworkFacts& have, const LibvirtNetworkFacts& want) {
  std::vector<std::string> changed;
  if (have.forward_mode != want.forward_mode) changed.push_back("forward mode");
  if (have.bridge != want.bridge) changed.push_back("bridge");
  if (have.domain != want.domain) changed.push_back("domain");
  if (have.address != want.address) changed.push_back("address");
  if (have.dhcp_range != want.dhcp_range) changed.push_back("dhcp_range");
  if (have.address6 != want.address6) changed.push_back("address6");
  if (have.dhcp_range6 != want.dhcp_range6) changed.push_back("dhcp_range6");
  if (have.nat_ipv6 != want.nat_ipv6) changed.push_back("nat6");
  if (!want.HostsUpdateLive(have)) changed.push_back("DNS hosts of both families");
  std::string text;
  for (const auto& item : changed) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// Deletes then adds host entries of one section; returns how many changed. `ip_index`: the
// <ip> element whose DHCP hosts these are (-1 for the DNS section).
int UpdateHosts(LibvirtClient& client, const std::string& name, bool dhcp, int ip_index,
                const std::set<std::string>& have, const std::set<std::string>& want) {
  int changes = 0;
  for (const auto& entry : have)
    if (!want.contains(entry)) {
      client.UpdateNetworkHost(name, dhcp, false, entry, ip_index);
      ++changes;
    }
  for (const auto& entry : want)
    if (!have.contains(entry)) {
      client.UpdateNetworkHost(name, dhcp, true, entry, ip_index);
      ++changes;
    }
  return changes;
}

}  // namespace

bool ConfigNeedsLibvirt(const Config& config) {
  if (config.settings.vm_lifecycle == VmLifecycle::kLibvirt) return true;
  for (const auto& network : config.networks)
    if (network.provider == NetworkProvider::kLibvirt) return true;
  return false;
}

std::vector<std::string> ApplyLibvirtNetworks(LibvirtClient& client, const Config& config) {
  std::vector<std::string> actions;
  for (const auto& network : config.networks) {
    if (network.provider != NetworkProvider::kLibvirt) continue;
    auto existing = client.FindNetwork(network.name);
    if (!network.define) {
      if (!existing)
        actions.push_back(
            fmt::format("network {}: warning: no such libvirt network (define = "
                        "false: virtnat does not create it)",
                        network.name));
      continue;
    }
    // libvirt's <forward mode='bridge'/> needs the host bridge before the network starts.
    auto ensure_host_bridge = [&] {
      if (NeedsHostBridge(network))
        for (auto& line : StartHostBridge(network)) actions.push_back(std::move(line));
    };
    std::string xml = RenderNetworkXml(network);
    if (!existing) {
      ensure_host_bridge();
      client.DefineNetwork(xml);
      client.StartNetwork(network.name);
      client.SetAutostart(network.name, true);
      actions.push_back(fmt::format("network {}: defined, started, autostart on", network.name));
      continue;
    }
    LibvirtNetworkFacts have = ParseNetworkFacts(client.NetworkXml(network.name));
    LibvirtNetworkFacts want = ParseNetworkFacts(xml);
    if (!have.SameShape(want) || !want.HostsUpdateLive(have)) {
      client.DefineNetwork(RenderNetworkXml(network, have.uuid));
      if (existing->active) client.StopNetwork(network.name);
      // A bridged network that moves to another bridge or mode leaves virtnat's old bridge.
      if (auto stale = StaleHostBridge(have, network)) {
        Network old = network;
        old.bridge = *stale;
        for (auto& line : StopHostBridge(old)) actions.push_back(std::move(line));
      }
      ensure_host_bridge();
      client.StartNetwork(network.name);
      actions.push_back(
          fmt::format("network {}: {} changed: redefined and restarted (guests on "
                      "it lose connectivity until their NICs are reattached)",
                      network.name, ShapeDifference(have, want)));
    } else {
      ensure_host_bridge();
      // Only virtnat's <metadata> differs (a definition from an older virtnat, a new uplink):
      // the stored definition is updated, the running network is left alone. The network
      // hook reads it at the next start (at boot, before `virtnat apply`).
      if (have.bridged != want.bridged) {
        client.DefineNetwork(RenderNetworkXml(network, have.uuid));
        actions.push_back(fmt::format(
            "network {}: definition updated (what the network hook needs to build the host "
            "bridge at start)",
            network.name));
      }
      // The same shape: each family's <ip> sits where the config would put it.
      int changes =
          UpdateHosts(client, network.name, true, have.ip_index, have.dhcp_hosts, want.dhcp_hosts) +
          UpdateHosts(client, network.name, true, have.ip6_index, have.dhcp_hosts6,
                      want.dhcp_hosts6) +
          UpdateHosts(client, network.name, false, -1, have.dns_hosts, want.dns_hosts);
      if (changes > 0)
        actions.push_back(
            fmt::format("network {}: {} host entries updated live", network.name, changes));
      if (!existing->active) {
        client.StartNetwork(network.name);
        actions.push_back(fmt::format("network {}: started", network.name));
      }
    }
    if (!existing->autostart) client.SetAutostart(network.name, true);
  }
  return actions;
}

std::vector<std::string> StartLibvirtNetwork(LibvirtClient& client, const Config& config,
                                             const Network& network) {
  if (!client.FindNetwork(network.name)) {
    Config single = config;
    single.networks = {network};
    return ApplyLibvirtNetworks(client, single);
  }
  std::vector<std::string> actions;
  if (NeedsHostBridge(network)) actions = StartHostBridge(network);
  client.StartNetwork(network.name);
  actions.push_back(fmt::format("network {}: started", network.name));
  return actions;
}

std::vector<std::string> StopLibvirtNetwork(LibvirtClient& client, const Network& network,
                                            bool undefine) {
  std::vector<std::string> actions;
  if (undefine) {
    client.UndefineNetwork(network.name);
    actions.push_back(fmt::format("network {}: stopped and undefined", network.name));
  } else {
    client.StopNetwork(network.name);
    actions.push_back(fmt::format("network {}: stopped", network.name));
  }
  if (NeedsHostBridge(network))
    for (auto& line : StopHostBridge(network)) actions.push_back(std::move(line));
  return actions;
}

std::map<std::string, std::set<std::string>> RunningDomainsFromLibvirt(LibvirtClient& client,
                                                                       const Config& config) {
  HostMacs host_macs = BuildHostMacs(config);
  std::map<std::string, std::set<std::string>> domains;
  for (const auto& domain : client.RunningDomains()) {
    auto hosts = HostsOfDomain(host_macs, domain.name, domain.macs);
    if (!hosts.empty()) domains[domain.name] = hosts;
  }
  return domains;
}

}  // namespace virtnat
