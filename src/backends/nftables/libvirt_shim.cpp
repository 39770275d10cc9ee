#include "backends/nftables/libvirt_shim.h"

#include <fmt/format.h>

#include <vector>

#include "backends/nftables/nftables.h"
#include "base/errors.h"
#include "base/process.h"

namespace virtnat {
namespace {

constexpr const char* kShimTag = "virtnat-shim";

// libvirt's firewall of one address family: its nftables table (libvirt 10.4+ makes
// `ip6 libvirt_network` beside `ip libvirt_network` once a network has IPv6) and its iptables
// tool (ip6tables' LIBVIRT_FWI for IPv6 networks).
struct Family {
  const char* nft_family;  // "ip" or "ip6"
  const char* iptables;    // "/usr/sbin/iptables" or "/usr/sbin/ip6tables"
  std::string NftChain() const { return fmt::format("{} libvirt_network guest_input", nft_family); }
};
constexpr Family kFamilies[] = {{"ip", "/usr/sbin/iptables"}, {"ip6", "/usr/sbin/ip6tables"}};
constexpr const char* kIptablesChain = "LIBVIRT_FWI";

std::vector<std::string> IptablesRule(const Family& family, const char* action,
                                      bool insert_first = false) {
  std::vector<std::string> argv{family.iptables, "-w", action, kIptablesChain};
  if (insert_first) argv.push_back("1");
  for (const char* arg : {"-m", "conntrack", "--ctstate", "DNAT", "-m", "comment", "--comment",
                          kShimTag, "-j", "ACCEPT"})
    argv.push_back(arg);
  return argv;
}

bool IptablesChainExists(const Family& family) {
  return RunProgram({family.iptables, "-w", "-n", "-L", kIptablesChain}).exit_status == 0;
}

struct NftChainState {
  std::vector<long long> shim_handles;
  bool shim_first = false;  // libvirt re-creates its rules at the top: ours must stay above
};

NftChainState ReadNftChain(Nftables& nft, const Family& family) {
  NftChainState state;
  auto listing = nft.ListJson("list chain " + family.NftChain());
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
bool IptablesShimFirst(const Family& family) {
  auto listing = RunProgram({family.iptables, "-w", "-S", kIptablesChain});
  if (listing.exit_status != 0) return false;
  std::size_t first_rule = listing.output.find("\n-A ");
  if (first_rule == std::string::npos) return false;
  std::size_t end = listing.output.find('\n', first_rule + 1);
  return listing.output.substr(first_rule, end - first_rule).find(kShimTag) != std::string::npos;
}

std::string NftShimRule(const Family& family) {
  return fmt::format("insert rule {} ct status dnat counter accept comment \"{}\"\n",
                     family.NftChain(), LibvirtShim::kComment);
}

LibvirtFirewallBackend DetectFamily(Nftables& nft, const Family& family) {
  if (nft.ListJson("list chain " + family.NftChain())) return LibvirtFirewallBackend::kNftables;
  if (IptablesChainExists(family)) return LibvirtFirewallBackend::kIptables;
  return LibvirtFirewallBackend::kNone;
}

bool PresentIn(Nftables& nft, const Family& family) {
  switch (DetectFamily(nft, family)) {
    case LibvirtFirewallBackend::kNftables:
      return ReadNftChain(nft, family).shim_first;
    case LibvirtFirewallBackend::kIptables:
      return IptablesShimFirst(family);
    case LibvirtFirewallBackend::kNone:
      return false;
  }
  return false;
}

std::string EnsureIn(Nftables& nft, const Family& family) {
  switch (DetectFamily(nft, family)) {
    case LibvirtFirewallBackend::kNftables: {
      NftChainState chain = ReadNftChain(nft, family);
      if (chain.shim_first) return "";
      std::string commands;
      for (long long handle : chain.shim_handles)
        commands += fmt::format("delete rule {} handle {}\n", family.NftChain(), handle);
      commands += NftShimRule(family);
      nft.Run(commands);  // one transaction: never a moment without the shim
      return chain.shim_handles.empty()
                 ? "added the shim rule to libvirt's chain " + family.NftChain()
                 : "moved the shim rule back to the top of " + family.NftChain();
    }
    case LibvirtFirewallBackend::kIptables: {
      if (IptablesShimFirst(family)) return "";
      // A copy below libvirt's reject is useless: remove it, then insert at the top.
      bool moved = false;
      for (int i = 0; i < 16 && RunProgram(IptablesRule(family, "-C")).exit_status == 0; ++i)
        moved = RunProgram(IptablesRule(family, "-D")).exit_status == 0 || moved;
      auto result = RunProgram(IptablesRule(family, "-I", true));
      if (result.exit_status != 0)
        throw RuntimeFailure(fmt::format("cannot add the shim rule to libvirt's chain {}: {}",
                                         kIptablesChain, result.output));
      return fmt::format("{} the shim rule {} libvirt's {} chain {}", moved ? "moved" : "added",
                         moved ? "back to the top of" : "to",
                         family.nft_family == std::string("ip6") ? "ip6tables" : "iptables",
                         kIptablesChain);
    }
    case LibvirtFirewallBackend::kNone:
      return "";
  }
  return "";
}

}  // namespace

std::string RenderLibvirtShim() {
  std::string iptables;
  for (const auto& arg : IptablesRule(kFamilies[0], "-I", true))
    iptables += (iptables.empty() ? "" : " ") + arg;
  return fmt::format(
      "# libvirt's nftables backend (libvirt 10.4+)\n{}"
      "# libvirt's iptables backend\n{}\n",
      NftShimRule(kFamilies[0]), iptables);
}

LibvirtFirewallBackend LibvirtShim::Detect() {
  return DetectFamily(nft_, kFamilies[0]);
}

// IPv4 decides: libvirt's IPv6 chain exists only where a network of libvirt has IPv6, and then
// it must carry the shim too.
bool LibvirtShim::Present() {
  if (!PresentIn(nft_, kFamilies[0])) return false;
  return DetectFamily(nft_, kFamilies[1]) == LibvirtFirewallBackend::kNone ||
         PresentIn(nft_, kFamilies[1]);
}

std::string LibvirtShim::Ensure() {
  std::string done;
  for (const auto& family : kFamilies) {
    std::string line = EnsureIn(nft_, family);
    if (!line.empty()) done += (done.empty() ? "" : "; ") + line;
  }
  return done;
}

bool LibvirtShim::Remove() {
  bool removed = false;
  for (const auto& family : kFamilies) {
    for (long long handle : ReadNftChain(nft_, family).shim_handles) {
      nft_.Run(fmt::format("delete rule {} handle {}\n", family.NftChain(), handle));
      removed = true;
    }
    if (IptablesChainExists(family))
      for (int i = 0; i < 16 && RunProgram(IptablesRule(family, "-C")).exit_status == 0; ++i)
        removed = RunProgram(IptablesRule(family, "-D")).exit_status == 0 || removed;
  }
  return removed;
}

}  // namespace virtnat
