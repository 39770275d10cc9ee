// The desired state of a host, independent of any firewall or network backend:
// networks, their hosts and the port forwards. Backends (nftables) and providers (libvirt,
// standalone, OVN) consume this data; nothing here knows about rules.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/net.h"

namespace virtnat {

// Where a value was written, for error messages that point at the config.
struct SourceLocation {
  std::string file;
  int line = 0;
  std::string field;                     // e.g. "network[0].host[2].mac"
  std::map<std::string, int> key_lines;  // for objects: the line of each key written

  // The location of one key of this object (its own line if written, else the object's).
  SourceLocation Key(const std::string& key) const {
    auto found = key_lines.find(key);
    return {file, found == key_lines.end() ? line : found->second, field + "." + key, {}};
  }
};

enum class NetworkMode { kNat, kRouted, kIsolated, kOpen, kBridged };
enum class NetworkProvider { kExternal, kLibvirt, kStandalone, kOvn };
enum class VmLifecycle { kLibvirt, kIgnore };

struct Host {
  std::string name;
  Ipv4Address address;
  // In a network with address6: written, or derived (HostAddress6) from the IPv4 address.
  std::optional<Ipv6Address> address6;
  bool address6_derived = false;
  MacAddress mac;  // given, or derived from the network's mac_prefix
  bool mac_derived = false;
  SourceLocation where;
};

struct Network {
  std::string name;
  NetworkMode mode = NetworkMode::kNat;
  NetworkProvider provider = NetworkProvider::kExternal;
  std::string bridge;
  Ipv4Interface address;     // host address + prefix; defines the subnet
  bool has_address = false;  // false only for mode bridged without an address
  // mode bridged: the LAN interface enslaved to the bridge; provider ovn: the name of the
  // provider network (in ovn-bridge-mappings) the network's router reaches the LAN through.
  std::string uplink;
  // provider ovn: the router's address on the uplink (the SNAT source and the default listen
  // address of forwards), the next hop beyond it, and the chassis that may carry the uplink,
  // in priority order.
  std::optional<Ipv4Interface> uplink_address;
  std::optional<Ipv4Address> uplink_gateway;
  // provider ovn, dual-stack: the same for IPv6 (the NAT66 source and the default IPv6 listen
  // address of forwards; the next hop of the IPv6 default route).
  std::optional<Ipv6Interface> uplink_address6;
  std::optional<Ipv6Address> uplink_gateway6;
  std::vector<std::string> gateway_chassis;
  std::optional<Ipv4Range> dhcp_range;
  // IPv6 (dual-stack): the host's address on the bridge, which defines the IPv6 subnet; the
  // stateful DHCPv6 range for unknown clients; in mode nat, whether IPv6 is masqueraded too
  // (nat6, for ULA prefixes) or routed.
  std::optional<Ipv6Interface> address6;
  std::optional<Ipv6Range> dhcp_range6;
  bool nat6 = true;
  std::string domain;
  std::optional<std::string> mac_prefix;
  std::vector<Host> hosts;
  // provider libvirt: false = an existing libvirt network that virtnat never defines or
  // changes; it only serves forwards to its hosts.
  bool define = true;
  // The provider does the network's NAT itself (config: libvirt_forward = "nat"); by default
  // virtnat's firewall does NAT and filtering and the provider only forwards.
  bool provider_nat = false;
  SourceLocation where;

  // Whether virtnat's firewall holds this network's NAT and filter rules. When the provider's
  // own firewall holds them (a network virtnat does not define, or provider_nat), virtnat only
  // adds forwards and keeps them passable through the provider's rejects.
  bool VirtnatOwnsFirewall() const {
    return provider != NetworkProvider::kLibvirt || (define && !provider_nat);
  }
  // Modes whose guests may be reached through forwards.
  bool AcceptsForwards() const {
    return mode == NetworkMode::kNat || mode == NetworkMode::kRouted || mode == NetworkMode::kOpen;
  }
  // Modes with virtnat's (or libvirt's) DHCP and DNS on the bridge.
  bool ServesDhcp() const { return mode != NetworkMode::kBridged && mode != NetworkMode::kOpen; }
  // Whether the host's firewall (the nftables backend) carries this network's NAT, filtering
  // and forwards. Not for a network that lives in a fleet's virtual switches and routers
  // (provider ovn): its driver realises the network and its forwards itself, on every host.
  bool HostFirewalled() const { return provider != NetworkProvider::kOvn; }
  // A DHCP/DNS server of the provider's runs on the host for this network's guests (external
  // networks bring their own, wherever it is).
  bool HostServesDhcp() const {
    return HostFirewalled() && provider != NetworkProvider::kExternal && ServesDhcp() &&
           has_address;
  }

  bool DualStack() const { return address6.has_value(); }

  std::string Fqdn(const Host& host) const {
    return domain.empty() ? host.name : host.name + "." + domain;
  }
};

enum class Protocol : std::uint8_t { kTcp = 6, kUdp = 17 };

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  int Size() const { return last - first + 1; }
  bool Overlaps(const PortRange& other) const { return first <= other.last && other.first <= last; }
  bool operator==(const PortRange&) const = default;
};

struct Forward {
  // Target: the host name as written (empty when given by address) and the resolved address
  // of each family the forward opens on (open4/open6).
  std::string host;
  Ipv4Address target;
  std::optional<Ipv6Address> target6;
  std::string network;                // name of the network holding the target, empty if none
  std::vector<Protocol> protocols;    // tcp, udp or both, in that order
  PortRange port;                     // public port(s)
  PortRange to_port;                  // guest port(s), same length as port
  std::optional<Ipv4Address> listen;  // nullopt = any local address ("*")
  bool listen_defaulted = false;      // `listen` not written: settings.public_address, or the
                                      // uplink_address of the target's network (provider ovn)
  std::vector<Ipv4Prefix> sources;    // empty = everybody (with sources6 empty too)
  // IPv6. The families a forward opens on: `listen` of one family opens that family only;
  // without `listen`, IPv4 on public_address and, when the target has an IPv6 address and
  // public_address6 is set, IPv6 on public_address6; "*" both families the target has.
  bool open4 = true;
  bool open6 = false;
  std::optional<Ipv6Address> listen6;  // nullopt with open6 = any local IPv6 address
  // IPv6 sources. With a source list, each family lets in its own sources only: a family with
  // none listed stays closed.
  std::vector<Ipv6Prefix> sources6;
  std::string description;
  SourceLocation where;

  // Same forward (ignoring description and location): used to make add idempotent.
  bool SameRule(const Forward& other) const {
    return target == other.target && target6 == other.target6 && open4 == other.open4 &&
           open6 == other.open6 && protocols == other.protocols && port == other.port &&
           to_port == other.to_port && listen == other.listen && listen6 == other.listen6 &&
           sources == other.sources && sources6 == other.sources6;
  }
};

// provider ovn: where the fleet's databases are and how to reach them (config keys
// ovn_northbound, ovn_southbound, ovn_ssl_private_key, ovn_ssl_certificate, ovn_ssl_ca_cert).
struct FleetSettings {
  std::string northbound;  // "unix:PATH", "tcp:IP:PORT", "ssl:IP:PORT" (comma-separated list)
  std::string southbound;  // for status; empty = derived from northbound
  std::string ssl_private_key, ssl_certificate, ssl_ca_cert;  // files, for ssl: remotes
};

struct Settings {
  // The name of virtnat's own ruleset in the firewall (config key `table`).
  std::string ruleset_name = "virtnat";
  std::optional<Ipv4Address> public_address;  // nullopt = "*"
  bool has_public_address = false;            // false: forwards must name their listen address
  // The default IPv6 listen address of forwards to dual-stack hosts (nullopt = "*");
  // has_public_address6 false: forwards open on IPv6 only with a `listen` of that family.
  std::optional<Ipv6Address> public_address6;
  bool has_public_address6 = false;
  VmLifecycle vm_lifecycle = VmLifecycle::kIgnore;
  std::string libvirt_uri = "qemu:///system";
  bool strict_hook = false;  // true: a hook error makes libvirt refuse to start the VM
  FleetSettings fleet;
};

struct Config {
  Settings settings;
  std::vector<Network> networks;
  std::vector<Forward> forwards;
  std::vector<std::string> files;  // every file that was read, main first

  const Network* FindNetwork(const std::string& name) const;
  // Some network's firewall belongs to its provider: virtnat's forwards must be let through
  // that firewall's rejects.
  bool DelegatesFirewall() const {
    for (const auto& network : networks)
      if (!network.VirtnatOwnsFirewall()) return true;
    return false;
  }
  // The network and host that own an address or name; nullptr if none.
  std::pair<const Network*, const Host*> FindHost(const std::string& name) const;
  std::pair<const Network*, const Host*> FindHostByAddress(const Ipv4Address& address) const;
  std::pair<const Network*, const Host*> FindHostByAddress(const Ipv6Address& address) const;
};

std::string ToString(NetworkMode mode);
std::string ToString(NetworkProvider provider);
std::string ToString(Protocol protocol);
std::string ProtocolsToString(const std::vector<Protocol>& protocols);
std::string ToString(const PortRange& range);

}  // namespace virtnat
