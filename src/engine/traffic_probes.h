// The packets virtnat needs the host's firewalls to pass, built from the desired state
// (`virtnat doctor`, the `blocked` state of `status`): for each active forward the client's
// packet before DNAT, the same after DNAT on the forward hook and the guest's answer; each
// nat/routed network's guests going out; DHCP and DNS from guests where the host serves them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/firewall_backend.h"
#include "plan/desired_state.h"

namespace virtnat {

// Which interface a packet from the LAN comes in on: the interface holding a listen address,
// else the one of the default route.
struct HostRoutes {
  std::map<std::string, std::string> address_interface;  // "198.51.100.1" -> "eth0"
  std::string default_interface;                         // "" when there is no default route
  std::optional<Ipv4Address> default_address;            // an address on it
  // IPv6: the addresses are in address_interface too ("2001:db8::1" -> "eth0").
  std::string default_interface6;               // of the IPv6 default route; "" = none
  std::optional<Ipv6Address> default_address6;  // a global address on it
};

// The host's addresses and default routes (getifaddrs, /proc/net/route, /proc/net/ipv6_route).
HostRoutes ReadHostRoutes();

// Pure. Forwards of stopped networks are not in `state`; forwards waiting for their VM are
// left out. A port range is probed at its first port. Guests going out are probed only when
// the host has a default route (of the family). Dual-stack networks and forwards on IPv6 get
// the same probes in IPv6 (family kIpv6), after the IPv4 ones of the same forward/network,
// plus DHCPv6 (udp 547) and ICMPv6 neighbour discovery / router advertisements.
std::vector<TrafficProbe> BuildTrafficProbes(const DesiredState& state, const HostRoutes& routes);

// "may block" or "blocked" (TrafficFinding::sure).
const char* FindingVerdict(const TrafficFinding& finding);
// One line: "blocked: forward tcp ... after DNAT: ip filter FORWARD: policy drop; fix: ...".
std::string FormatTrafficFinding(const TrafficProbe& probe, const TrafficFinding& finding);

}  // namespace virtnat
