// The nftables backend: one table (inet) that virtnat owns, replaced whole when its layout
// changes and edited element by element otherwise, always in one transaction.
#pragma once

#include "firewall/firewall.h"
#include "firewall/kernel_table.h"
#include "firewall/nftables.h"
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

 private:
  // True when the kernel's table has exactly the layout that `desired` needs and that
  // virtnat itself installed (nobody edited its chains since).
  bool LayoutMatches(const KernelTable& kernel, const NftRuleset& desired) const;

  // Ends tracked connections of DNAT elements that were removed.
  void ForgetClosed(const NftElements& removed);

  std::string table_;
  const StateDir& state_;
  Nftables nft_;
};

}  // namespace virtnat
