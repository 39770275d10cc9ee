// firewalld beside virtnat: when firewalld runs, virtnat's bridges go into a zone of their own
// ("virtnat"), as libvirt's go into its "libvirt" zone. The zone lets guests reach the host's
// DHCP, DHCPv6, DNS and ICMP and nothing else of the host (a reject at the lowest rich-rule
// priority), and lets their forwarded traffic through (target ACCEPT): which forwarded traffic
// passes is the business of virtnat's own table, by each network's mode (nat and routed go out,
// DNATed connections come in, isolated guests go nowhere). Both the runtime and the permanent
// configuration carry it, so `firewall-cmd --reload` and a reboot keep it.
//
// virtnat talks to firewalld's runtime through its D-Bus API (dbus-send: zone.getZones,
// zone.getInterfaces, zone.changeZoneOfInterface, zone.removeInterface, reload) and to its
// permanent configuration through /usr/bin/firewall-cmd --permanent (argument vectors, never
// a shell), and only when something is missing: whether all is in place is read from
// firewalld's nftables table (runtime) and its zone file (permanent), so an apply or a repair
// with everything in place calls neither.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/firewall_neighbour.h"

namespace virtnat {

// Pure: the bridges that belong in the zone: networks whose firewall is virtnat's table, in
// modes nat, routed and isolated (open and bridged networks are the admin's).
std::set<std::string> FirewalldZoneBridges(const DesiredState& state);

// Pure: the zone's permanent definition (firewalld's zone XML), without interfaces.
std::string FirewalldZoneXml();

// Pure: the interfaces of a zone file; nullopt when the text is no zone.
std::optional<std::set<std::string>> ZoneFileInterfaces(const std::string& xml);

// Pure: the interfaces that firewalld's nftables table (JSON of `list chain inet firewalld
// filter_INPUT_ZONES`) sends to the zone.
std::set<std::string> NftZoneInterfaces(const nlohmann::json& chain, const std::string& zone);

class FirewalldZone : public FirewallNeighbour {
 public:
  explicit FirewalldZone(std::string zone = "virtnat") : zone_(std::move(zone)) {}
  std::string Name() const override { return "firewalld"; }
  std::vector<std::string> Ensure(const DesiredState& state) override;
  std::vector<std::string> Remove() override;

  // firewalld's D-Bus name (org.fedoraproject.FirewallD1) has an owner on the system bus.
  static bool Running();

 private:
  std::optional<std::set<std::string>> PermanentInterfaces() const;  // nullopt: no zone
  std::optional<std::set<std::string>> RuntimeInterfacesFast() const;
  std::set<std::string> RuntimeInterfaces() const;
  std::string zone_;
};

}  // namespace virtnat
