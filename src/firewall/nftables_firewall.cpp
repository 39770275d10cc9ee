#include "firewall/nftables_firewall.h"

#include <fmt/format.h>

#include <algorithm>

#include "firewall/conntrack.h"

namespace virtnat {
namespace {

struct ElementChanges {
  NftElements remove, add;
  std::size_t removed = 0, added = 0;
};

ElementChanges CompareElements(const NftElements& kernel, const NftElements& desired) {
  ElementChanges changes;
  static const std::set<std::string> kNone;
  for (const auto& [set, wanted] : desired) {
    auto found = kernel.find(set);
    const auto& present = found == kernel.end() ? kNone : found->second;
    for (const auto& element : present)
      if (!wanted.contains(element)) {
        changes.remove[set].insert(element);
        ++changes.removed;
      }
    for (const auto& element : wanted)
      if (!present.contains(element)) {
        changes.add[set].insert(element);
        ++changes.added;
      }
  }
  return changes;
}

}  // namespace

KernelTable NftablesFirewall::ReadKernel() {
  auto listing = nft_.ListJson(fmt::format("list table inet {}", table_));
  if (!listing) return {};
  return ParseKernelTable(*listing);
}

bool NftablesFirewall::LayoutMatches(const KernelTable& kernel, const NftRuleset& desired) const {
  // nft's JSON output omits the table comment, so the layout hash is remembered beside the
  // kernel's fingerprint in the state folder.
  if (!kernel.exists) return false;
  auto applied = state_.ReadAppliedFingerprint(table_);
  return applied && *applied == kernel.fingerprint + " " + desired.skeleton_hash;
}

std::string NftablesFirewall::Render(const DesiredState& state) {
  return RenderTable(RenderRuleset(state));
}

FirewallDiff NftablesFirewall::Diff(const DesiredState& state) {
  NftRuleset desired = RenderRuleset(state);
  KernelTable kernel = ReadKernel();
  FirewallDiff diff;
  diff.table_missing = !kernel.exists;
  if (!kernel.exists) return diff;
  diff.layout_differs = !LayoutMatches(kernel, desired);
  ElementChanges changes = CompareElements(kernel.elements, desired.elements);
  for (const auto& [set, elements] : changes.add)
    for (const auto& element : elements) diff.to_add.push_back(set + ": " + element);
  for (const auto& [set, elements] : changes.remove)
    for (const auto& element : elements) diff.to_remove.push_back(set + ": " + element);
  return diff;
}

FirewallChange NftablesFirewall::Apply(const DesiredState& state) {
  NftRuleset desired = RenderRuleset(state);
  KernelTable kernel = ReadKernel();
  FirewallChange change;
  if (LayoutMatches(kernel, desired)) {
    ElementChanges changes = CompareElements(kernel.elements, desired.elements);
    if (changes.added + changes.removed > 0)
      nft_.Run(RenderElementChanges(table_, changes.remove, changes.add));
    ForgetClosed(changes.remove);
    change.added = changes.added;
    change.removed = changes.removed;
    return change;
  }
  nft_.Run(RenderReplace(desired));
  ForgetClosed(CompareElements(kernel.elements, desired.elements).remove);
  change.replaced = true;
  for (const auto& [set, elements] : desired.elements) change.added += elements.size();
  state_.WriteAppliedFingerprint(table_, ReadKernel().fingerprint + " " + desired.skeleton_hash);
  return change;
}

void NftablesFirewall::ForgetClosed(const NftElements& removed) {
  std::vector<std::string> closed;
  for (const char* set : {nftset::kDnat, nftset::kDnatAny})
    if (auto found = removed.find(set); found != removed.end())
      closed.insert(closed.end(), found->second.begin(), found->second.end());
  ForgetConnections(ParseClosedMappings(closed));
}

std::vector<TrafficCounters> NftablesFirewall::ReadCounters(const DesiredState& state) {
  KernelTable kernel = ReadKernel();
  std::vector<TrafficCounters> counters;
  for (const auto& forward : state.forwards) {
    TrafficCounters total;
    const char* set = forward.forward->listen ? nftset::kCount : nftset::kCountAny;
    for (const auto& mapping : forward.mappings) {
      auto found = kernel.counters.find(std::string(set) + "|" + MappingKey(mapping));
      if (found == kernel.counters.end()) continue;
      total.packets += found->second.packets;
      total.bytes += found->second.bytes;
    }
    counters.push_back(total);
  }
  return counters;
}

bool NftablesFirewall::Down() {
  state_.ForgetApplied(table_);
  if (!ReadKernel().exists) return false;
  nft_.Run(RenderDeleteTable(table_));
  return true;
}

}  // namespace virtnat
