#include "config/validate.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

namespace virtnat {
namespace {

std::string At(const SourceLocation& where) {
  return fmt::format("{}:{}", where.file, where.line);
}

SourceLocation FieldOf(const SourceLocation& object, const std::string& key) {
  return object.Key(key);
}

// provider ovn: the uplink's addresses, a MAC for every host (its port's addresses are
// "MAC IP"), and names of the rows that must not collide between networks.
void ValidateOvnNetworks(const Config& config, Diagnostics& diagnostics) {
  std::map<std::uint32_t, const Network*> uplink_addresses;
  std::map<std::string, std::pair<const Network*, const Host*>> ports;
  for (const auto& network : config.networks) {
    if (network.provider != NetworkProvider::kOvn) continue;
    if (network.uplink_address) {
      const Ipv4Interface& uplink = *network.uplink_address;
      Ipv4Prefix subnet = uplink.Subnet();
      std::uint32_t broadcast = subnet.network.value | ~subnet.Mask();
      auto where = FieldOf(network.where, "uplink_address");
      if (uplink.address == subnet.network || uplink.address.value == broadcast)
        diagnostics.Error(where, fmt::format("{} is the network or broadcast address of {}",
                                             uplink.address.ToString(), subnet.ToString()));
      else if (network.has_address && (network.address.Subnet().Contains(uplink.address) ||
                                       subnet.Contains(network.address.address)))
        diagnostics.Error(where,
                          fmt::format("{} overlaps the network's own subnet {}", uplink.ToString(),
                                      network.address.Subnet().ToString()));
      else if (auto [it, fresh] = uplink_addresses.emplace(uplink.address.value, &network); !fresh)
        diagnostics.Error(where, fmt::format("{} is also the uplink_address of network '{}'",
                                             uplink.address.ToString(), it->second->name));
      if (network.uplink_gateway) {
        auto gateway_where = FieldOf(network.where, "uplink_gateway");
        if (!subnet.Contains(*network.uplink_gateway))
          diagnostics.Error(gateway_where,
                            fmt::format("{} is not on the uplink's subnet {}",
                                        network.uplink_gateway->ToString(), subnet.ToString()));
        else if (*network.uplink_gateway == uplink.address)
          diagnostics.Error(gateway_where, fmt::format("{} is the uplink_address itself",
                                                       network.uplink_gateway->ToString()));
      }
    }
    for (const auto& host : network.hosts) {
      if (host.name.empty()) continue;
      if (host.mac == MacAddress{} && host.address.value != 0)
        diagnostics.Error(host.where,
                          fmt::format("host '{}' of ovn network '{}' needs a mac (or the "
                                      "network's mac_prefix): its port's addresses are \"MAC IP\"",
                                      host.name, network.name));
      // Ports are named NETWORK-HOST: network "a" with host "b-c" and network "a-b" with host
      // "c" would share one.
      std::string port = network.name + "-" + host.name;
      if (auto [it, fresh] = ports.emplace(port, std::pair{&network, &host}); !fresh)
        diagnostics.Error(FieldOf(host.where, "name"),
                          fmt::format("its OVN port '{}' is also the port of host '{}' on "
                                      "network '{}'; rename one",
                                      port, it->second.second->name, it->second.first->name));
    }
  }
}

void ValidateNetworks(Config& config, Diagnostics& diagnostics) {
  std::map<std::string, const Network*> by_name, by_bridge;
  for (auto& network : config.networks) {
    if (network.name.empty()) continue;  // already reported as missing
    if (auto [it, fresh] = by_name.emplace(network.name, &network); !fresh)
      diagnostics.Error(FieldOf(network.where, "name"),
                        fmt::format("duplicate network name '{}', also at {}", network.name,
                                    At(it->second->where)));
    if (!network.bridge.empty())
      if (auto [it, fresh] = by_bridge.emplace(network.bridge, &network); !fresh)
        diagnostics.Error(FieldOf(network.where, "bridge"),
                          fmt::format("bridge '{}' is already used by network '{}'", network.bridge,
                                      it->second->name));
  }
  for (std::size_t i = 0; i < config.networks.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      if (!config.networks[i].has_address || !config.networks[j].has_address) continue;
      auto a = config.networks[i].address.Subnet(), b = config.networks[j].address.Subnet();
      int shorter = std::min(a.length, b.length);
      Ipv4Prefix common{a.network, shorter};
      common.network.value &= common.Mask();
      if (common.Contains(b.network))
        diagnostics.Error(FieldOf(config.networks[i].where, "address"),
                          fmt::format("subnet {} overlaps network '{}' ({})", a.ToString(),
                                      config.networks[j].name, b.ToString()));
    }

  for (auto& network : config.networks) {
    if (!network.has_address) {
      if (network.mode != NetworkMode::kBridged) continue;  // the address error says it all
      if (!network.hosts.empty())
        diagnostics.Error(FieldOf(network.where, "host"),
                          "hosts need the network's address (its subnet); add 'address'");
      if (network.dhcp_range)
        diagnostics.Error(FieldOf(network.where, "dhcp_range"),
                          "a bridged network without 'address' gets DHCP from the LAN");
      continue;
    }
    Ipv4Prefix subnet = network.address.Subnet();
    std::uint32_t broadcast = subnet.network.value | ~subnet.Mask();
    if (network.address.address == subnet.network || network.address.address.value == broadcast)
      diagnostics.Error(FieldOf(network.where, "address"),
                        fmt::format("{} is the network or broadcast address; give the host's "
                                    "address on the bridge, like 10.1.1.1/24",
                                    network.address.address.ToString()));
    if (network.dhcp_range) {
      const auto& range = *network.dhcp_range;
      if (!subnet.Contains(range.first) || !subnet.Contains(range.last))
        diagnostics.Error(
            FieldOf(network.where, "dhcp_range"),
            fmt::format("{} is not inside the subnet {}", range.ToString(), subnet.ToString()));
      else if (range.Contains(network.address.address))
        diagnostics.Error(FieldOf(network.where, "dhcp_range"),
                          fmt::format("{} contains the gateway {}", range.ToString(),
                                      network.address.address.ToString()));
    }
    auto prefix = network.mac_prefix ? ParseMacPrefix(*network.mac_prefix) : std::nullopt;
    for (auto& host : network.hosts) {
      if (host.address.value == 0) continue;  // unparsed, already reported
      auto where = FieldOf(host.where, "address");
      if (!subnet.Contains(host.address))
        diagnostics.Error(where,
                          fmt::format("{} is outside network '{}' ({})", host.address.ToString(),
                                      network.name, subnet.ToString()));
      else if (host.address == network.address.address)
        diagnostics.Error(where, fmt::format("{} is the gateway (the host's own address)",
                                             host.address.ToString()));
      else if (host.address == subnet.network || host.address.value == broadcast)
        diagnostics.Error(
            where, fmt::format("{} is the network or broadcast address", host.address.ToString()));
      else if (network.dhcp_range && network.dhcp_range->Contains(host.address))
        diagnostics.Error(where,
                          fmt::format("{} is inside dhcp_range {}; static hosts must "
                                      "lie outside it",
                                      host.address.ToString(), network.dhcp_range->ToString()));
      if (host.mac_derived) {
        if (prefix) {
          std::copy(prefix->begin(), prefix->end(), host.mac.bytes.begin());
          host.mac.bytes[5] = static_cast<std::uint8_t>(host.address.value & 255);
        } else if (!network.mac_prefix) {
          // No MAC and no prefix: the host is known by name and address only.
          host.mac = {};
        }
      }
    }
  }

  ValidateOvnNetworks(config, diagnostics);

  std::map<std::string, const Host*> names;
  std::map<std::uint32_t, const Host*> addresses;
  std::map<std::string, const Host*> macs;
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts) {
      if (!host.name.empty())
        if (auto [it, fresh] = names.emplace(host.name, &host); !fresh)
          diagnostics.Error(FieldOf(host.where, "name"),
                            fmt::format("duplicate host name '{}', also at {}", host.name,
                                        At(it->second->where)));
      if (host.address.value != 0)
        if (auto [it, fresh] = addresses.emplace(host.address.value, &host); !fresh)
          diagnostics.Error(
              FieldOf(host.where, "address"),
              fmt::format("duplicate address {}, also used by host '{}' at {}",
                          host.address.ToString(), it->second->name, At(it->second->where)));
      if (host.mac != MacAddress{})
        if (auto [it, fresh] = macs.emplace(host.mac.ToString(), &host); !fresh)
          diagnostics.Error(
              FieldOf(host.where, "mac"),
              fmt::format("duplicate MAC {}, also used by host '{}' at {}", host.mac.ToString(),
                          it->second->name, At(it->second->where)));
    }
}

// Forwards to a network that is not the host's (provider ovn) listen on its uplink_address
// unless they say otherwise, and never on "every address"; every other forward needs a listen
// address, written or settings.public_address.
void ResolveListen(Config& config, Forward& forward, Diagnostics& diagnostics) {
  const Network* network = config.FindNetwork(forward.network);
  if (network && !network->HostFirewalled()) {
    if (forward.listen_defaulted && network->uplink_address)
      forward.listen = network->uplink_address->address;
    else if (!forward.listen && !forward.listen_defaulted)
      diagnostics.Error(FieldOf(forward.where, "listen"),
                        fmt::format("\"*\" is no address for a forward to network '{}' (provider "
                                    "ovn): give an address, or leave listen out for its "
                                    "uplink_address",
                                    network->name));
    else if (!forward.listen)
      diagnostics.Error(forward.where,
                        fmt::format("no listen address: network '{}' has no uplink_address; set "
                                    "'listen' here",
                                    network->name));
    return;
  }
  if (forward.listen_defaulted && !config.settings.has_public_address)
    diagnostics.Error(forward.where,
                      "no listen address: set 'listen' here or settings.public_address");
}

// The forward's target: its host's address and network, or the network its address is on.
void ResolveForwardTarget(Config& config, Forward& forward, Diagnostics& diagnostics) {
  if (!forward.host.empty()) {
    auto [network, host] = config.FindHost(forward.host);
    if (!host) {
      diagnostics.Error(
          FieldOf(forward.where, "host"),
          fmt::format("unknown host '{}' (not in any [[network.host]])", forward.host));
      return;
    }
    forward.target = host->address;
    forward.network = network->name;
    if (!network->AcceptsForwards())
      diagnostics.Error(FieldOf(forward.where, "host"),
                        fmt::format("host '{}' is on network '{}' with mode {}, which takes no "
                                    "forwards",
                                    forward.host, network->name, ToString(network->mode)));
  } else if (forward.target.value != 0) {
    auto [network, host] = config.FindHostByAddress(forward.target);
    if (host) {
      forward.network = network->name;
    } else {
      for (const auto& candidate : config.networks)
        if (candidate.has_address && candidate.address.Subnet().Contains(forward.target))
          forward.network = candidate.name;
    }
    if (const Network* owner = config.FindNetwork(forward.network);
        owner && !owner->AcceptsForwards())
      diagnostics.Error(FieldOf(forward.where, "address"),
                        fmt::format("{} is on network '{}' with mode {}, which takes no "
                                    "forwards",
                                    forward.target.ToString(), owner->name, ToString(owner->mode)));
    for (const auto& candidate : config.networks)
      if (candidate.address.address == forward.target)
        diagnostics.Error(FieldOf(forward.where, "address"),
                          fmt::format("{} is the host's own address on network '{}'",
                                      forward.target.ToString(), candidate.name));
  }
}

void ResolveForwards(Config& config, Diagnostics& diagnostics) {
  for (auto& forward : config.forwards) {
    ResolveForwardTarget(config, forward, diagnostics);
    ResolveListen(config, forward, diagnostics);
  }
}

// Finds conflicts in O(n log n): per protocol and listen address an ordered map of the
// (disjoint) port ranges claimed so far; "*" conflicts with every address.
void ValidateForwardConflicts(Config& config, Diagnostics& diagnostics) {
  constexpr std::uint64_t kAny = 1ull << 32;  // listen "*"
  // protocol -> listen -> first port -> (last port, forward)
  std::map<Protocol, std::map<std::uint64_t, std::map<int, std::pair<int, const Forward*>>>>
      claimed;
  auto find_overlap = [](const std::map<int, std::pair<int, const Forward*>>& ranges,
                         const PortRange& range) -> const Forward* {
    auto it = ranges.upper_bound(range.last);
    if (it == ranges.begin()) return nullptr;
    --it;
    return it->second.first >= range.first ? it->second.second : nullptr;
  };
  for (const Forward& forward : config.forwards) {
    if (forward.port.first == 0) continue;
    std::uint64_t listen = forward.listen ? forward.listen->value : kAny;
    const Forward* conflict = nullptr;
    for (auto protocol : forward.protocols) {
      auto& by_listen = claimed[protocol];
      for (auto& [address, ranges] : by_listen) {
        if (listen != kAny && address != kAny && address != listen) continue;
        if (const Forward* other = find_overlap(ranges, forward.port))
          if (!conflict || other->where.line < conflict->where.line) conflict = other;
      }
    }
    if (conflict) {
      diagnostics.Error(FieldOf(forward.where, "port"),
                        fmt::format("{} {}:{} is already forwarded by the forward at {}",
                                    ProtocolsToString(forward.protocols),
                                    forward.listen ? forward.listen->ToString() : "*",
                                    ToString(forward.port), At(conflict->where)));
      continue;
    }
    for (auto protocol : forward.protocols)
      claimed[protocol][listen][forward.port.first] = {forward.port.last, &forward};
  }
}

// Ports whose exposure to everybody is a classic hole: ssh, RDP, VNC, Docker, Kubernetes API,
// libvirt's TCP socket.
bool IsAdministrativePort(const PortRange& range) {
  static const PortRange kPorts[] = {{22, 22},     {3389, 3389}, {5900, 5999},
                                     {2375, 2375}, {6443, 6443}, {16509, 16509}};
  for (const auto& port : kPorts)
    if (range.Overlaps(port)) return true;
  return false;
}

void WarnAboutExposure(const Config& config, Diagnostics& diagnostics) {
  for (const auto& forward : config.forwards) {
    if (forward.port.first == 0) continue;
    std::string what = fmt::format(
        "{} {}:{} -> {}:{}", ProtocolsToString(forward.protocols),
        forward.listen ? forward.listen->ToString() : "*", ToString(forward.port),
        forward.host.empty() ? forward.target.ToString() : forward.host, ToString(forward.to_port));
    std::string who = forward.sources.empty() ? "every client" : "the source list";
    if (!forward.listen)
      diagnostics.Warning(
          FieldOf(forward.where, "listen"),
          fmt::format("{} listens on every address of the host, open to {}", what, who));
    if (forward.sources.empty() &&
        (IsAdministrativePort(forward.to_port) || IsAdministrativePort(forward.port)))
      diagnostics.Warning(forward.where,
                          fmt::format("{} opens an administrative port to every client; "
                                      "add source = [\"NETWORK/PREFIX\"] to limit it",
                                      what));
  }
}

}  // namespace

bool IsValidInterfaceName(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (unsigned char c : name)
    if (c <= ' ' || c >= 127 || c == '/' || c == ':' || c == '%' || c == '"' || c == '\\')
      return false;
  return true;
}

bool IsValidHostName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else {
      bool ok = std::isalnum(static_cast<unsigned char>(c)) || (c == '-' && label > 0);
      if (!ok || ++label > 63) return false;
    }
    previous = c;
  }
  return label > 0 && previous != '-';
}

bool IsValidDomain(const std::string& domain) {
  return IsValidHostName(domain);
}

std::optional<PortRange> ParsePortRange(std::string_view text) {
  auto parse = [](std::string_view part) -> std::optional<std::uint16_t> {
    unsigned value = 0;
    if (part.empty() || part.size() > 5 || (part.size() > 1 && part[0] == '0')) return std::nullopt;
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (error != std::errc() || end != part.data() + part.size() || value < 1 || value > 65535)
      return std::nullopt;
    return static_cast<std::uint16_t>(value);
  };
  auto dash = text.find('-');
  auto first = parse(text.substr(0, dash));
  auto last = dash == std::string_view::npos ? first : parse(text.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return PortRange{*first, *last};
}

std::optional<std::vector<Protocol>> ParseProtocols(std::string_view text) {
  if (text == "tcp") return std::vector{Protocol::kTcp};
  if (text == "udp") return std::vector{Protocol::kUdp};
  if (text == "tcp,udp" || text == "udp,tcp") return std::vector{Protocol::kTcp, Protocol::kUdp};
  return std::nullopt;
}

void ValidateConfig(Config& config, Diagnostics& diagnostics) {
  ValidateNetworks(config, diagnostics);
  ResolveForwards(config, diagnostics);
  ValidateForwardConflicts(config, diagnostics);
  WarnAboutExposure(config, diagnostics);
}

}  // namespace virtnat
