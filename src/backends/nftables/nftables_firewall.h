// The nftables backend: one table (inet) that virtnat owns, replaced whole when its layout
// changes and edited element by element otherwise, always in one transaction.
#pragma once

#include <optional>

#include "backends/nftables/firewall.h"
#include "backends/nftables/kernel_table.h"
#include "backends/nftables/nftables.h"
#include "state/state_dir.h"

namespace virtnat {

class NftablesFirewall : public Firewall {
 public:
  NftablesFirewall(std::string table, const StateDir& state)
      : table_(std::move(table)), state_(state) {}

  std::string Render(const DesiredState& state) override;
  FirewallDiff Diff(const DesiredState& state) override;
  FirewallChange Apply(const DesiredState& state) override;
  std::vector<TrafficCounters> ReadCounters(const DesiredState& state) override;
  bool Down() override;

  KernelTable ReadKernel();
  // The table without elements: enough for the layout fingerprint.
  KernelTable ReadKernelLayout();

  // What virtnat last installed, kept in the state folder so that apply need not list the
  // kernel's table (slow with many elements) when nothing else changed nftables since.
  struct Memo {
    std::string layout;       // hash of the desired layout
    std::string fingerprint;  // the kernel's layout fingerprint for it ("" = not read yet)
    std::optional<std::uint32_t> generation;  // ruleset generation right after our change
    NftElements elements;
  };

 private:
  // True when the kernel's table has exactly the layout that `desired` needs and that
  // virtnat itself installed (nobody edited its chains since).
  bool LayoutMatches(const KernelTable& kernel, const NftRuleset& desired,
                     const std::optional<Memo>& memo) const;
  // The kernel's table when it certainly equals the memo (nothing changed nftables since).
  std::optional<Memo> TrustedMemo(const NftRuleset& desired);
  // Runs `commands` and remembers `desired` as installed.
  void RunAndRemember(const std::string& commands, const NftRuleset& desired,
                      std::string fingerprint);
  std::optional<Memo> ReadMemo() const;
  void WriteMemo(const Memo& memo) const;

  // Ends tracked connections of DNAT elements that were removed.
  void ForgetClosed(const NftElements& removed);

  std::string table_;
  const StateDir& state_;
  Nftables nft_;
};

}  // namespace virtnat
