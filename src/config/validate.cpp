#include "config/validate.h"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <tuple>

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
  std::map<Ipv6Address, const Network*> uplink_addresses6;
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
    if (network.uplink_address6) {
      const Ipv6Interface& uplink = *network.uplink_address6;
      const Ipv6Prefix subnet = uplink.Subnet();
      auto where = FieldOf(network.where, "uplink_address6");
      if (uplink.address == subnet.network)
        diagnostics.Error(where, fmt::format("{} is the subnet's own address of {}",
                                             uplink.address.ToString(), subnet.ToString()));
      else if (network.address6 && (network.address6->Subnet().Contains(uplink.address) ||
                                    subnet.Contains(network.address6->address)))
        diagnostics.Error(where,
                          fmt::format("{} overlaps the network's own subnet {}", uplink.ToString(),
                                      network.address6->Subnet().ToString()));
      else if (auto [it, fresh] = uplink_addresses6.emplace(uplink.address, &network); !fresh)
        diagnostics.Error(where, fmt::format("{} is also the uplink_address6 of network '{}'",
                                             uplink.address.ToString(), it->second->name));
      if (network.uplink_gateway6) {
        auto gateway_where = FieldOf(network.where, "uplink_gateway6");
        // A link-local next hop (a router's fe80:: address) is on every link.
        bool link_local = network.uplink_gateway6->ToString().starts_with("fe80:");
        if (!link_local && !subnet.Contains(*network.uplink_gateway6))
          diagnostics.Error(gateway_where,
                            fmt::format("{} is not on the uplink's subnet {}",
                                        network.uplink_gateway6->ToString(), subnet.ToString()));
        else if (*network.uplink_gateway6 == uplink.address)
          diagnostics.Error(gateway_where, fmt::format("{} is the uplink_address6 itself",
                                                       network.uplink_gateway6->ToString()));
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

// The text of a host's IPv6 address in messages: written, or derived from its IPv4 address.
std::string Address6Text(const Host& host) {
  return host.address6_derived
             ? fmt::format("the derived IPv6 address {} (the subnet + the last octet of {})",
                           host.address6->ToString(), host.address.ToString())
             : host.address6->ToString();
}

// Where a host's IPv6 address comes from: its address6, or its address when derived.
SourceLocation Address6Where(const Host& host) {
  return FieldOf(host.where, host.address6_derived ? "address" : "address6");
}

// Dual-stack networks: the IPv6 subnets (no overlaps), dhcp_range6, and every host's IPv6
// address, written or derived (HostAddress6), inside the subnet and unique.
void ValidateIpv6(Config& config, Diagnostics& diagnostics) {
  for (std::size_t i = 0; i < config.networks.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const Network &later = config.networks[i], &earlier = config.networks[j];
      if (!later.address6 || !earlier.address6) continue;
      Ipv6Prefix a = later.address6->Subnet(), b = earlier.address6->Subnet();
      // The shorter prefix of the two holds the other one's network if they overlap.
      Ipv6Prefix common = Ipv6Interface{a.network, std::min(a.length, b.length)}.Subnet();
      if (common.Contains(b.network))
        diagnostics.Error(FieldOf(later.where, "address6"),
                          fmt::format("subnet {} overlaps network '{}' ({})", a.ToString(),
                                      earlier.name, b.ToString()));
    }

  for (auto& network : config.networks) {
    if (!network.address6) {
      // A written address6 that did not parse is reported already.
      if (network.where.key_lines.contains("address6")) continue;
      for (const auto& host : network.hosts)
        if (host.address6 && !host.address6_derived)
          diagnostics.Error(FieldOf(host.where, "address6"),
                            fmt::format("network '{}' has no IPv6 subnet: add address6 to the "
                                        "network, or leave this out",
                                        network.name));
      continue;
    }
    const Ipv6Interface& own = *network.address6;
    const Ipv6Prefix subnet = own.Subnet();
    auto where = FieldOf(network.where, "address6");
    if (own.address == subnet.network)
      diagnostics.Error(where, fmt::format("{} is the subnet's own address (its subnet-router "
                                           "anycast address); give the host's address on the "
                                           "bridge, like fd00:77::1/64",
                                           own.address.ToString()));
    if (own.length != 64)
      diagnostics.Warning(where,
                          fmt::format("{} is a /{}: router advertisements let guests configure "
                                      "themselves (SLAAC) only on a /64; guests of network '{}' "
                                      "need DHCPv6 (dhcp_range6, or the address6 of each host)",
                                      own.ToString(), own.length, network.name));
    if (network.dhcp_range6) {
      const auto& range = *network.dhcp_range6;
      auto range_where = FieldOf(network.where, "dhcp_range6");
      if (!subnet.Contains(range.first) || !subnet.Contains(range.last))
        diagnostics.Error(range_where, fmt::format("{} is not inside the subnet {}",
                                                   range.ToString(), subnet.ToString()));
      else if (range.Contains(own.address))
        diagnostics.Error(range_where,
                          fmt::format("{} contains the host's own address {} (address6)",
                                      range.ToString(), own.address.ToString()));
    }
    for (auto& host : network.hosts) {
      // Derived again on every validation: a validated config may be validated again.
      if (!host.address6 || host.address6_derived) {
        if (host.address.value == 0) continue;  // unparsed, already reported
        host.address6 = HostAddress6(subnet, host.address);
        host.address6_derived = true;
      }
      const Ipv6Address& address = *host.address6;
      std::string fix = host.address6_derived ? "; give the host address6" : "";
      if (!subnet.Contains(address))
        diagnostics.Error(Address6Where(host),
                          fmt::format("{} is outside network '{}' ({}){}", Address6Text(host),
                                      network.name, subnet.ToString(), fix));
      else if (address == own.address)
        diagnostics.Error(Address6Where(host),
                          fmt::format("{} is the host's own address on the bridge (address6 of "
                                      "network '{}'){}",
                                      Address6Text(host), network.name, fix));
      else if (address == subnet.network)
        diagnostics.Error(Address6Where(host),
                          fmt::format("{} is the subnet's own address (its subnet-router anycast "
                                      "address){}",
                                      Address6Text(host), fix));
      else if (network.dhcp_range6 && network.dhcp_range6->Contains(address))
        diagnostics.Error(Address6Where(host),
                          fmt::format("{} is inside dhcp_range6 {}; static hosts must lie outside "
                                      "it{}",
                                      Address6Text(host), network.dhcp_range6->ToString(), fix));
    }
  }

  std::map<Ipv6Address, const Host*> addresses;
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts) {
      if (!host.address6 || (!network.address6 && !host.address6_derived)) continue;
      auto [it, fresh] = addresses.emplace(*host.address6, &host);
      if (fresh) continue;
      const Host& other = *it->second;
      // Two hosts with one IPv4 address derive one IPv6 address: reported once, as IPv4.
      if (host.address6_derived && other.address6_derived && host.address == other.address)
        continue;
      diagnostics.Error(Address6Where(host),
                        fmt::format("duplicate address6 {}, also used by host '{}' at {}{}",
                                    host.address6->ToString(), other.name, At(other.where),
                                    host.address6_derived || other.address6_derived
                                        ? " (a derived address: the subnet + the IPv4 address's "
                                          "last octet; give one of them address6)"
                                        : ""));
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
  ValidateIpv6(config, diagnostics);

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

// How messages name a forward's parts: "198.51.100.1" or "*" for IPv4, "[2001:db8::1]" or
// "[::]" (every IPv6 address) for IPv6.
std::string ListenText4(const Forward& forward) {
  return forward.listen ? forward.listen->ToString() : "*";
}
std::string ListenText6(const Forward& forward) {
  return forward.listen6 ? "[" + forward.listen6->ToString() + "]" : "[::]";
}
std::string TargetText(const Forward& forward) {
  if (!forward.host.empty()) return forward.host;
  if (forward.target.value != 0 || !forward.target6) return forward.target.ToString();
  return "[" + forward.target6->ToString() + "]";
}
// "198.51.100.1:2222", "[2001:db8::1]:2222" or both, for the families the forward opens on.
std::string PublicText(const Forward& forward) {
  std::string port = ToString(forward.port);
  if (forward.open6 && !forward.open4) return ListenText6(forward) + ":" + port;
  std::string text = ListenText4(forward) + ":" + port;
  if (forward.open6) text += " and " + ListenText6(forward) + ":" + port;
  return text;
}

// The families a forward opens on and its listen address in each. A written `listen` opens
// its own family ("*": every family the target has); without it, each family the target has
// opens on its default listen address (settings.public_address, public_address6), if set.
// Forwards to a network that is not the host's (provider ovn) listen on its uplink_address
// unless they say otherwise, and never on "every address". Validating a config twice gives the
// same result: the config snapshot's forwards are validated again beside new ones.
void ResolveListen(Config& config, Forward& forward, Diagnostics& diagnostics) {
  // Unresolved targets count as IPv4: their error is reported already.
  const bool has4 = forward.target.value != 0 || !forward.target6;
  const bool has6 = forward.target6.has_value();
  if (!forward.listen_defaulted) {
    auto lacks = [&](const char* family, const char* other) {
      const Network* network = config.FindNetwork(forward.network);
      diagnostics.Error(
          FieldOf(forward.where, "listen"),
          fmt::format("{} has no {} address{}; there is no NAT46 or NAT64 between the families "
                      "(listen on an {} address)",
                      forward.host.empty() ? TargetText(forward) : "host '" + forward.host + "'",
                      family,
                      network && !network->address6 && !has6
                          ? fmt::format(" (network '{}' has no address6)", network->name)
                          : "",
                      other));
    };
    if (forward.open4 && forward.open6) {  // "*"
      forward.open4 = has4;
      forward.open6 = has6;
    } else if (forward.open6 && !has6) {
      return lacks("IPv6", "IPv4");
    } else if (forward.open4 && !has4) {
      return lacks("IPv4", "IPv6");
    }
  }
  const Network* network = config.FindNetwork(forward.network);
  if (network && !network->HostFirewalled()) {
    // IPv6 as IPv4: a forward to a host with an IPv6 address opens on uplink_address6 too
    // unless `listen` says otherwise.
    if (forward.listen_defaulted && has6 && network->uplink_address6) {
      forward.open6 = true;
      forward.listen6 = network->uplink_address6->address;
    }
    if (forward.open6 && !forward.open4) {
      if (!forward.listen6)
        diagnostics.Error(FieldOf(forward.where, "listen"),
                          fmt::format("\"*\" is no address for a forward to network '{}' "
                                      "(provider ovn): give an address",
                                      network->name));
      return;
    }
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
  if (!forward.listen_defaulted) return;
  const Settings& settings = config.settings;
  forward.open4 = has4 && settings.has_public_address;
  forward.open6 = has6 && settings.has_public_address6;
  forward.listen = forward.open4 ? settings.public_address : std::nullopt;
  forward.listen6 = forward.open6 ? settings.public_address6 : std::nullopt;
  if (forward.open4 || forward.open6) return;
  // Nothing to open on: reported, and the forward left as it was parsed for the checks after.
  forward.open4 = has4;
  forward.listen = settings.public_address;
  if (!has6)
    diagnostics.Error(forward.where,
                      "no listen address: set 'listen' here or settings.public_address");
  else if (!has4)
    diagnostics.Error(forward.where,
                      fmt::format("no listen address: set 'listen' here or "
                                  "settings.public_address6 ({} has no IPv4 address)",
                                  TargetText(forward)));
  else
    diagnostics.Error(forward.where,
                      "no listen address: set 'listen' here, settings.public_address or "
                      "settings.public_address6");
}

// The forward's target: its host's addresses and network, or the network its address is on.
// A target written as an address that a host owns is that host, in both families.
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
    forward.target6 = host->address6;
    forward.network = network->name;
    if (!network->AcceptsForwards())
      diagnostics.Error(FieldOf(forward.where, "host"),
                        fmt::format("host '{}' is on network '{}' with mode {}, which takes no "
                                    "forwards",
                                    forward.host, network->name, ToString(network->mode)));
  } else if (forward.target.value != 0 || forward.target6) {
    auto [network, host] = forward.target6 ? config.FindHostByAddress(*forward.target6)
                                           : config.FindHostByAddress(forward.target);
    if (host) {
      forward.network = network->name;
      forward.target = host->address;
      forward.target6 = host->address6;
    } else if (forward.target6) {
      for (const auto& candidate : config.networks)
        if (candidate.address6 && candidate.address6->Subnet().Contains(*forward.target6))
          forward.network = candidate.name;
    } else {
      for (const auto& candidate : config.networks)
        if (candidate.has_address && candidate.address.Subnet().Contains(forward.target))
          forward.network = candidate.name;
    }
    std::string target =
        forward.target.value != 0 ? forward.target.ToString() : forward.target6->ToString();
    if (const Network* owner = config.FindNetwork(forward.network);
        owner && !owner->AcceptsForwards())
      diagnostics.Error(FieldOf(forward.where, "address"),
                        fmt::format("{} is on network '{}' with mode {}, which takes no "
                                    "forwards",
                                    target, owner->name, ToString(owner->mode)));
    for (const auto& candidate : config.networks)
      if ((forward.target.value != 0 && candidate.address.address == forward.target) ||
          (forward.target6 && candidate.address6 &&
           candidate.address6->address == *forward.target6))
        diagnostics.Error(
            FieldOf(forward.where, "address"),
            fmt::format("{} is the host's own address on network '{}'", target, candidate.name));
  }
}

void ResolveForwards(Config& config, Diagnostics& diagnostics) {
  for (auto& forward : config.forwards) {
    ResolveForwardTarget(config, forward, diagnostics);
    ResolveListen(config, forward, diagnostics);
  }
}

// protocol -> listen -> first port -> (last port, forward): the (disjoint) port ranges
// claimed so far on each listen address of one family.
template <typename Listen>
using ClaimedPorts =
    std::map<Protocol, std::map<Listen, std::map<int, std::pair<int, const Forward*>>>>;

// The earliest forward that claims one of `forward`'s ports on an overlapping listen address;
// `any` (listen "*") overlaps every address.
template <typename Listen>
const Forward* FindConflict(ClaimedPorts<Listen>& claimed, const Forward& forward,
                            const Listen& listen, const Listen& any) {
  auto find_overlap = [](const std::map<int, std::pair<int, const Forward*>>& ranges,
                         const PortRange& range) -> const Forward* {
    auto it = ranges.upper_bound(range.last);
    if (it == ranges.begin()) return nullptr;
    --it;
    return it->second.first >= range.first ? it->second.second : nullptr;
  };
  const Forward* conflict = nullptr;
  for (auto protocol : forward.protocols) {
    auto& by_listen = claimed[protocol];
    for (auto& [address, ranges] : by_listen) {
      if (listen != any && address != any && address != listen) continue;
      if (const Forward* other = find_overlap(ranges, forward.port))
        if (!conflict || other->where.line < conflict->where.line) conflict = other;
    }
  }
  return conflict;
}

// Finds conflicts in O(n log n), in each family apart: an IPv4 and an IPv6 forward on one
// port never conflict.
void ValidateForwardConflicts(Config& config, Diagnostics& diagnostics) {
  constexpr std::uint64_t kAny = 1ull << 32;  // listen "*"
  const std::pair<bool, Ipv6Address> kAny6{true, {}};
  ClaimedPorts<std::uint64_t> claimed;
  ClaimedPorts<std::pair<bool, Ipv6Address>> claimed6;
  for (const Forward& forward : config.forwards) {
    if (forward.port.first == 0) continue;
    std::uint64_t listen = forward.listen ? forward.listen->value : kAny;
    auto listen6 = forward.listen6 ? std::pair{false, *forward.listen6} : kAny6;
    const Forward* conflict =
        forward.open4 ? FindConflict(claimed, forward, listen, kAny) : nullptr;
    const Forward* conflict6 =
        forward.open6 ? FindConflict(claimed6, forward, listen6, kAny6) : nullptr;
    if (conflict || conflict6) {
      diagnostics.Error(
          FieldOf(forward.where, "port"),
          fmt::format("{} {}:{} is already forwarded by the forward at {}",
                      ProtocolsToString(forward.protocols),
                      conflict ? ListenText4(forward) : ListenText6(forward),
                      ToString(forward.port), At((conflict ? conflict : conflict6)->where)));
      continue;
    }
    for (auto protocol : forward.protocols) {
      if (forward.open4)
        claimed[protocol][listen][forward.port.first] = {forward.port.last, &forward};
      if (forward.open6)
        claimed6[protocol][listen6][forward.port.first] = {forward.port.last, &forward};
    }
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
    std::string what = DescribeForward(forward);
    const bool open_to_all = forward.sources.empty() && forward.sources6.empty();
    std::string who = open_to_all ? "every client" : "the source list";
    if ((forward.open4 && !forward.listen) || (forward.open6 && !forward.listen6))
      diagnostics.Warning(
          FieldOf(forward.where, "listen"),
          fmt::format("{} listens on every address of the host, open to {}", what, who));
    // With a source list each family lets in its own sources only.
    for (auto [open, own, family] : {std::tuple{forward.open4, !forward.sources.empty(), "IPv4"},
                                     std::tuple{forward.open6, !forward.sources6.empty(), "IPv6"}})
      if (open && !open_to_all && !own)
        diagnostics.Warning(FieldOf(forward.where, "source"),
                            fmt::format("{}: the source list has no {} network, so no {} client "
                                        "gets in",
                                        what, family, family));
    if (open_to_all &&
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

std::string DescribeForward(const Forward& forward) {
  return fmt::format("{} {} -> {}:{}", ProtocolsToString(forward.protocols), PublicText(forward),
                     TargetText(forward), ToString(forward.to_port));
}

void ValidateConfig(Config& config, Diagnostics& diagnostics) {
  ValidateNetworks(config, diagnostics);
  ResolveForwards(config, diagnostics);
  ValidateForwardConflicts(config, diagnostics);
  WarnAboutExposure(config, diagnostics);
}

}  // namespace virtnat
