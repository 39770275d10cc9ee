#include "providers/standalone/standalone_driver.h"

#include <fmt/format.h>

#include "base/errors.h"
#include "providers/external/external_driver.h"
#include "providers/standalone/standalone_network.h"

namespace virtnat {

std::vector<std::string> StandaloneDriver::Realise(const Config&,
                                                   const std::vector<const Network*>& networks) {
  std::vector<std::string> lines;
  for (const Network* network : networks)
    for (auto& line : StartStandaloneNetwork(*network, paths_, StandaloneNeedsForwarding(*network)))
      lines.push_back(std::move(line));
  return lines;
}

std::string StandaloneDriver::State(const Network& network) {
  std::string bridge = BridgeState(network);
  if (bridge != "up") return bridge;
  if (network.ServesDhcp() && !RunningDnsmasqPid(network, paths_))
    return "degraded: dnsmasq not running";
  return "up";
}

// The engine applies the config after start: Realise brings the network up then.
std::vector<std::string> StandaloneDriver::Start(const Config&, const Network&) {
  return {};
}

std::vector<std::string> StandaloneDriver::Stop(const Network& network, bool undefine) {
  if (undefine)
    throw BadInput(fmt::format("virtnat: network '{}' is standalone: use `virtnat network stop`",
                               network.name));
  return StopStandaloneNetwork(network, paths_);
}

std::string StandaloneDriver::Status(const Network& network) {
  StandaloneStatus status = GetStandaloneStatus(network, paths_);
  return fmt::format("network {}: bridge {} {}{}, {} {}, dnsmasq {}", network.name, status.bridge,
                     status.bridge_exists ? (status.bridge_up ? "up" : "down") : "absent",
                     status.bridge_mac ? " (MAC " + status.bridge_mac->ToString() + ")" : "",
                     status.dummy_nic, status.dummy_nic_exists ? "present" : "absent",
                     status.dnsmasq_pid
                         ? "running (pid " + std::to_string(*status.dnsmasq_pid) + ")"
                         : std::string("not running"));
}

std::string StandaloneDriver::Definition(const Network& network) {
  DnsmasqFiles files = RenderDnsmasqFiles(network, paths_);
  return fmt::format("# {}\n{}", paths_.ConfFile(network.name).string(), files.conf);
}

std::vector<NetworkLease> StandaloneDriver::Leases(const Network& network) {
  std::vector<NetworkLease> leases;
  for (const auto& lease : ReadStandaloneLeases(network, paths_))
    leases.push_back(
        {lease.expiry, lease.mac, lease.address.ToString(), lease.hostname, lease.client_id});
  // DHCPv6 leases name no MAC of their own: the one in the client's DUID, when it has one.
  if (network.DualStack())
    for (const auto& lease : ReadStandaloneLeases6(network, paths_))
      leases.push_back(
          {lease.expiry, lease.mac, lease.address.ToString(), lease.hostname, lease.duid});
  return leases;
}

}  // namespace virtnat
