// provider = "standalone": virtnat itself builds a network's bridge (with a dummy NIC holding a
// stable MAC), its host address and its dnsmasq, the recipe many admins run without libvirt's
// network driver. Everything works in the calling process's network namespace.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "providers/standalone/dnsmasq_config.h"

namespace virtnat {

// Whether the network's mode routes packets between its bridge and other interfaces, so that
// net.ipv4.ip_forward (and for a dual-stack network net.ipv6.conf.all.forwarding) must be on
// (nat, routed, open); isolated and bridged need no routing.
bool StandaloneNeedsForwarding(const Network& network);

// Brings the network up; idempotent, it creates or repairs only what is missing or differs:
// the bridge (STP on, MAC from StableBridgeMac), the dummy NIC (DummyNicName) enslaved to it,
// the host address (other IPv4 addresses on the bridge are removed), in a dual-stack network
// its IPv6 address (with nodad; other global IPv6 addresses are removed, the bridge takes no
// router advertisements), the uplink of a bridged network, IPv4 forwarding (and IPv6
// forwarding for a dual-stack network) when `enable_forwarding`, and for modes that serve DHCP
// (Network::ServesDhcp) one dnsmasq: started when not running, restarted when its
// configuration changed, sent SIGHUP when only the hosts changed (same pid, leases kept).
// Returns one line per action ("network X: ..."); none when all was in place.
// Throws RuntimeFailure when the kernel or dnsmasq refuses, BadInput for an unusable name.
std::vector<std::string> StartStandaloneNetwork(const Network& network,
                                                const StandalonePaths& paths,
                                                bool enable_forwarding);

// Stops dnsmasq, releases the uplink, deletes the dummy NIC and the bridge. The files under
// lib_dir/<network>/ stay, so guests get their addresses back from the lease file on the next
// start. IPv4 and IPv6 forwarding are left as they are (other networks may need it). Returns one
// line per action; none when nothing was there.
std::vector<std::string> StopStandaloneNetwork(const Network& network,
                                               const StandalonePaths& paths);

struct StandaloneStatus {
  std::string bridge;
  bool bridge_exists = false;
  bool bridge_up = false;
  std::optional<MacAddress> bridge_mac;
  std::string dummy_nic;
  bool dummy_nic_exists = false;
  std::optional<int> dnsmasq_pid;  // this network's dnsmasq, when it runs
};

StandaloneStatus GetStandaloneStatus(const Network& network, const StandalonePaths& paths);

// The pid of this network's dnsmasq: from its pid file, and only if /proc shows that process
// is /usr/sbin/dnsmasq started with this network's --conf-file (a stale pid file or a
// recycled pid never counts).
std::optional<int> RunningDnsmasqPid(const Network& network, const StandalonePaths& paths);

// The leases in the network's lease file (none when it does not exist yet).
std::vector<DhcpLease> ReadStandaloneLeases(const Network& network, const StandalonePaths& paths);
std::vector<DhcpLease6> ReadStandaloneLeases6(const Network& network, const StandalonePaths& paths);

}  // namespace virtnat
