// libvirt network XML generated from a config network, and the facts virtnat compares when it
// decides between a live host update and a redefinition (pure: no libvirt calls).
#pragma once

#include <optional>
#include <set>
#include <string>

#include "model/model.h"

namespace virtnat {

// The XML namespace of virtnat's element in a libvirt network's <metadata>. A name only (it
// is never fetched); the trailing number is the version of the element's attributes.
inline constexpr const char* kVirtnatXmlns = "https://virtnat.example/xmlns/network/1";

// What the network hook needs to build a bridged network's host bridge when libvirt starts the
// network (at boot before `virtnat apply` runs, with /run/virtnat empty). It lives in libvirt's
// own definition of the network:
//   <metadata>
//     <virtnat:bridged xmlns:virtnat="https://virtnat.example/xmlns/network/1" uplink="eth1"
//                      address="198.51.100.3/24"/>
//   </metadata>
// The bridge is the network's <bridge name>, the alias "virtnat:" + <name>; address is left
// out when the network has none.
struct BridgedMetadata {
  std::string uplink;
  std::string address;  // "198.51.100.3/24" as written, or empty
  bool operator==(const BridgedMetadata&) const = default;
};

struct LibvirtNetworkFacts {
  std::string name;
  std::string uuid;          // libvirt's; not part of the shape
  std::string forward_mode;  // "open", "nat", "" (isolated) ...
  std::string bridge;
  std::string domain;
  std::string address;  // "10.1.1.1/24"
  std::string dhcp_range;
  std::set<std::string> dhcp_hosts;        // "<host mac='..' name='..' ip='..'/>" in canonical form
  std::set<std::string> dns_hosts;         // "<host ip='..'><hostname>..</hostname></host>"
  std::optional<BridgedMetadata> bridged;  // virtnat's <metadata> element, when present
  // IPv6: the <ip family='ipv6'> element ("fd00:77::1/64", empty when none), its DHCPv6 range
  // and hosts ("<host id='..' name='..' ip='..'/>"), and <forward><nat ipv6='yes'/>.
  std::string address6;
  std::string dhcp_range6;
  std::set<std::string> dhcp_hosts6;
  bool nat_ipv6 = false;
  // Two DNS hosts share a name (a dual-stack network without a domain: A and AAAA records of
  // one host). libvirt cannot add or delete such records live; the network is redefined.
  bool dns_names_repeat = false;
  // The position of each family's <ip> among the <ip> elements (-1 when none): the parent
  // index virNetworkUpdate needs to change the DHCP hosts of one family.
  int ip_index = -1;
  int ip6_index = -1;

  // Everything but the host entries: when only those differ, libvirt can update live.
  bool SameShape(const LibvirtNetworkFacts& other) const {
    return name == other.name && forward_mode == other.forward_mode && bridge == other.bridge &&
           domain == other.domain && address == other.address && dhcp_range == other.dhcp_range &&
           address6 == other.address6 && dhcp_range6 == other.dhcp_range6 &&
           nat_ipv6 == other.nat_ipv6;
  }
  // Whether libvirt can change the host entries of `have` into those of this one live.
  bool HostsUpdateLive(const LibvirtNetworkFacts& have) const {
    return dns_hosts == have.dns_hosts || (!dns_names_repeat && !have.dns_names_repeat);
  }
  bool SameHosts(const LibvirtNetworkFacts& other) const {
    return dhcp_hosts == other.dhcp_hosts && dhcp_hosts6 == other.dhcp_hosts6 &&
           dns_hosts == other.dns_hosts;
  }
};

// The forward mode libvirt gets: "open" when virtnat's table owns NAT, else "nat".
std::string LibvirtForwardMode(const Network& network);

// With `uuid` (the defined network's), libvirt takes the XML as a new definition of that
// network; without it libvirt would invent one and refuse the name as taken.
std::string RenderNetworkXml(const Network& network, const std::string& uuid = "");
LibvirtNetworkFacts DesiredNetworkFacts(const Network& network);
// Throws RuntimeFailure when libvirt's XML cannot be read (`source`, e.g. "stdin", names where
// it came from in the message). Takes a <network> document or the <hookData> libvirt gives
// network hooks on stdin (its <network> child is read).
LibvirtNetworkFacts ParseNetworkFacts(const std::string& xml, const std::string& source = "");

// The network whose host bridge the facts' metadata describes, as the config had it: provider
// libvirt, define, mode bridged, name, bridge, uplink, address (NeedsHostBridge holds). Throws
// RuntimeFailure when there is no metadata or it is not usable (a missing or invalid interface
// name, an invalid address).
Network BridgedNetworkFromFacts(const LibvirtNetworkFacts& facts);

// The host bridge virtnat made for this network's libvirt definition `have` (forward mode
// bridge) when the config moves the network to another bridge or mode; nullopt otherwise.
std::optional<std::string> StaleHostBridge(const LibvirtNetworkFacts& have, const Network& network);

// Canonical XML of one DHCP host and one DNS host entry, as virNetworkUpdate takes them.
std::string DhcpHostXml(const std::string& mac, const std::string& name, const std::string& ip);
std::string DnsHostXml(const std::string& ip, const std::string& hostname);
// libvirt's IPv6 DHCP hosts have no MAC (RFC 8415 clients name themselves by a DUID): the
// host's DUID-LL built from its MAC, and its name, which dnsmasq matches when the client
// sends it. Either one finds the host.
std::string DhcpHost6Xml(const std::string& id, const std::string& name, const std::string& ip);
// "00:03:00:01:" + the MAC: the DUID-LL (RFC 8415 11.4) of an Ethernet NIC.
std::string DuidLl(const MacAddress& mac);

}  // namespace virtnat
