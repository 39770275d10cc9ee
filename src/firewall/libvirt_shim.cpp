#include "firewall/libvirt_shim.h"

#include <fmt/format.h>

#include <vector>

#include "config/diagnostics.h"
#include "firewall/nftables.h"
#include "system/process.h"

namespace virtnat {
namespace {

constexpr const char* kIptables = "/usr/sbin/iptables";
constexpr const char* kIptablesChain = "LIBVIRT_FWI";
constexpr const char* kShimTag = "virtnat-shim";
constexpr const char* kNftChain = "list chain ip libvirt_network guest_input";

std::vector<std::string> IptablesRule(const char* action, bool insert_first = false) {
  std::vector<std::string> argv{kIptables, "-w", action, kIptablesChain};
  if (insert_first) argv.push_back("1");
  for (const char* arg : {"-m", "conntrack", "--ctstate", "DNAT", "-m", "comment", "--comment",
                          kShimTag, "-j", "ACCEPT"})
    argv.push_back(arg);
  return argv;
}

bool IptablesChainExists() {
  return RunProgram({kIptables, "-w", "-n", "-L", kIptablesChain}).exit_status == 0;
}

// Handles of the shim rules in libvirt's nftables chain.
std::vector<long long> NftShimHandles(Nftables& nft) {
  std::vector<long long> handles;
  auto listing = nft.ListJson(kNftChain);
  if (!listing) return handles;
  for (const auto& item : listing->value("nftables", nlohmann::json::array()))
    if (item.contains("rule") && item["rule"].value("comment", "").starts_with(kShimTag))
      handles.push_back(item["rule"].value("handle", 0ll));
  return handles;
}

}  // namespace

LibvirtFirewallBackend LibvirtShim::Detect() {
  if (nft_.ListJson(kNftChain)) return LibvirtFirewallBackend::kNftables;
  if (IptablesChainExists()) return LibvirtFirewallBackend::kIptables;
  return LibvirtFirewallBackend::kNone;
}

bool LibvirtShim::Present() {
  switch (Detect()) {
    case LibvirtFirewallBackend::kNftables:
      return !NftShimHandles(nft_).empty();
    case LibvirtFirewallBackend::kIptables:
      return RunProgram(IptablesRule("-C")).exit_status == 0;
    case LibvirtFirewallBackend::kNone:
      return false;
  }
  return false;
}

std::string LibvirtShim::Ensure() {
  switch (Detect()) {
    case LibvirtFirewallBackend::kNftables:
      if (!NftShimHandles(nft_).empty()) return "";
      nft_.Run(fmt::format(
          "insert rule ip libvirt_network guest_input ct status dnat counter accept comment "
          "\"{}\"\n",
          kComment));
      return "added the shim rule to libvirt's chain ip libvirt_network guest_input";
    case LibvirtFirewallBackend::kIptables: {
      if (RunProgram(IptablesRule("-C")).exit_status == 0) return "";
      auto result = RunProgram(IptablesRule("-I", true));
      if (result.exit_status != 0)
        throw RuntimeFailure(fmt::format("cannot add the shim rule to libvirt's chain {}: {}",
                                         kIptablesChain, result.output));
      return fmt::format("added the shim rule to libvirt's iptables chain {}", kIptablesChain);
    }
    case LibvirtFirewallBackend::kNone:
      return "";
  }
  return "";
}

bool LibvirtShim::Remove() {
  bool removed = false;
  for (long long handle : NftShimHandles(nft_)) {
    nft_.Run(fmt::format("delete rule ip libvirt_network guest_input handle {}\n", handle));
    removed = true;
  }
  if (IptablesChainExists())
    for (int i = 0; i < 16 && RunProgram(IptablesRule("-C")).exit_status == 0; ++i)
      removed = RunProgram(IptablesRule("-D")).exit_status == 0 || removed;
  return removed;
}

}  // namespace virtnat
