// One rule in libvirt's own firewall that lets connections virtnat DNATed pass libvirt's
// "reject new inbound" rule (an accept in virtnat's table cannot override a reject in
// another table). Detects libvirt's firewall backend: nftables (table ip libvirt_network,
// libvirt 10.4+) or iptables (chain LIBVIRT_FWI), in each family: `ip6 libvirt_network` and
// ip6tables' LIBVIRT_FWI carry the same rule once a libvirt network has IPv6.
#pragma once

#include <string>

namespace virtnat {

class Nftables;

// The shim as it is installed, for each of libvirt's firewall backends: the nft rule inserted
// at the top of `ip libvirt_network guest_input`, and the iptables rule inserted first in
// LIBVIRT_FWI (pure, for `plan`-like output and the golden files).
std::string RenderLibvirtShim();

enum class LibvirtFirewallBackend { kNone, kIptables, kNftables };

class LibvirtShim {
 public:
  explicit LibvirtShim(Nftables& nft) : nft_(nft) {}

  LibvirtFirewallBackend Detect();
  // Makes the rule the first of libvirt's chain when that chain exists (libvirt inserts its
  // own rules at the top whenever it re-creates them). Returns a description of what
  // was done ("" when nothing was needed). Throws RuntimeFailure.
  std::string Ensure();
  // Removes every copy of the rule. Returns true if one was removed.
  bool Remove();
  // True when the rule is the first of libvirt's chain.
  bool Present();

  static constexpr const char* kComment = "virtnat-shim: accept connections virtnat forwarded";

 private:
  Nftables& nft_;
};

}  // namespace virtnat
