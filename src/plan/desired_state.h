// The desired state handed to a firewall backend: the config's networks and forwards, each
// forward expanded port by port and marked active or waiting for its VM. Backend-neutral, and
// self-contained: it owns copies of what it needs, so it outlives the Config it came from.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/model.h"

namespace virtnat {

// One public port of one protocol, mapped to one guest port, in one address family.
template <typename Address>
struct BasicPortMapping {
  std::optional<Address> listen;  // nullopt = any local address
  Protocol protocol = Protocol::kTcp;
  std::uint16_t port = 0;
  Address target;
  std::uint16_t to_port = 0;
};
using PortMapping = BasicPortMapping<Ipv4Address>;
using PortMapping6 = BasicPortMapping<Ipv6Address>;

struct ForwardState {
  Forward forward;
  std::string host;  // the host that owns the target ("" for an address no host owns)
  bool active = true;
  std::vector<PortMapping> mappings;    // every port of every protocol, IPv4 (when open4)
  std::vector<PortMapping6> mappings6;  // the same in IPv6 (when open6)
};

struct DesiredState {
  Settings settings;
  std::vector<Network> networks;
  std::vector<ForwardState> forwards;
  // Some network's firewall belongs to its provider (Config::DelegatesFirewall): the backend
  // keeps virtnat's forwards passable through that firewall.
  bool delegates_firewall = false;
};

// Host name -> MAC ("" when it has none): how a VM is matched to the config's hosts.
using HostMacs = std::map<std::string, std::string>;
HostMacs BuildHostMacs(const Config& config);
// Hosts that a VM stands for: host name = VM name, or one of its NICs' MACs.
std::set<std::string> HostsOfDomain(const HostMacs& host_macs, const std::string& domain,
                                    const std::set<std::string>& macs);

// Host names whose VMs run now (kept by the libvirt hook under the state folder).
using RunningHosts = std::set<std::string>;

// Every port of every protocol of a forward, in each family it opens on.
std::vector<PortMapping> ExpandForward(const Forward& forward);
std::vector<PortMapping6> ExpandForward6(const Forward& forward);

// The host that owns a forward's target: its host name, or the host with its address; "" for
// an address no host owns.
std::string ForwardHost(const Config& config, const Forward& forward);

// A forward is active when lifecycle is "ignore", when it targets an address that no host
// owns, or when its host's VM runs.
bool IsForwardActive(const Config& config, const Forward& forward, const RunningHosts& running);

// Whether the host's firewall carries the forward: its target is on no network of the config,
// or on one the host's firewall carries (Network::HostFirewalled).
bool IsHostForward(const Config& config, const Forward& forward);

// The host firewall's part of the config: networks and forwards of other kinds (provider ovn)
// are left out, their drivers realise them.
DesiredState BuildDesiredState(const Config& config, const RunningHosts& running);

// The config without the named networks and the forwards to their hosts: what stays applied
// while `virtnat network stop` holds them stopped.
Config WithoutNetworks(Config config, const std::set<std::string>& networks);

}  // namespace virtnat
