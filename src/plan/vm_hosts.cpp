#include "plan/vm_hosts.h"

namespace virtnat {

void MatchConfigHosts(const Config& config, const std::string& domain_name,
                      std::vector<VmInterface>& interfaces) {
  auto assign = [](VmInterface& nic, const Network& network, const Host& host) {
    nic.host = host.name;
    nic.host_network = network.name;
    nic.host_address = host.address.ToString();
  };
  bool named_matched = false;
  for (auto& nic : interfaces) {
    auto mac = MacAddress::Parse(nic.mac);
    if (!mac || *mac == MacAddress{}) continue;
    for (const auto& network : config.networks)
      for (const auto& host : network.hosts)
        if (nic.host.empty() && host.mac == *mac) assign(nic, network, host);
    if (!nic.host.empty() && nic.host == domain_name) named_matched = true;
  }
  if (named_matched) return;
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
  const auto found = config.FindHost(domain_name);
  const Network* network = found.first;
  const Host* host = found.second;
  if (!host) return;
  auto on_network = [&](const VmInterface& nic) {
    return (nic.type == "network" && nic.source == network->name) ||
           (!nic.bridge.empty() && nic.bridge == network->bridge);
  };
  for (auto& nic : interfaces)
    if (nic.host.empty() && on_network(nic)) {
      assign(nic, *network, *host);
      return;
    }
  if (interfaces.size() == 1 && interfaces[0].host.empty()) assign(interfaces[0], *network, *host);
}

}  // namespace virtnat
