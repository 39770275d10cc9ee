// A thin adapter over libnl-route-3 for the links of standalone networks: bridges, dummy NICs,
// enslaving, IPv4 and IPv6 addresses. Works in the network namespace of the calling process.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/net.h"

struct nl_sock;

namespace virtnat {

struct LinkFacts {
  int index = 0;
  std::string kind;  // "bridge", "dummy", "veth"...; empty for a plain device
  MacAddress mac;
  bool up = false;       // administratively up (IFF_UP)
  int master_index = 0;  // 0 = not enslaved
  std::string alias;     // IFLA_IFALIAS ("ip link set alias"); empty when none
};

// Every method throws RuntimeFailure when the kernel refuses.
class LinkManager {
 public:
  LinkManager();  // opens a NETLINK_ROUTE socket
  ~LinkManager();
  LinkManager(const LinkManager&) = delete;
  LinkManager& operator=(const LinkManager&) = delete;

  std::optional<LinkFacts> Find(const std::string& name);

  // Creates a bridge with this MAC, STP on and the shortest forward delay STP allows (2 s), or
  // brings an existing one to that state. The MAC is set on the bridge itself so that ports
  // joining with lower MACs never change it. Returns true when it created the bridge.
  bool EnsureBridge(const std::string& name, const MacAddress& mac);
  // Creates a bridge that must not exist yet. `mac` nullopt leaves the MAC to the kernel.
  // Without STP the bridge sends no BPDUs and its ports forward at once (a bridge facing a
  // LAN, whose switches may shut a port that sends BPDUs).
  void CreateBridge(const std::string& name, const std::optional<MacAddress>& mac, bool stp);
  // Creates a dummy NIC with this MAC, or sets the MAC of an existing one. Returns true when
  // it created it. On kernels without the dummy driver (EOPNOTSUPP) the NIC is a persistent
  // TAP device with no process attached, as libvirt's "virbr0-nic" was.
  bool EnsureDummy(const std::string& name, const MacAddress& mac);

  // Enslaves `name` to `master`; an empty master releases it.
  void SetMaster(const std::string& name, const std::string& master);
  void SetUp(const std::string& name);
  // Sets the interface alias (what `ip link` shows as "alias"); virtnat marks links with it.
  void SetAlias(const std::string& name, const std::string& alias);
  // The name of the link with this index; empty when there is none.
  std::string NameOf(int index);

  std::vector<Ipv4Interface> Ipv4Addresses(const std::string& name);
  void AddIpv4Address(const std::string& name, const Ipv4Interface& address);
  void DeleteIpv4Address(const std::string& name, const Ipv4Interface& address);
  // Global IPv6 addresses only: the kernel's link-local fe80:: address is never listed.
  std::vector<Ipv6Interface> Ipv6Addresses(const std::string& name);
  // Added with nodad, so it is usable at once (no duplicate address detection on a bridge
  // virtnat owns) and dnsmasq finds it when it starts.
  void AddIpv6Address(const std::string& name, const Ipv6Interface& address);
  void DeleteIpv6Address(const std::string& name, const Ipv6Interface& address);

  // The interfaces whose IPv6 routes come from router advertisements (proto ra) while their
  // accept_ra is 1: once IPv6 forwarding is on, the kernel ignores their RAs and the routes
  // expire. accept_ra = 2 keeps them.
  std::vector<std::string> InterfacesDependingOnRouterAdvertisements();

  // Deletes the link; returns false when there was none.
  bool Delete(const std::string& name);

 private:
  int IndexOf(const std::string& name);
  void SetMac(int index, const std::string& name, const MacAddress& mac);
  // Sends RTM_NEWLINK for a bridge: create (index 0) or change (index of an existing one).
  void SendBridgeRequest(const std::string& name, int index, const std::optional<MacAddress>& mac,
                         bool stp = true);

  nl_sock* socket_ = nullptr;
};

// The kinds a dummy NIC may have: "dummy", or "tun" for the TAP fallback.
bool IsDummyNicKind(const std::string& kind);

// net.ipv4.ip_forward of the calling process's network namespace, through /proc/sys.
bool Ipv4ForwardingEnabled();
void EnableIpv4Forwarding();
// net.ipv6.conf.all.forwarding of the calling process's network namespace.
bool Ipv6ForwardingEnabled();
void EnableIpv6Forwarding();
// net.ipv6.conf.<name>.<setting>: nullopt when the interface has no IPv6 (or no such setting).
std::optional<std::string> ReadIpv6Setting(const std::string& name, const std::string& setting);
void WriteIpv6Setting(const std::string& name, const std::string& setting,
                      const std::string& value);

}  // namespace virtnat
