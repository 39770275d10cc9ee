#include "cli/commands.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "cli/doctor_command.h"
#include "cli/forward_fast.h"
#include "cli/table_printer.h"
#include "config/config_loader.h"
#include "config/config_snapshot.h"
#include "config/diagnostics.h"
#include "config/validate.h"
#include "engine/engine.h"
#include "state/state_dir.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

// Which exposure warnings a command prints: check lists every one; apply, run again and again
// on a config that may hold thousands of forwards, prints the first few and a count.
enum class Warnings { kNone, kAll, kFirstFew };
constexpr std::size_t kWarningsShownByApply = 10;

// Loads and validates the config, printing its exposure warnings as `warnings` says.
// `make_state_dir`: the command makes the state folder anyway (apply), so the config snapshot
// may be kept there from the start.
Config Load(const GlobalOptions& options, Warnings warnings = Warnings::kNone,
            bool make_state_dir = false) {
  Diagnostics diagnostics;
  Config config = LoadConfigWithSnapshot(options.config_path, options.state_dir, diagnostics,
                                         make_state_dir);
  if (warnings == Warnings::kNone) return config;
  const auto& found = diagnostics.warnings();
  std::size_t shown =
      warnings == Warnings::kAll ? found.size() : std::min(found.size(), kWarningsShownByApply);
  for (std::size_t i = 0; i < shown; ++i) std::cerr << "warning: " << found[i].ToString() << "\n";
  if (shown < found.size())
    std::cerr << fmt::format("warning: {} more like these; `virtnat check` lists them all\n",
                             found.size() - shown);
  return config;
}

std::string ListenText(const Forward& forward) {
  return forward.listen ? forward.listen->ToString() : "*";
}

std::string TargetName(const Forward& forward) {
  return forward.host.empty() ? forward.target.ToString() : forward.host;
}

// "tcp 198.51.100.1:2222 -> lxdev01:22", as forward add/remove report it (IPv6 listen
// addresses in brackets; the same text as forward_fast.cpp's).
std::string Describe(const Forward& forward) {
  return DescribeForward(forward);
}

std::string Location(const SourceLocation& where) {
  return fmt::format("{}:{}", where.file, where.line);
}

// Who may use a forward: "WORLD" when there is no source list, so it stands out.
std::string OpenTo(const Forward& forward) {
  if (forward.sources.empty()) return "WORLD";
  std::string text;
  for (const auto& source : forward.sources) text += (text.empty() ? "" : ",") + source.ToString();
  return text;
}

nlohmann::json ForwardJson(const Forward& forward) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& source : forward.sources) sources.push_back(source.ToString());
  return {{"host", forward.host},
          {"target", forward.target.ToString()},
          {"network", forward.network},
          {"protocol", ProtocolsToString(forward.protocols)},
          {"listen", ListenText(forward)},
          {"port", ToString(forward.port)},
          {"to_port", ToString(forward.to_port)},
          {"source", sources},
          {"description", forward.description},
          {"file", forward.where.file},
          {"line", forward.where.line}};
}

}  // namespace

void PrintReport(const Report& report) {
  for (const auto& warning : report.warnings) std::cerr << "warning: " << warning << "\n";
  for (const auto& line : report.lines) std::cout << line << "\n";
}

Engine EngineFor(const GlobalOptions& options, const Config& config) {
  return Engine::For(config, StateDir(options.state_dir), options.connect);
}

// Reconciles `config`; the caller holds the state lock.
void ApplyConfig(const GlobalOptions& options, const Config& config) {
  PrintReport(EngineFor(options, config).Reconcile(config));
}

namespace {

// The index of the forward in `config` that the spec names, matching target, ports,
// protocol and listen address.
std::optional<std::size_t> FindForward(const Config& config, const Forward& wanted) {
  for (std::size_t i = 0; i < config.forwards.size(); ++i) {
    const Forward& forward = config.forwards[i];
    if (&forward == &wanted) continue;  // the spec itself, parsed into the same config
    if (forward.target == wanted.target && forward.port == wanted.port &&
        forward.to_port == wanted.to_port && forward.protocols == wanted.protocols &&
        forward.listen == wanted.listen && forward.target6 == wanted.target6 &&
        forward.open4 == wanted.open4 && forward.open6 == wanted.open6 &&
        forward.listen6 == wanted.listen6)
      return i;
  }
  return std::nullopt;
}

// Parses the config as it would be with `cli_text` as conf.d/50-cli.toml.
Config ParseWithCliFile(const GlobalOptions& options, const std::string& cli_text,
                        Diagnostics& diagnostics) {
  fs::path cli_path = CliConfigPath(options.config_path);
  auto sources = ReadConfigSources(options.config_path);
  bool found = false;
  for (auto& source : sources)
    if (source.path == cli_path.string()) {
      source.text = cli_text;
      found = true;
    }
  if (!found) {
    sources.push_back({cli_path.string(), cli_text});
    std::stable_sort(sources.begin() + 1, sources.end(),
                     [](const ConfigSource& a, const ConfigSource& b) { return a.path < b.path; });
  }
  return ParseConfig(sources, diagnostics);
}

// The new forward as the config would hold it: parsed from a config that has it appended.
struct Candidate {
  Config config;
  const Forward* forward = nullptr;
  std::string cli_text;
};

// Errors of the forward built from the command line speak of the arguments, not of the
// in-memory file they were checked in.
std::string ArgumentErrors(const Diagnostics& diagnostics, const fs::path& cli_path,
                           const std::string& field, const char* verb) {
  static const std::map<std::string, std::string> kArgument = {
      {"host", "HOST"},           {"address", "HOST"},
      {"port", "PUBLICPORT"},     {"to_port", "PORT"},
      {"protocol", "--protocol"}, {"listen", "--listen"},
      {"source", "--source"},     {"description", "--description"}};
  std::string text;
  for (const auto& error : diagnostics.errors()) {
    std::string line;
    if (error.where.file == cli_path.string() && error.where.field.starts_with(field + ".")) {
      std::string key = error.where.field.substr(field.size() + 1);
      auto argument = kArgument.find(key);
      line = fmt::format("virtnat: forward {}: {}: {}", verb,
                         argument == kArgument.end() ? key : argument->second, error.message);
    } else if (error.where.file == cli_path.string() && error.where.field == field) {
      line = fmt::format("virtnat: forward {}: {}", verb, error.message);
    } else {
      line = error.ToString();
    }
    text += (text.empty() ? "" : "\n") + line;
  }
  return text;
}

// For removal only the errors of the new forward itself count (it conflicts with the one
// being removed by design).
Candidate BuildCandidate(const GlobalOptions& options, const ForwardSpec& spec,
                         bool for_removal = false) {
  fs::path cli_path = CliConfigPath(options.config_path);
  std::string current = ReadFileIfExists(cli_path).value_or(
      "# Written by `virtnat forward add/remove`; hand-written files are never rewritten.\n");
  // The new forward's index in the CLI file: only that small file needs parsing for it.
  std::size_t forwards_before = 0;
  try {
    toml::table cli_table = toml::parse(current, cli_path.string());
    if (const toml::array* forwards = cli_table["forward"].as_array())
      forwards_before = forwards->size();
  } catch (const toml::parse_error&) {
    // A broken CLI file is reported by the full parse below.
  }
  if (!current.empty() && current.back() != '\n') current += "\n";
  Candidate candidate;
  candidate.cli_text = current + "\n" + ForwardSpecToToml(spec);
  Diagnostics diagnostics;
  candidate.config = ParseWithCliFile(options, candidate.cli_text, diagnostics);
  std::string field = fmt::format("forward[{}]", forwards_before);
  for (const auto& forward : candidate.config.forwards)
    if (forward.where.file == cli_path.string() && forward.where.field == field)
      candidate.forward = &forward;
  if (candidate.forward)  // an identical forward anywhere makes add a no-op
    for (const auto& forward : candidate.config.forwards)
      if (&forward != candidate.forward && forward.SameRule(*candidate.forward)) return candidate;
  if (for_removal) {
    Diagnostics own;
    for (const auto& error : diagnostics.errors())
      if (error.where.file == cli_path.string() && error.where.field.starts_with(field + ".") &&
          error.message.find("already forwarded") == std::string::npos)
        own.Error(error.where, error.message);
    if (own.HasErrors()) throw BadInput(ArgumentErrors(own, cli_path, field, "remove"));
    return candidate;
  }
  if (diagnostics.HasErrors()) throw BadInput(ArgumentErrors(diagnostics, cli_path, field, "add"));
  return candidate;
}

bool IsDuplicate(const Candidate& candidate) {
  for (const auto& forward : candidate.config.forwards)
    if (&forward != candidate.forward && forward.SameRule(*candidate.forward)) return true;
  return false;
}

}  // namespace

int CommandCheck(const GlobalOptions& options) {
  // The counts and warnings alone: from the snapshot without decoding its forwards.
  ConfigSummary config = SummarizeConfigWithSnapshot(options.config_path, options.state_dir);
  for (const auto& warning : config.warnings) std::cerr << "warning: " << warning.ToString() << "\n";
  std::cout << fmt::format("ok: {} networks, {} hosts, {} forwards in {} files\n",
                           config.networks, config.hosts, config.forwards, config.files);
  return 0;
}

int CommandPlan(const GlobalOptions& options) {
  Config config = Load(options);
  Engine engine = EngineFor(options, config);
  std::cout << engine.Render(config);
  FirewallDiff diff = engine.Diff(config);
  std::string name = engine.firewall().Describe();
  std::cout << "\n# Compared with the kernel:\n";
  if (diff.table_missing) {
    std::cout << fmt::format("#   {} is not installed: apply will create it\n", name);
  } else if (diff.layout_differs) {
    std::cout << fmt::format(
        "#   the chains, rules or sets of {} differ: apply will "
        "replace the table in one transaction\n",
        name);
  } else if (diff.InSync()) {
    std::cout << "#   in sync: apply will change nothing\n";
  }
  if (!diff.table_missing) {
    for (const auto& line : diff.to_add) std::cout << "#   + " << line << "\n";
    for (const auto& line : diff.to_remove) std::cout << "#   - " << line << "\n";
  }
  return 0;
}

int CommandApply(const GlobalOptions& options) {
  Config config = Load(options, Warnings::kFirstFew,
                       /*make_state_dir=*/true);  // bad input stops here, before anything is made
  PrintReport(EngineFor(options, config).Apply(config));
  return 0;
}

int CommandStatus(const GlobalOptions& options) {
  Config config = Load(options);
  StatusReport status = EngineFor(options, config).Status(config);
  const FirewallDiff& diff = status.diff;
  std::string kernel = diff.table_missing ? "not installed"
                       : diff.InSync()    ? "in sync"
                                          : fmt::format(
                                                "drift: {} (`virtnat plan` shows it, `virtnat apply` "
                                                   "repairs it)",
                                                diff.Summary());
  if (options.json) {
    nlohmann::json json;
    json["table"] = {{"name", config.settings.ruleset_name},
                     {"installed", !diff.table_missing},
                     {"in_sync", diff.InSync()},
                     {"drift", diff.Summary()},
                     {"layout_differs", diff.layout_differs},
                     {"elements_missing", diff.to_add},
                     {"elements_extra", diff.to_remove}};
    json["networks"] = nlohmann::json::array();
    for (const auto& entry : status.networks) {
      const Network& network = entry.network;
      nlohmann::json hosts = nlohmann::json::array();
      for (const auto& host : network.hosts)
        hosts.push_back({{"name", host.name},
                         {"fqdn", network.Fqdn(host)},
                         {"address", host.address.ToString()},
                         {"mac", host.mac == MacAddress{} ? "" : host.mac.ToString()}});
      json["networks"].push_back({{"name", network.name},
                                  {"mode", ToString(network.mode)},
                                  {"provider", ToString(network.provider)},
                                  {"bridge", network.bridge},
                                  {"address", network.address.ToString()},
                                  {"domain", network.domain},
                                  {"state", entry.state},
                                  {"details", entry.details},
                                  {"hosts", hosts}});
    }
    json["forwards"] = nlohmann::json::array();
    for (const auto& forward : status.forwards) {
      // Stopped networks' forwards: not in the JSON, as before. Forwards the host's firewall
      // does not carry (provider ovn) have their driver's state and no counters.
      bool stopped = !forward.counted && forward.state == "network stopped";
      if (stopped) continue;
      nlohmann::json item = ForwardJson(forward.forward);
      item["active"] = forward.active;
      item["state"] = !forward.counted  ? forward.state
                      : forward.waiting ? "waiting for its VM"
                                        : "active";
      if (forward.state == "blocked") {
        item["state"] = "blocked";
        item["blocked_by"] = nlohmann::json::array();
        for (const auto& finding : status.blocked.at(&forward - status.forwards.data()))
          item["blocked_by"].push_back(TrafficFindingJson(finding));
      }
      item["open_to_world"] = forward.forward.sources.empty();
      item["packets"] = forward.counters.packets;
      item["bytes"] = forward.counters.bytes;
      json["forwards"].push_back(item);
    }
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("{}: {}\n\n", status.firewall, kernel);
  TablePrinter networks(
      {"NETWORK", "MODE", "PROVIDER", "BRIDGE", "ADDRESS", "DOMAIN", "HOSTS", "STATE"});
  for (const auto& [network, state, details] : status.networks)
    networks.Add({network.name, ToString(network.mode), ToString(network.provider), network.bridge,
                  network.address.ToString(), network.domain, std::to_string(network.hosts.size()),
                  state});
  std::cout << networks.ToString() << "\n";
  for (const auto& [network, state, details] : status.networks) {
    if (details.empty()) continue;
    std::cout << fmt::format("network {} ({}):\n", network.name, ToString(network.provider));
    for (const auto& line : details) std::cout << "  " << line << "\n";
    std::cout << "\n";
  }
  TablePrinter forwards({"PROTO", "LISTEN", "PORT", "TARGET", "TO_PORT", "OPEN TO", "STATE",
                         "PACKETS", "BYTES", "DESCRIPTION"});
  for (const auto& status_line : status.forwards) {
    const Forward& forward = status_line.forward;
    forwards.Add({ProtocolsToString(forward.protocols), ListenText(forward), ToString(forward.port),
                  fmt::format("{} ({})", TargetName(forward), forward.target.ToString()),
                  ToString(forward.to_port), OpenTo(forward), status_line.state,
                  status_line.counted ? std::to_string(status_line.counters.packets) : "-",
                  status_line.counted ? std::to_string(status_line.counters.bytes) : "-",
                  forward.description});
  }
  std::cout << forwards.ToString();
  // Blocked forwards: the rule that drops them (`virtnat doctor` has every finding and fix).
  for (const auto& [index, findings] : status.blocked) {
    const TrafficFinding& finding = findings.front();
    std::cout << fmt::format(
        "\nblocked: {}: {} {}: {} (`virtnat doctor` tells the fix)",
        Describe(status.forwards.at(index).forward), finding.ruleset, finding.chain,
        finding.handle ? fmt::format("rule handle {}: {}", *finding.handle, finding.rule)
                       : finding.rule);
  }
  if (!status.blocked.empty()) std::cout << "\n";
  return 0;
}

int CommandDown(const GlobalOptions& options) {
  Config config = Load(options);
  PrintReport(EngineFor(options, config).Down(config));
  return 0;
}

int CommandForwardAdd(const GlobalOptions& options, const ForwardSpec& spec) {
  if (auto done = TryForwardAddFast(options, spec)) return *done;  // forward_fast.h
  Candidate candidate = BuildCandidate(options, spec);  // bad input stops here
  StateDir state(options.state_dir);
  state.Ensure();
  FileLock lock(state.LockPath());
  if (!candidate.forward) throw RuntimeFailure("internal error: the new forward was not parsed");
  const Forward& added = *candidate.forward;
  std::string description = Describe(added);
  if (IsDuplicate(candidate)) {
    std::cout << "no change: forward " << description << " already exists\n";
    ApplyConfig(options, Load(options));
    return 0;
  }
  fs::path cli_path = CliConfigPath(options.config_path);
  auto previous = ReadFileIfExists(cli_path);
  fs::create_directories(cli_path.parent_path());
  WriteFileAtomically(cli_path, candidate.cli_text);
  try {
    ApplyConfig(options, candidate.config);
  } catch (...) {
    if (previous)
      WriteFileAtomically(cli_path, *previous);
    else
      fs::remove(cli_path);
    throw;
  }
  std::cout << "added forward " << description << " to " << cli_path.string() << "\n";
  return 0;
}

int CommandForwardRemove(const GlobalOptions& options, const ForwardSpec& spec) {
  if (auto done = TryForwardRemoveFast(options, spec)) return *done;  // forward_fast.h
  // Resolve the spec the way the config would, by parsing it as a forward appended to the
  // config; the config's own forwards are the others in that same parse.
  Candidate candidate = BuildCandidate(options, spec, /*for_removal=*/true);
  if (!candidate.forward) throw RuntimeFailure("internal error: the forward was not parsed");
  const Config& config = candidate.config;
  auto index = FindForward(config, *candidate.forward);
  std::string description = Describe(*candidate.forward);
  fs::path cli_path = CliConfigPath(options.config_path);
  if (!index) throw BadInput(fmt::format("virtnat: no forward {} in the config", description));
  const Forward& found = config.forwards[*index];
  if (found.where.file != cli_path.string())
    throw BadInput(
        fmt::format("virtnat: forward {} is written in {}:{}, a hand-written file; "
                    "remove it there and run `virtnat apply`",
                    description, found.where.file, found.where.line));
  StateDir state(options.state_dir);
  state.Ensure();
  FileLock lock(state.LockPath());
  std::string previous = ReadFileIfExists(cli_path).value_or("");
  std::string updated = RemoveTomlTableAt(previous, found.where.line);
  Diagnostics diagnostics;
  Config after = ParseWithCliFile(options, updated, diagnostics);
  if (diagnostics.HasErrors()) throw BadInput(FormatErrors(diagnostics));
  WriteFileAtomically(cli_path, updated);
  try {
    ApplyConfig(options, after);
  } catch (...) {
    WriteFileAtomically(cli_path, previous);
    throw;
  }
  std::cout << "removed forward " << description << " from " << cli_path.string() << "\n";
  return 0;
}

int CommandForwardList(const GlobalOptions& options) {
  Config config = Load(options);
  if (options.json) {
    nlohmann::json json = nlohmann::json::array();
    for (const auto& forward : config.forwards) json.push_back(ForwardJson(forward));
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  TablePrinter table(
      {"PROTO", "LISTEN", "PORT", "TARGET", "TO_PORT", "SOURCE", "DESCRIPTION", "FILE"});
  for (const auto& forward : config.forwards) {
    std::string sources;
    for (const auto& source : forward.sources)
      sources += (sources.empty() ? "" : ",") + source.ToString();
    table.Add({ProtocolsToString(forward.protocols), ListenText(forward), ToString(forward.port),
               TargetName(forward), ToString(forward.to_port), sources.empty() ? "any" : sources,
               forward.description, Location(forward.where)});
  }
  std::cout << table.ToString();
  return 0;
}

int CommandHostList(const GlobalOptions& options) {
  Config config = Load(options);
  if (options.json) {
    nlohmann::json json = nlohmann::json::array();
    for (const auto& network : config.networks)
      for (const auto& host : network.hosts)
        json.push_back({{"network", network.name},
                        {"name", host.name},
                        {"fqdn", network.Fqdn(host)},
                        {"address", host.address.ToString()},
                        {"mac", host.mac == MacAddress{} ? "" : host.mac.ToString()}});
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts)
      std::cout << (host.mac == MacAddress{} ? "" : host.mac.ToString()) << ","
                << network.Fqdn(host) << "," << host.address.ToString() << "\n";
  return 0;
}

int CommandHostLookup(const GlobalOptions& options, const std::string& name) {
  Config config = Load(options);
  auto [network, host] = config.FindHost(name);
  if (!host) {
    std::cerr << fmt::format("virtnat: no host named '{}'\n", name);
    return 1;
  }
  std::cout << network->Fqdn(*host) << " " << host->address.ToString() << " "
            << (host->mac == MacAddress{} ? "-" : host->mac.ToString()) << "\n";
  return 0;
}

}  // namespace virtnat
