#include "backends/nftables/nftables_backend.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "backends/nftables/conntrack.h"
#include "backends/nftables/host_batches.h"
#include "backends/nftables/kernel_netlink.h"
#include "backends/nftables/legacy_iptables.h"
#include "backends/nftables/libvirt_shim.h"
#include "backends/nftables/netlink_batch.h"
#include "backends/nftables/netlink_send.h"
#include "backends/nftables/ruleset_doctor.h"
#include "backends/nftables/ruleset_generation.h"
#include "base/errors.h"
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

// The batch that turns `present` into `wanted`: deletions first, then additions.
NftBatch ElementBatch(const std::string& table, const ElementChanges& changes) {
  NftBatch batch;
  for (const auto& [set, elements] : changes.remove)
    if (const auto* spec = nftlayout::FindSet(set)) batch.DeleteElements(table, *spec, elements);
  for (const auto& [set, elements] : changes.add)
    if (const auto* spec = nftlayout::FindSet(set)) batch.AddElements(table, *spec, elements);
  return batch;
}

}  // namespace

KernelTable NftablesBackend::ReadKernelLayout() {
  return ReadKernelTableNetlink(table_, {.elements = false, .counters = false});
}

KernelTable NftablesBackend::ReadKernel() {
  return ReadKernelTableNetlink(table_, {.elements = true, .counters = false});
}

bool NftablesBackend::LayoutMatches(const KernelTable& kernel, const NftRuleset& desired,
                                    const std::optional<Memo>& memo) const {
  return kernel.exists && memo && memo->layout == desired.skeleton_hash &&
         !memo->fingerprint.empty() && memo->fingerprint == kernel.fingerprint;
}

std::optional<NftablesBackend::Memo> NftablesBackend::ReadMemo() const {
  auto text = ReadFileIfExists(state_.MemoPath(table_));
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
  // The changes `forward add/remove` made since (ApplyForwardChange), when they extend this
  // very memo.
  if (auto journal = ReadFileIfExists(JournalPath()); journal && memo.generation) try {
      std::size_t end = journal->find('\n');
      auto json = nlohmann::json::parse(journal->substr(0, end));
      if (end != std::string::npos && json.at("base").get<std::uint32_t>() == *memo.generation) {
        std::string_view lines(*journal);
        lines.remove_prefix(end + 1);
        while (!lines.empty()) {
          auto stop = lines.find('\n');
          std::string_view line = lines.substr(0, stop);
          lines.remove_prefix(stop == std::string_view::npos ? lines.size() : stop + 1);
          auto tab = line.find('\t', 2);
          if (line.size() < 3 || tab == std::string_view::npos) continue;
          std::string set(line.substr(2, tab - 2)), element(line.substr(tab + 1));
          if (line[0] == '+')
            memo.elements[set].insert(element);
          else
            memo.elements[set].erase(element);
        }
        memo.generation = json.at("generation").get<std::uint32_t>();
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
  return memo;
}

std::filesystem::path NftablesBackend::JournalPath() const {
  return state_.MemoPath(table_).string() + ".journal";
}

std::optional<NftablesBackend::Memo> NftablesBackend::ReadMemoHeader() const {
  // The first line only: the elements of a large memo are not needed to trust it.
  int fd = open(state_.MemoPath(table_).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string line;
  char buffer[4096];
  while (line.find('\n') == std::string::npos) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got <= 0) break;
    line.append(buffer, static_cast<std::size_t>(got));
  }
  close(fd);
  Memo memo;
  try {
    auto json = nlohmann::json::parse(line.substr(0, line.find('\n')));
    memo.layout = json.at("layout").get<std::string>();
    memo.fingerprint = json.at("fingerprint").get<std::string>();
    if (json.at("generation").is_number())
      memo.generation = json.at("generation").get<std::uint32_t>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!memo.generation) return memo;
  if (auto journal = ReadFileIfExists(JournalPath())) try {
      auto json = nlohmann::json::parse(journal->substr(0, journal->find('\n')));
      if (json.at("base").get<std::uint32_t>() == *memo.generation)
        memo.generation = json.at("generation").get<std::uint32_t>();
    } catch (const std::exception&) {
      return std::nullopt;
    }
  return memo;
}

void NftablesBackend::WriteMemo(const Memo& memo) const {
  nlohmann::json header = {{"layout", memo.layout}, {"fingerprint", memo.fingerprint}};
  header["generation"] = memo.generation ? nlohmann::json(*memo.generation) : nlohmann::json();
  header["sets"] = nlohmann::json::array();
  std::string body;
  for (const auto& [set, elements] : memo.elements) {
    header["sets"].push_back(set);
    for (const auto& element : elements) body += set + "\t" + element + "\n";
  }
  state_.Ensure();
  WriteFileAtomically(state_.MemoPath(table_), header.dump() + "\n" + body, 0600);
  std::error_code ignored;  // a journal of the previous memo no longer applies (its base differs)
  std::filesystem::remove(JournalPath(), ignored);
}

std::optional<NftablesBackend::Memo> NftablesBackend::TrustedMemo(const NftRuleset& desired) {
  auto memo = ReadMemo();
  if (!memo || !memo->generation || memo->layout != desired.skeleton_hash) return std::nullopt;
  auto generation = ReadRulesetGeneration();
  if (!generation || *generation != *memo->generation) return std::nullopt;
  return memo;
}

std::string NftablesBackend::Render(const DesiredState& state) {
  return RenderTable(RenderRuleset(state));
}

FirewallDiff NftablesBackend::Diff(const DesiredState& state) {
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

FirewallChange NftablesBackend::Apply(const DesiredState& state) {
  NftRuleset desired = RenderRuleset(state);
  // Each transaction carries the ruleset generation it was computed for: when anybody changed
  // nftables in between, the kernel refuses it whole, and virtnat looks again.
  for (int attempt = 1;; ++attempt) {
    try {
      return ApplyOnce(desired);
    } catch (const GenerationMoved&) {
      if (attempt >= 5) throw RuntimeFailure("nftables kept changing while virtnat applied");
    }
  }
}

FirewallChange NftablesBackend::ApplyOnce(const NftRuleset& desired) {
  FirewallChange change;
  auto generation = ReadRulesetGeneration();
  auto memo = ReadMemo();
  auto remember = [&](std::string fingerprint, std::optional<std::uint32_t> installed) {
    WriteMemo({desired.skeleton_hash, std::move(fingerprint), installed, desired.elements});
  };
  auto apply_changes = [&](const NftElements& present, const std::string& fingerprint) {
    ElementChanges changes = CompareElements(present, desired.elements);
    change.added = changes.added;
    change.removed = changes.removed;
    if (changes.added + changes.removed == 0) {
      // In sync: remember the generation for the next fast path.
      if (!memo || memo->generation != generation || memo->elements != desired.elements)
        remember(fingerprint, generation);
      return;
    }
    SendNftBatch(ElementBatch(table_, changes).Finish(generation));
    remember(fingerprint, generation ? std::optional(NextGeneration(*generation)) : std::nullopt);
    ForgetClosed(changes.remove);
  };
  // Fast path: nobody changed nftables since our last transaction.
  if (memo && memo->generation && generation && *memo->generation == *generation &&
      memo->layout == desired.skeleton_hash) {
    apply_changes(memo->elements, memo->fingerprint);
    return change;
  }
  KernelTable kernel = ReadKernel();
  if (LayoutMatches(kernel, desired, memo)) {
    apply_changes(kernel.elements, kernel.fingerprint);
    return change;
  }
  // The whole table, replaced in one transaction.
  NftBatch batch;
  batch.ReplaceTable(desired);
  SendNftBatch(batch.Finish(generation));
  std::optional<std::uint32_t> installed;
  if (generation) installed = NextGeneration(*generation);
  // The same layout always reads the same way: reuse its fingerprint instead of reading.
  std::string fingerprint =
      memo && memo->layout == desired.skeleton_hash ? memo->fingerprint : std::string();
  if (fingerprint.empty() && installed) {
    fingerprint = ReadKernelLayout().fingerprint;
    // Read what we installed only if nobody changed it since.
    if (ReadRulesetGeneration() != installed) fingerprint.clear();
  }
  remember(fingerprint, installed);
  ForgetClosed(CompareElements(kernel.elements, desired.elements).remove);
  change.replaced = true;
  for (const auto& [set, elements] : desired.elements) change.added += elements.size();
  return change;
}

std::optional<FirewallChange> NftablesBackend::ApplyForwardChange(const DesiredState& added,
                                                                  const DesiredState& removed) {
  NftRuleset plus = RenderRuleset(added), minus = RenderRuleset(removed);
  // Only when the kernel's table is still exactly what the memo says (nothing changed
  // nftables since virtnat's last transaction) is the difference of these forwards the whole
  // difference.
  auto memo = ReadMemoHeader();
  if (!memo || !memo->generation || memo->fingerprint.empty() ||
      memo->layout != plus.skeleton_hash || memo->layout != minus.skeleton_hash)
    return std::nullopt;
  auto generation = ReadRulesetGeneration();
  if (generation != memo->generation) return std::nullopt;
  ElementChanges changes;
  for (auto& [set, elements] : plus.elements)
    if (!elements.empty()) {
      changes.added += elements.size();
      changes.add[set] = std::move(elements);
    }
  for (auto& [set, elements] : minus.elements)
    if (!elements.empty()) {
      changes.removed += elements.size();
      changes.remove[set] = std::move(elements);
    }
  FirewallChange change;
  change.added = changes.added;
  change.removed = changes.removed;
  if (changes.added + changes.removed > 0) {
    try {
      SendNftBatch(ElementBatch(table_, changes).Finish(generation));
    } catch (const GenerationMoved&) {
      return std::nullopt;
    }
    // The memo follows: its base stays, the journal says what changed since (a full memo would
    // be rewritten whole for one forward). Folded into the memo when it grows large.
    auto journal = ReadFileIfExists(JournalPath());
    std::uint32_t base = *memo->generation;
    std::string body;
    if (journal) {
      auto end = journal->find('\n');
      try {
        auto json = nlohmann::json::parse(journal->substr(0, end));
        base = json.at("base").get<std::uint32_t>();
        if (end != std::string::npos) body = journal->substr(end + 1);
      } catch (const std::exception&) {
        body.clear();
      }
    }
    for (const auto& [set, elements] : changes.remove)
      for (const auto& element : elements) body += "-\t" + set + "\t" + element + "\n";
    for (const auto& [set, elements] : changes.add)
      for (const auto& element : elements) body += "+\t" + set + "\t" + element + "\n";
    std::uint32_t installed = NextGeneration(*generation);
    nlohmann::json header = {{"base", base}, {"generation", installed}};
    WriteFileAtomically(JournalPath(), header.dump() + "\n" + body, 0600);
    if (body.size() > (1u << 20))
      if (auto folded = ReadMemo()) WriteMemo(*folded);
    ForgetClosed(changes.remove);
  }
  // The hook's files of the hosts these forwards belong to.
  auto plus_hosts = BuildHostElements(added), minus_hosts = BuildHostElements(removed);
  std::set<std::string> hosts;
  for (const auto& [host, elements] : plus_hosts) hosts.insert(host);
  for (const auto& [host, elements] : minus_hosts) hosts.insert(host);
  for (const auto& host : hosts) {
    std::filesystem::path path = state_.HostStatePath(host, kHostBatchKind);
    HostElements elements;
    if (auto bytes = ReadFileIfExists(path))
      if (auto batch = ParseHostBatch(*bytes)) elements = ParseHostElements(batch->elements);
    auto& list = elements.elements;
    for (const auto& item : minus_hosts[host].elements)
      list.erase(std::remove(list.begin(), list.end(), item), list.end());
    for (const auto& item : plus_hosts[host].elements)
      if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
    std::filesystem::create_directories(state_.HostStateDir());
    if (list.empty()) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    } else {
      WriteFileAtomically(path, SerializeHostBatch(BuildHostBatch(table_, elements)), 0600);
    }
  }
  return change;
}

void NftablesBackend::ForgetClosed(const NftElements& removed) {
  std::vector<std::string> closed;
  for (const char* set : {nftset::kDnat, nftset::kDnatAny, nftset::kDnat6, nftset::kDnat6Any})
    if (auto found = removed.find(set); found != removed.end())
      closed.insert(closed.end(), found->second.begin(), found->second.end());
  ForgetConnections(ParseClosedMappings(closed));
}

std::vector<TrafficCounters> NftablesBackend::ReadCounters(const DesiredState& state) {
  KernelTable kernel = ReadKernelTableNetlink(table_, {.elements = false, .counters = true});
  std::vector<TrafficCounters> counters;
  for (const auto& forward : state.forwards) {
    TrafficCounters total;
    auto add = [&](const char* set, const std::string& key) {
      auto found = kernel.counters.find(std::string(set) + "|" + key);
      if (found == kernel.counters.end()) return;
      total.packets += found->second.packets;
      total.bytes += found->second.bytes;
    };
    const char* set = forward.forward.listen ? nftset::kCount : nftset::kCountAny;
    for (const auto& mapping : forward.mappings) add(set, MappingKey(mapping));
    // Both families of a dual-stack forward count together.
    const char* set6 = forward.forward.listen6 ? nftset::kCount6 : nftset::kCount6Any;
    for (const auto& mapping : forward.mappings6) add(set6, MappingKey(mapping));
    counters.push_back(total);
  }
  return counters;
}

std::string NftablesBackend::Describe() const {
  return fmt::format("table inet {}", table_);
}

bool NftablesBackend::Installed() {
  return ReadKernelLayout().exists;
}

std::map<std::string, HostElements> BuildHostElements(const DesiredState& state) {
  std::map<std::string, HostElements> hosts;
  for (const auto& forward : state.forwards) {
    if (forward.host.empty()) continue;
    const char* set = forward.forward.listen ? nftset::kDnat : nftset::kDnatAny;
    for (const auto& mapping : forward.mappings)
      hosts[forward.host].elements.emplace_back(set, MappingElement(mapping));
    const char* set6 = forward.forward.listen6 ? nftset::kDnat6 : nftset::kDnat6Any;
    for (const auto& mapping : forward.mappings6)
      hosts[forward.host].elements.emplace_back(set6, MappingElement(mapping));
  }
  return hosts;
}

std::string SerializeHostElements(const HostElements& elements) {
  std::string text;
  for (const auto& [set, element] : elements.elements) text += set + "\t" + element + "\n";
  return text;
}

HostElements ParseHostElements(const std::string& text) {
  HostElements elements;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    auto tab = line.find('\t');
    if (tab != std::string::npos)
      elements.elements.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    start = end + 1;
  }
  return elements;
}

HostBatch BuildHostBatch(const std::string& table, const HostElements& elements) {
  std::map<std::string, std::set<std::string>> by_set;
  for (const auto& [set, element] : elements.elements) by_set[set].insert(element);
  NftBatch on, off;
  for (const auto& [set, list] : by_set) {
    const nftlayout::SetSpec* spec = nftlayout::FindSet(set);
    if (!spec) continue;
    on.AddElements(table, *spec, list);
    // "add" first makes "delete" safe when the element is already gone.
    off.AddElements(table, *spec, list);
    off.DeleteElements(table, *spec, list);
  }
  return {on.messages(), off.messages(), SerializeHostElements(elements)};
}

void NftablesBackend::WriteHostState(const DesiredState& state) {
  auto write_if_changed = [](const std::filesystem::path& path, const std::string& content) {
    if (ReadFileIfExists(path) != content) WriteFileAtomically(path, content, 0600);
  };
  std::filesystem::create_directories(state_.HostStateDir());
  auto hosts = BuildHostElements(state);
  for (const auto& [host, elements] : hosts)
    write_if_changed(state_.HostStatePath(host, kHostBatchKind),
                     SerializeHostBatch(BuildHostBatch(table_, elements)));
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(state_.HostStateDir(), error)) {
    std::string name = entry.path().stem().string();
    // Also the text files an earlier virtnat wrote (hosts/HOST.elements).
    if ((entry.path().extension() == std::string(".") + kHostBatchKind && !hosts.contains(name)) ||
        entry.path().extension() == ".elements")
      std::filesystem::remove(entry.path(), error);
  }
}

void NftablesBackend::SetHostsActive(const std::set<std::string>& hosts, bool active) {
  SetHostBatchesActive(state_, hosts, active);
}

std::string NftablesBackend::EnsureShims() {
  return LibvirtShim(nft_).Ensure();
}

bool NftablesBackend::RemoveShims() {
  return LibvirtShim(nft_).Remove();
}

int NftablesBackend::OpenChangeEvents() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
  if (fd < 0) throw RuntimeFailure("cannot open a netfilter netlink socket");
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  int group = NFNLGRP_NFTABLES;
  int size = 1 << 20;  // a flush of a large ruleset is a burst of events
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    close(fd);
    throw RuntimeFailure("cannot subscribe to nftables events");
  }
  return fd;
}

void NftablesBackend::DrainChangeEvents(int fd) {
  char buffer[65536];
  while (recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
  }
}

bool NftablesBackend::Down() {
  std::error_code error;
  std::filesystem::remove(state_.MemoPath(table_), error);
  if (!ReadKernelLayout().exists) return false;
  NftBatch batch;
  batch.DeleteTable(table_);
  SendNftBatch(batch.Finish());
  return true;
}

namespace {

RulesetProbe ToRulesetProbe(const TrafficProbe& probe) {
  RulesetProbe out;
  out.label = probe.label;
  out.hook = probe.hook;
  out.family = probe.family == IpFamily::kIpv6 ? "ip6" : "ip";
  out.iifname = probe.iifname;
  out.oifname = probe.oifname;
  if (probe.family == IpFamily::kIpv6) {
    if (probe.saddr6) out.saddr = probe.saddr6->ToString();
    if (probe.daddr6) out.daddr = probe.daddr6->ToString();
  } else {
    if (probe.saddr) out.saddr = probe.saddr->ToString();
    if (probe.daddr) out.daddr = probe.daddr->ToString();
  }
  out.icmpv6_type = probe.icmpv6_type;
  out.protocol = probe.protocol;
  out.sport = probe.sport;
  out.dport = probe.dport;
  out.ct_state = probe.ct_state;
  out.ct_status_dnat = probe.dnat;
  if (!probe.daddr_type.empty()) out.fib_daddr_type = probe.daddr_type;
  out.reverse_path_ok = probe.reverse_path_ok;
  return out;
}

}  // namespace

std::vector<TrafficFinding> NftablesBackend::Diagnose(const std::vector<TrafficProbe>& probes) {
  // Every table but virtnat's own, table by table: virtnat's may hold thousands of elements.
  std::optional<nlohmann::json> ruleset;
  RulesetDoctorOptions options;
  options.own_table = table_;
  // The tables' names over netlink: libnftables' `list tables` fills its cache with every
  // set's elements first, virtnat's thousands included.
  std::vector<std::pair<std::string, std::string>> tables = ListNftTables();
  std::erase(tables, std::pair<std::string, std::string>{"inet", table_});
  if (!tables.empty()) {
    nlohmann::json metainfo;
    metainfo["metainfo"]["json_schema_version"] = 1;
    ruleset = nlohmann::json::object();
    (*ruleset)["nftables"] = nlohmann::json::array({metainfo});
    for (const auto& [family, name] : tables) {
      std::string command = fmt::format("list table {} {}", family, name);
      auto table = nft_.ListJson(command);
      if (!table) continue;  // deleted meanwhile
      for (auto& entry : (*table)["nftables"])
        if (!entry.contains("metainfo")) (*ruleset)["nftables"].push_back(std::move(entry));
      // The text listing translates iptables-nft's xt matches that the JSON names only.
      options.nft_listing += nft_.ListText(command);
    }
  }
  std::vector<TrafficFinding> findings;
  if (ruleset) {
    std::vector<RulesetProbe> converted;
    converted.reserve(probes.size());
    for (const auto& probe : probes) converted.push_back(ToRulesetProbe(probe));
    auto results = DiagnoseRuleset(*ruleset, converted, options);
    for (std::size_t i = 0; i < results.size(); ++i)
      for (const auto& found : results[i].findings) {
        TrafficFinding finding;
        finding.probe = i;
        finding.sure = found.verdict == ProbeVerdict::kBlocked;
        finding.ruleset = fmt::format("{} {}", found.family, found.table);
        finding.chain = found.chain;
        finding.base_chain = fmt::format("{} {}", found.base_chain, found.hook);
        if (found.chain == found.base_chain) finding.base_chain.clear();
        finding.handle = found.handle;
        finding.rule = found.rule;
        finding.reason = found.reason;
        finding.fix = found.fix;
        findings.push_back(std::move(finding));
      }
  }
  for (auto& finding : LegacyIptablesFindings(ReadLegacyIptables(), probes))
    findings.push_back(std::move(finding));
  for (auto& finding :
       LegacyIptablesFindings(ReadLegacyIptables(IpFamily::kIpv6), probes, IpFamily::kIpv6))
    findings.push_back(std::move(finding));
  std::stable_sort(
      findings.begin(), findings.end(),
      [](const TrafficFinding& a, const TrafficFinding& b) { return a.probe < b.probe; });
  return findings;
}

}  // namespace virtnat
