#include "plan/desired_state.h"

namespace virtnat {

namespace {
template <typename Address>
std::vector<BasicPortMapping<Address>> Expand(const Forward& forward,
                                              const std::optional<Address>& listen,
                                              const Address& target) {
  std::vector<BasicPortMapping<Address>> mappings;
  mappings.reserve(forward.protocols.size() * forward.port.Size());
  for (auto protocol : forward.protocols)
    for (int offset = 0; offset < forward.port.Size(); ++offset)
      mappings.push_back({listen, protocol, static_cast<std::uint16_t>(forward.port.first + offset),
                          target, static_cast<std::uint16_t>(forward.to_port.first + offset)});
  return mappings;
}
}  // namespace

std::vector<PortMapping> ExpandForward(const Forward& forward) {
  if (!forward.open4) return {};
  return Expand(forward, forward.listen, forward.target);
}

std::vector<PortMapping6> ExpandForward6(const Forward& forward) {
  if (!forward.open6 || !forward.target6) return {};
  return Expand(forward, forward.listen6, *forward.target6);
}

std::string ForwardHost(const Config& config, const Forward& forward) {
  if (!forward.host.empty()) return forward.host;
  auto [network, host] = forward.open4 || !forward.target6
                             ? config.FindHostByAddress(forward.target)
                             : config.FindHostByAddress(*forward.target6);
  return host ? host->name : "";
}

bool IsForwardActive(const Config& config, const Forward& forward, const RunningHosts& running) {
  if (config.settings.vm_lifecycle == VmLifecycle::kIgnore) return true;
  std::string host = ForwardHost(config, forward);
  return host.empty() || running.contains(host);  // an address no VM owns: nothing to follow
}

bool IsHostForward(const Config& config, const Forward& forward) {
  const Network* network = forward.network.empty() ? nullptr : config.FindNetwork(forward.network);
  return !network || network->HostFirewalled();
}

DesiredState BuildDesiredState(const Config& config, const RunningHosts& running) {
  DesiredState state{config.settings, {}, {}, config.DelegatesFirewall()};
  // Networks the host's firewall does not carry (Network::HostFirewalled), and the forwards to
  // them, are their drivers' alone.
  for (const auto& network : config.networks)
    if (network.HostFirewalled()) state.networks.push_back(network);
  state.forwards.reserve(config.forwards.size());
  for (const auto& forward : config.forwards)
    if (IsHostForward(config, forward))
      state.forwards.push_back({forward, ForwardHost(config, forward),
                                IsForwardActive(config, forward, running), ExpandForward(forward),
                                ExpandForward6(forward)});
  return state;
}

HostMacs BuildHostMacs(const Config& config) {
  HostMacs host_macs;
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts)
      host_macs[host.name] = host.mac == MacAddress{} ? "" : host.mac.ToString();
  return host_macs;
}

std::set<std::string> HostsOfDomain(const HostMacs& host_macs, const std::string& domain,
                                    const std::set<std::string>& macs) {
  std::set<std::string> hosts;
  for (const auto& [host, mac] : host_macs)
    if (host == domain || (!mac.empty() && macs.contains(mac))) hosts.insert(host);
  return hosts;
}

Config WithoutNetworks(Config config, const std::set<std::string>& networks) {
  if (networks.empty()) return config;
  std::erase_if(config.networks,
                [&](const Network& network) { return networks.contains(network.name); });
  std::erase_if(config.forwards,
                [&](const Forward& forward) { return networks.contains(forward.network); });
  return config;
}

}  // namespace virtnat
