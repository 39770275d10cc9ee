#include "backends/nftables/nftables_backend.h"

#include <fmt/format.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "backends/nftables/conntrack.h"
#include "backends/nftables/legacy_iptables.h"
#include "backends/nftables/libvirt_shim.h"
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

}  // namespace

KernelTable NftablesBackend::ReadKernelLayout() {
  // Terse: without set contents, which the fingerprint leaves out anyway (much faster).
  auto listing = nft_.ListJson(fmt::format("list table inet {}", table_), /*terse=*/true);
  if (!listing) return {};
  return ParseKernelTable(*listing);
}

KernelTable NftablesBackend::ReadKernel() {
  auto listing = nft_.ListJson(fmt::format("list table inet {}", table_));
  if (!listing) return {};
  return ParseKernelTable(*listing);
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
}

std::optional<NftablesBackend::Memo> NftablesBackend::TrustedMemo(const NftRuleset& desired) {
  auto memo = ReadMemo();
  if (!memo || !memo->generation || memo->layout != desired.skeleton_hash) return std::nullopt;
  auto generation = ReadRulesetGeneration();
  if (!generation || *generation != *memo->generation) return std::nullopt;
  return memo;
}

void NftablesBackend::RunAndRemember(const std::string& commands, const NftRuleset& desired,
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

void NftablesBackend::ForgetClosed(const NftElements& removed) {
  std::vector<std::string> closed;
  for (const char* set : {nftset::kDnat, nftset::kDnatAny})
    if (auto found = removed.find(set); found != removed.end())
      closed.insert(closed.end(), found->second.begin(), found->second.end());
  ForgetConnections(ParseClosedMappings(closed));
}

std::vector<TrafficCounters> NftablesBackend::ReadCounters(const DesiredState& state) {
  KernelTable kernel = ReadKernel();
  std::vector<TrafficCounters> counters;
  for (const auto& forward : state.forwards) {
    TrafficCounters total;
    const char* set = forward.forward.listen ? nftset::kCount : nftset::kCountAny;
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

std::string HostElementCommands(const std::string& table, const std::vector<HostElements>& hosts,
                                bool remove) {
  std::map<std::string, std::vector<std::string>> by_set;
  for (const auto& host : hosts)
    for (const auto& [set, element] : host.elements) by_set[set].push_back(element);
  std::string commands;
  for (const auto& [set, elements] : by_set) {
    std::string list;
    for (const auto& element : elements) list += (list.empty() ? "" : ", ") + element;
    // "add" first makes "delete" safe when the element is already gone.
    commands += fmt::format("add element inet {} {} {{ {} }}\n", table, set, list);
    if (remove) {
      std::string keys;
      for (const auto& element : elements) keys += (keys.empty() ? "" : ", ") + ElementKey(element);
      commands += fmt::format("delete element inet {} {} {{ {} }}\n", table, set, keys);
    }
  }
  return commands;
}

namespace {
constexpr const char* kHostStateKind = "elements";
}  // namespace

void NftablesBackend::WriteHostState(const DesiredState& state) {
  auto write_if_changed = [](const std::filesystem::path& path, const std::string& content) {
    if (ReadFileIfExists(path) != content) WriteFileAtomically(path, content, 0600);
  };
  std::filesystem::create_directories(state_.HostStateDir());
  auto hosts = BuildHostElements(state);
  for (const auto& [host, elements] : hosts)
    write_if_changed(state_.HostStatePath(host, kHostStateKind), SerializeHostElements(elements));
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(state_.HostStateDir(), error)) {
    std::string name = entry.path().stem().string();
    if (entry.path().extension() == std::string(".") + kHostStateKind && !hosts.contains(name))
      std::filesystem::remove(entry.path(), error);
  }
}

void NftablesBackend::SetHostsActive(const std::set<std::string>& hosts, bool active) {
  std::vector<HostElements> changed;
  for (const auto& host : hosts) {
    auto text = ReadFileIfExists(state_.HostStatePath(host, kHostStateKind));
    changed.push_back(text ? ParseHostElements(*text) : HostElements{});
  }
  std::string commands = HostElementCommands(table_, changed, !active);
  if (!commands.empty()) nft_.Run(commands);
  if (!active) {
    std::vector<std::string> closed;
    for (const auto& host : changed)
      for (const auto& [set, element] : host.elements) closed.push_back(element);
    ForgetConnections(ParseClosedMappings(closed));
  }
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
  if (!ReadKernel().exists) return false;
  nft_.Run(RenderDeleteTable(table_));
  return true;
}

namespace {

RulesetProbe ToRulesetProbe(const TrafficProbe& probe) {
  RulesetProbe out;
  out.label = probe.label;
  out.hook = probe.hook;
  out.family = "ip";
  out.iifname = probe.iifname;
  out.oifname = probe.oifname;
  if (probe.saddr) out.saddr = probe.saddr->ToString();
  if (probe.daddr) out.daddr = probe.daddr->ToString();
  out.protocol = probe.protocol;
  out.sport = probe.sport;
  out.dport = probe.dport;
  out.ct_state = probe.ct_state;
  out.ct_status_dnat = probe.dnat;
  if (!probe.daddr_type.empty()) out.fib_daddr_type = probe.daddr_type;
  return out;
}

}  // namespace

std::vector<TrafficFinding> NftablesBackend::Diagnose(const std::vector<TrafficProbe>& probes) {
  // Every table but virtnat's own, table by table: virtnat's may hold thousands of elements.
  std::optional<nlohmann::json> ruleset;
  RulesetDoctorOptions options;
  options.own_table = table_;
  if (auto tables = nft_.ListJson("list tables")) {
    nlohmann::json metainfo;
    metainfo["metainfo"]["json_schema_version"] = 1;
    ruleset = nlohmann::json::object();
    (*ruleset)["nftables"] = nlohmann::json::array({metainfo});
    for (const auto& item : tables->value("nftables", nlohmann::json::array())) {
      if (!item.contains("table")) continue;
      std::string family = item["table"].value("family", "");
      std::string name = item["table"].value("name", "");
      if (family == "inet" && name == table_) continue;
      std::string command = fmt::format("list table {} {}", family, name);
      auto table = nft_.ListJson(command);
      if (!table) continue;  // deleted meanwhile
      for (auto& entry : (*table)["nftables"])
        if (!entry.contains("metainfo")) (*ruleset)["nftables"].push_back(std::move(entry));
      // The text listing translates iptables-nft's xt matches that the JSON names only.
      options.nft_listing += nft_.ListText(command);
    }
  }
  std::vector<RulesetProbe> converted;
  converted.reserve(probes.size());
  for (const auto& probe : probes) converted.push_back(ToRulesetProbe(probe));
  std::vector<TrafficFinding> findings;
  if (ruleset) {
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
  std::stable_sort(
      findings.begin(), findings.end(),
      [](const TrafficFinding& a, const TrafficFinding& b) { return a.probe < b.probe; });
  return findings;
}

}  // namespace virtnat
