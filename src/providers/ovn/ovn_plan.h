// The northbound rows a config's ovn networks need (docs/ovn-lab-notes.md has the recipe they
// follow, proven with real packets): per network a logical switch with one port NETWORK-HOST
// per host ("MAC IP", native DHCP, DNS records), a logical router on it and, unless isolated, a
// gateway port on a provider switch with a localnet port (the uplink), gateway chassis in
// priority order, SNAT (mode nat) and a default route; a load balancer per listen address and
// protocol with one VIP per port of every forward, on the router and the switch; per forward
// and protocol the ACLs that let it in (mode nat drops everything else from outside; a source
// list narrows the forward's ACL to an address set).
// Pure: no database.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/model.h"
#include "providers/ovn/nb_rows.h"

namespace virtnat::ovn {

// The name of a host's logical switch port: the same UUID on every host, from every build, RFC
// 9562 version 8 (vendor-defined) over two 64-bit FNV-1a hashes of "NETWORK/HOST", each mixed
// by MurmurHash3's finaliser.
std::string PortId(const std::string& network, const std::string& host);

// Names of a network's rows. Every name but the hosts' ports is NETWORK + '.' + a suffix, and
// ovn network names have no '.', so no two networks' rows share a name.
struct NetworkNames {
  explicit NetworkNames(const std::string& network);
  std::string network;
  std::string switch_name;                                  // NETWORK: the guests' logical switch
  std::string router, router_inside, router_uplink;         // NETWORK.lr, .lr.int, .lr.ext
  std::string switch_router_port;                           // NETWORK.int.rp
  std::string uplink_switch, uplink_router_port, localnet;  // NETWORK.ext, .ext.rp, .ext.localnet
  // A host's logical switch port is named by a UUID derived from its names (PortId): libvirt
  // takes only a UUID as a virtualport's interfaceid, and ovn-controller binds the OVS interface
  // whose iface-id equals the port's name. external_ids:virtnat-port keeps NETWORK-HOST.
  std::string Port(const std::string& host) const { return PortId(network, host); }
  std::string PortLabel(const std::string& host) const { return network + "-" + host; }
  std::string GatewayChassis(const std::string& chassis) const {
    return router_uplink + "-" + chassis;
  }
  // The southbound port whose chassis is the active gateway.
  std::string RedirectPort() const { return "cr-" + router_uplink; }
};

// The MTU guests get by DHCP (and `vm interface`): geneve over a 1500-byte underlay leaves
// 1442 bytes; 1400 keeps a margin.
constexpr int kGuestMtu = 1400;

// The router's MACs on the network and on the uplink: 02:76:6e ("vn") + 3 bytes of a hash of
// the network's name, distinct for every ovn network of the config.
struct RouterMacs {
  std::string inside, uplink;  // lower case, colons
};
RouterMacs MacsOf(const Config& config, const std::string& network);

// The forwards of the config to hosts of `network`.
std::vector<const Forward*> ForwardsOf(const Config& config, const Network& network);
// A forward's VIPs for one protocol, by the load balancer that holds them: one load balancer
// per network, listen address and protocol (NETWORK.fwd.PROTO for uplink_address and
// uplink_address6, NETWORK.fwd.PROTO.LISTEN for another address), one VIP per port
// ("198.51.100.50:8080" -> "10.99.0.11:80", "[2001:db8:100::50]:8080" -> "[fd00:99::b]:80";
// OVN's load balancers have no port ranges). A family opens as the nftables backend opens it:
// with a source list, only a family with sources of its own.
std::map<std::string, std::map<std::string, std::string>> ForwardLoadBalancers(
    const Network& network, const Forward& forward, Protocol protocol);
// The address sets of a forward with a source list, one per family it opens on
// ([A-Za-z0-9_] only; the IPv6 one ends in _ip6).
std::vector<std::string> AddressSetNames(const Network& network, const Forward& forward,
                                         Protocol protocol);

// Every row of `networks` (ovn networks of `config`), children before parents.
Plan PlanNetworks(const Config& config, const std::vector<const Network*>& networks);

// The plan as the ovn-nbctl transaction that creates it in an empty database, one command a
// line (`virtnat network xml`, the golden files).
std::string RenderPlan(const Plan& plan);

// The libvirt <interface> that plugs a VM into `network` as `host`: Open vSwitch's br-int with
// the port's name as interfaceid (ovn-controller binds the port wherever it appears).
std::string InterfaceXml(const Network& network, const Host& host);

}  // namespace virtnat::ovn
