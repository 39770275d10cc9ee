// libvirt network XML generated from a config network, and the facts virtnat compares when it
// decides between a live host update and a redefinition (pure: no libvirt calls).
#pragma once

#include <optional>
#include <set>
#include <string>

#include "model/model.h"

namespace virtnat {

struct LibvirtNetworkFacts {
  std::string name;
  std::string uuid;          // libvirt's; not part of the shape
  std::string forward_mode;  // "open", "nat", "" (isolated) ...
  std::string bridge;
  std::string domain;
  std::string address;  // "10.1.1.1/24"
  std::string dhcp_range;
  std::set<std::string> dhcp_hosts;  // "<host mac='..' name='..' ip='..'/>" in canonical form
  std::set<std::string> dns_hosts;   // "<host ip='..'><hostname>..</hostname></host>"

  // Everything but the host entries: when only those differ, libvirt can update live.
  bool SameShape(const LibvirtNetworkFacts& other) const {
    return name == other.name && forward_mode == other.forward_mode && bridge == other.bridge &&
           domain == other.domain && address == other.address && dhcp_range == other.dhcp_range;
  }
};

// The forward mode libvirt gets: "open" when virtnat's table owns NAT, else "nat".
std::string LibvirtForwardMode(const Network& network);

// With `uuid` (the defined network's), libvirt takes the XML as a new definition of that
// network; without it libvirt would invent one and refuse the name as taken.
std::string RenderNetworkXml(const Network& network, const std::string& uuid = "");
LibvirtNetworkFacts DesiredNetworkFacts(const Network& network);
// Throws RuntimeFailure when libvirt's XML cannot be read.
LibvirtNetworkFacts ParseNetworkFacts(const std::string& xml);

// The host bridge virtnat made for this network's libvirt definition `have` (forward mode
// bridge) when the config moves the network to another bridge or mode; nullopt otherwise.
std::optional<std::string> StaleHostBridge(const LibvirtNetworkFacts& have, const Network& network);

// Canonical XML of one DHCP host and one DNS host entry, as virNetworkUpdate takes them.
std::string DhcpHostXml(const std::string& mac, const std::string& name, const std::string& ip);
std::string DnsHostXml(const std::string& ip, const std::string& hostname);

}  // namespace virtnat
