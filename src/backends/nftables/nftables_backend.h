// The nftables backend: one table (inet) that virtnat owns, replaced whole when its layout
// changes and edited element by element otherwise, always in one transaction: a netlink batch
// built with libnftnl from the structured ruleset (netlink_batch.h), sent in one sendmsg. It
// also owns the per-host batch files the hook sends, the shim in libvirt's chain and the memo
// of what it last installed. libnftables stays for the shims in other tools' rulesets.
#pragma once

#include <optional>

#include "backends/nftables/kernel_table.h"
#include "backends/nftables/nft_ruleset.h"
#include "backends/nftables/nftables.h"
#include "engine/firewall_backend.h"
#include "state/state_dir.h"

namespace virtnat {

class NftablesBackend : public FirewallBackend {
 public:
  NftablesBackend(std::string table, const StateDir& state)
      : table_(std::move(table)), state_(state) {}

  std::string Describe() const override;
  std::string Render(const DesiredState& state) override;
  FirewallDiff Diff(const DesiredState& state) override;
  FirewallChange Apply(const DesiredState& state) override;
  std::vector<TrafficCounters> ReadCounters(const DesiredState& state) override;
  bool Down() override;
  bool Installed() override;
  void WriteHostState(const DesiredState& state) override;
  void SetHostsActive(const std::set<std::string>& hosts, bool active) override;
  std::string EnsureShims() override;
  std::string DescribeShims() const override { return "the libvirt shim"; }
  bool RemoveShims() override;
  int OpenChangeEvents() override;
  void DrainChangeEvents(int fd) override;
  std::vector<TrafficFinding> Diagnose(const std::vector<TrafficProbe>& probes) override;
  std::optional<FirewallChange> ApplyForwardChange(const DesiredState& added,
                                                   const DesiredState& removed) override;

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
  // The memo when it certainly equals the kernel's table: nothing changed nftables since it
  // was written (the ruleset generation is still the memo's).
  std::optional<Memo> TrustedMemo(const NftRuleset& desired);
  // One attempt of Apply; throws GenerationMoved when nftables changed under it.
  FirewallChange ApplyOnce(const NftRuleset& desired);
  // The memo with the changes of `forward add/remove` since it was written (its journal,
  // STATE/applied-NAME.memo.journal).
  std::optional<Memo> ReadMemo() const;
  // The memo's layout, fingerprint and generation (journal included), without its elements.
  std::optional<Memo> ReadMemoHeader() const;
  std::filesystem::path JournalPath() const;
  void WriteMemo(const Memo& memo) const;

  // Ends tracked connections of DNAT elements that were removed.
  void ForgetClosed(const NftElements& removed);

  std::string table_;
  StateDir state_;  // a copy: the backend outlives whoever chose it
  Nftables nft_;    // libnftables: the shims in other tools' rulesets
};

// The per-host element files of the hook's fast path (pure parts, for tests):
// "SET<TAB>ELEMENT" lines, the DNAT elements of one host's forwards (active or not).
struct HostElements {
  std::vector<std::pair<std::string, std::string>> elements;  // set, element
};
std::map<std::string, HostElements> BuildHostElements(const DesiredState& state);
std::string SerializeHostElements(const HostElements& elements);
HostElements ParseHostElements(const std::string& text);
// The netlink messages that add (and, with the add-then-delete idiom, surely remove) a host's
// elements: what apply writes to hosts/HOST.nft for the hook (host_batches.h).
struct HostBatch;
HostBatch BuildHostBatch(const std::string& table, const HostElements& elements);

}  // namespace virtnat
