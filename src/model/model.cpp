#include "model/model.h"

#include <fmt/format.h>

namespace virtnat {

const Network* Config::FindNetwork(const std::string& name) const {
  for (const auto& network : networks)
    if (network.name == name) return &network;
  return nullptr;
}

std::pair<const Network*, const Host*> Config::FindHost(const std::string& name) const {
  for (const auto& network : networks)
    for (const auto& host : network.hosts)
      if (host.name == name) return {&network, &host};
  return {nullptr, nullptr};
}

std::pair<const Network*, const Host*> Config::FindHostByAddress(const Ipv4Address& address) const {
  for (const auto& network : networks)
    for (const auto& host : network.hosts)
      if (host.address == address) return {&network, &host};
  return {nullptr, nullptr};
}

std::pair<const Network*, const Host*> Config::FindHostByAddress(const Ipv6Address& address) const {
  for (const auto& network : networks)
    for (const auto& host : network.hosts)
      if (host.address6 == address) return {&network, &host};
  return {nullptr, nullptr};
}

std::string ToString(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kNat:
      return "nat";
    case NetworkMode::kRouted:
      return "routed";
    case NetworkMode::kIsolated:
      return "isolated";
    case NetworkMode::kOpen:
      return "open";
    case NetworkMode::kBridged:
      return "bridged";
  }
  return "?";
}

std::string ToString(NetworkProvider provider) {
  switch (provider) {
    case NetworkProvider::kExternal:
      return "external";
    case NetworkProvider::kLibvirt:
      return "libvirt";
    case NetworkProvider::kStandalone:
      return "standalone";
    case NetworkProvider::kOvn:
      return "ovn";
  }
  return "?";
}

std::string ToString(Protocol protocol) {
  return protocol == Protocol::kTcp ? "tcp" : "udp";
}

std::string ProtocolsToString(const std::vector<Protocol>& protocols) {
  std::string text;
  for (auto protocol : protocols) text += (text.empty() ? "" : ",") + ToString(protocol);
  return text;
}

std::string ToString(const PortRange& range) {
  return range.first == range.last ? std::to_string(range.first)
                                   : fmt::format("{}-{}", range.first, range.last);
}

}  // namespace virtnat
