#include "backends/nftables/nftables_firewall.h"

#include <fmt/format.h>

#include <algorithm>

#include "backends/nftables/conntrack.h"
#include "backends/nftables/ruleset_generation.h"
#include "base/files.h"

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

KernelTable NftablesFirewall::ReadKernelLayout() {
  // Terse: without set contents, which the fingerprint leaves out anyway (much faster).
  auto listing = nft_.ListJson(fmt::format("list table inet {}", table_), /*terse=*/true);
  if (!listing) return {};
  return ParseKernelTable(*listing);
}

KernelTable NftablesFirewall::ReadKernel() {
  auto listing = nft_.ListJson(fmt::format("list table inet {}", table_));
  if (!listing) return {};
  return ParseKernelTable(*listing);
}

bool NftablesFirewall::LayoutMatches(const KernelTable& kernel, const NftRuleset& desired,
                                     const std::optional<Memo>& memo) const {
  return kernel.exists && memo && memo->layout == desired.skeleton_hash &&
         !memo->fingerprint.empty() && memo->fingerprint == kernel.fingerprint;
}

std::optional<NftablesFirewall::Memo> NftablesFirewall::ReadMemo() const {
  auto text = ReadFileIfExists(state_.root() / fmt::format("applied-{}.memo", table_));
  if (!text) return std::nullopt;
  Memo memo;
  std::size_t start = 0;
  bool header = true;
  try {
    while (start < text->size()) {
      std::size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      std::string line = text->substr(start, end - start);
      start = end + 1;
      if (header) {
        auto json = nlohmann::json::parse(line);
        memo.layout = json.at("layout").get<std::string>();
        memo.fingerprint = json.at("fingerprint").get<std::string>();
        if (json.at("generation").is_number())
          memo.generation = json.at("generation").get<std::uint32_t>();
        for (const auto& set : json.at("sets")) memo.elements[set.get<std::string>()];
        header = false;
        continue;
      }
      auto tab = line.find('\t');
      if (tab != std::string::npos) memo.elements[line.substr(0, tab)].insert(line.substr(tab + 1));
    }
  } catch (const std::exception&) {
    return std::nullopt;  // an unreadable memo only costs a listing
  }
  if (header) return std::nullopt;
  return memo;
}

void NftablesFirewall::WriteMemo(const Memo& memo) const {
  nlohmann::json header = {{"layout", memo.layout}, {"fingerprint", memo.fingerprint}};
  header["generation"] = memo.generation ? nlohmann::json(*memo.generation) : nlohmann::json();
  header["sets"] = nlohmann::json::array();
  std::string body;
  for (const auto& [set, elements] : memo.elements) {
    header["sets"].push_back(set);
    for (const auto& element : elements) body += set + "\t" + element + "\n";
  }
  state_.Ensure();
  WriteFileAtomically(state_.root() / fmt::format("applied-{}.memo", table_),
                      header.dump() + "\n" + body, 0600);
}

std::optional<NftablesFirewall::Memo> NftablesFirewall::TrustedMemo(const NftRuleset& desired) {
  auto memo = ReadMemo();
  if (!memo || !memo->generation || memo->layout != desired.skeleton_hash) return std::nullopt;
  auto generation = ReadRulesetGeneration();
  if (!generation || *generation != *memo->generation) return std::nullopt;
  return memo;
}

void NftablesFirewall::RunAndRemember(const std::string& commands, const NftRuleset& desired,
                                      std::string fingerprint) {
  auto before = ReadRulesetGeneration();
  nft_.Run(commands);
  auto after = ReadRulesetGeneration();
  Memo memo{desired.skeleton_hash, std::move(fingerprint), std::nullopt, desired.elements};
  // Only when the generation moved by exactly our one transaction is the kernel known to
  // hold what we sent.
  if (before && after && *after == *before + 1) memo.generation = after;
  WriteMemo(memo);
}

std::string NftablesFirewall::Render(const DesiredState& state) {
  return RenderTable(RenderRuleset(state));
}

FirewallDiff NftablesFirewall::Diff(const DesiredState& state) {
  NftRuleset desired = RenderRuleset(state);
  FirewallDiff diff;
  NftElements present;
  if (auto memo = TrustedMemo(desired)) {
    present = memo->elements;
  } else {
    KernelTable kernel = ReadKernel();
    diff.table_missing = !kernel.exists;
    if (!kernel.exists) return diff;
    diff.layout_differs = !LayoutMatches(kernel, desired, ReadMemo());
    present = kernel.elements;
  }
  ElementChanges changes = CompareElements(present, desired.elements);
  for (const auto& [set, elements] : changes.add)
    for (const auto& element : elements) diff.to_add.push_back(set + ": " + element);
  for (const auto& [set, elements] : changes.remove)
    for (const auto& element : elements) diff.to_remove.push_back(set + ": " + element);
  return diff;
}

FirewallChange NftablesFirewall::Apply(const DesiredState& state) {
  NftRuleset desired = RenderRuleset(state);
  FirewallChange change;
  auto apply_changes = [&](const NftElements& present, const std::string& fingerprint) {
    ElementChanges changes = CompareElements(present, desired.elements);
    change.added = changes.added;
    change.removed = changes.removed;
    if (changes.added + changes.removed == 0) return;
    RunAndRemember(RenderElementChanges(table_, changes.remove, changes.add), desired, fingerprint);
    ForgetClosed(changes.remove);
  };
  // Fast path: nobody changed nftables since our last transaction.
  if (auto memo = TrustedMemo(desired)) {
    apply_changes(memo->elements, memo->fingerprint);
    return change;
  }
  KernelTable kernel = ReadKernel();
  auto memo = ReadMemo();
  if (LayoutMatches(kernel, desired, memo)) {
    apply_changes(kernel.elements, kernel.fingerprint);
    if (!change.Changed()) {  // in sync: remember the generation for the next fast path
      Memo fresh{desired.skeleton_hash, kernel.fingerprint, ReadRulesetGeneration(),
                 desired.elements};
      WriteMemo(fresh);
    }
    return change;
  }
  // The same layout always lists the same way: reuse its fingerprint instead of listing.
  std::string fingerprint =
      memo && memo->layout == desired.skeleton_hash ? memo->fingerprint : std::string();
  RunAndRemember(RenderReplace(desired), desired, fingerprint);
  if (fingerprint.empty()) {
    Memo with_fingerprint = *ReadMemo();
    with_fingerprint.fingerprint = ReadKernelLayout().fingerprint;
    WriteMemo(with_fingerprint);
  }
  ForgetClosed(CompareElements(kernel.elements, desired.elements).remove);
  change.replaced = true;
  for (const auto& [set, elements] : desired.elements) change.added += elements.size();
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
  std::error_code error;
  std::filesystem::remove(state_.root() / fmt::format("applied-{}.memo", table_), error);
  if (!ReadKernel().exists) return false;
  nft_.Run(RenderDeleteTable(table_));
  return true;
}

}  // namespace virtnat
