#include "backends/nftables/libvirt_shim.h"

#include <fmt/format.h>

#include <vector>

#include "backends/nftables/nftables.h"
#include "base/errors.h"
#include "base/process.h"

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

struct NftChainState {
  std::vector<long long> shim_handles;
  bool shim_first = false;  // libvirt re-creates its rules at the top: ours must stay above
};

NftChainState ReadNftChain(Nftables& nft) {
  NftChainState state;
  auto listing = nft.ListJson(kNftChain);
  if (!listing) return state;
  bool first = true;
  for (const auto& item : listing->value("nftables", nlohmann::json::array())) {
    if (!item.contains("rule")) continue;
    bool shim = item["rule"].value("comment", "").starts_with(kShimTag);
    if (shim) state.shim_handles.push_back(item["rule"].value("handle", 0ll));
    if (first) state.shim_first = shim;
    first = false;
  }
  return state;
}

// True when the first rule of LIBVIRT_FWI is the shim.
bool IptablesShimFirst() {
  auto listing = RunProgram({kIptables, "-w", "-S", kIptablesChain});
  if (listing.exit_status != 0) return false;
  std::size_t first_rule = listing.output.find("\n-A ");
  if (first_rule == std::string::npos) return false;
  std::size_t end = listing.output.find('\n', first_rule + 1);
  return listing.output.substr(first_rule, end - first_rule).find(kShimTag) != std::string::npos;
}

std::string NftShimRule() {
  return fmt::format(
      "insert rule ip libvirt_network guest_input ct status dnat counter accept comment \"{}\"\n",
      LibvirtShim::kComment);
}

}  // namespace

std::string RenderLibvirtShim() {
  std::string iptables;
  for (const auto& arg : IptablesRule("-I", true)) iptables += (iptables.empty() ? "" : " ") + arg;
  return fmt::format(
      "# libvirt's nftables backend (libvirt 10.4+)\n{}"
      "# libvirt's iptables backend\n{}\n",
      NftShimRule(), iptables);
}

LibvirtFirewallBackend LibvirtShim::Detect() {
  if (nft_.ListJson(kNftChain)) return LibvirtFirewallBackend::kNftables;
  if (IptablesChainExists()) return LibvirtFirewallBackend::kIptables;
  return LibvirtFirewallBackend::kNone;
}

bool LibvirtShim::Present() {
  switch (Detect()) {
    case LibvirtFirewallBackend::kNftables:
      return ReadNftChain(nft_).shim_first;
    case LibvirtFirewallBackend::kIptables:
      return IptablesShimFirst();
    case LibvirtFirewallBackend::kNone:
      return false;
  }
  return false;
}

std::string LibvirtShim::Ensure() {
  switch (Detect()) {
    case LibvirtFirewallBackend::kNftables: {
      NftChainState chain = ReadNftChain(nft_);
      if (chain.shim_first) return "";
      std::string commands;
      for (long long handle : chain.shim_handles)
        commands += fmt::format("delete rule ip libvirt_network guest_input handle {}\n", handle);
      commands += NftShimRule();
      nft_.Run(commands);  // one transaction: never a moment without the shim
      return chain.shim_handles.empty()
                 ? "added the shim rule to libvirt's chain ip libvirt_network guest_input"
                 : "moved the shim rule back to the top of ip libvirt_network guest_input";
    }
    case LibvirtFirewallBackend::kIptables: {
      if (IptablesShimFirst()) return "";
      // A copy below libvirt's reject is useless: remove it, then insert at the top.
      bool moved = false;
      for (int i = 0; i < 16 && RunProgram(IptablesRule("-C")).exit_status == 0; ++i)
        moved = RunProgram(IptablesRule("-D")).exit_status == 0 || moved;
      auto result = RunProgram(IptablesRule("-I", true));
      if (result.exit_status != 0)
        throw RuntimeFailure(fmt::format("cannot add the shim rule to libvirt's chain {}: {}",
                                         kIptablesChain, result.output));
      return fmt::format("{} the shim rule {} libvirt's iptables chain {}",
                         moved ? "moved" : "added", moved ? "back to the top of" : "to",
                         kIptablesChain);
    }
    case LibvirtFirewallBackend::kNone:
      return "";
  }
  return "";
}

bool LibvirtShim::Remove() {
  bool removed = false;
  for (long long handle : ReadNftChain(nft_).shim_handles) {
    nft_.Run(fmt::format("delete rule ip libvirt_network guest_input handle {}\n", handle));
    removed = true;
  }
  if (IptablesChainExists())
    for (int i = 0; i < 16 && RunProgram(IptablesRule("-C")).exit_status == 0; ++i)
      removed = RunProgram(IptablesRule("-D")).exit_status == 0 || removed;
  return removed;
}

}  // namespace virtnat
