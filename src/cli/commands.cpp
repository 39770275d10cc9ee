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
#include "cli/listings.h"
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
  Config config =
      LoadConfigWithSnapshot(options.config_path, options.state_dir, diagnostics, make_state_dir);
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
        forward.listen == wanted.listen && forward.open4 == wanted.open4 &&
        forward.open6 == wanted.open6 && forward.target6 == wanted.target6 &&
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
  for (const auto& warning : config.warnings)
    std::cerr << "warning: " << warning.ToString() << "\n";
  std::cout << fmt::format("ok: {} networks, {} hosts, {} forwards in {} files\n", config.networks,
                           config.hosts, config.forwards, config.files);
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
    std::cout << StatusJson(config, status).dump(2) << "\n";
    return 0;
  }
  std::cout << StatusText(status, kernel);
  return 0;
}

int CommandDown(const GlobalOptions& options) {
  Config config = Load(options);
  PrintReport(EngineFor(options, config).Down(config));
  return 0;
}

int CommandForwardAdd(const GlobalOptions& options, const ForwardSpec& spec) {
  if (auto done = TryForwardAddFast(options, spec)) return *done;  // forward_fast.h
  Candidate candidate = BuildCandidate(options, spec);             // bad input stops here
  StateDir state(options.state_dir);
  state.Ensure();
  FileLock lock(state.LockPath());
  if (!candidate.forward) throw RuntimeFailure("internal error: the new forward was not parsed");
  const Forward& added = *candidate.forward;
  std::string description = ForwardSummary(added);
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
  std::string description = ForwardSummary(*candidate.forward);
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
  if (options.json)
    std::cout << ForwardListJson(config).dump(2) << "\n";
  else
    std::cout << ForwardListText(config);
  return 0;
}

int CommandHostList(const GlobalOptions& options) {
  Config config = Load(options);
  if (options.json)
    std::cout << HostListJson(config).dump(2) << "\n";
  else
    std::cout << HostListText(config);
  return 0;
}

int CommandHostLookup(const GlobalOptions& options, const std::string& name) {
  Config config = Load(options);
  auto [network, host] = LookupHost(config, name);
  if (!host) {
    std::cerr << fmt::format("virtnat: no host named '{}'\n", name);
    return 1;
  }
  if (options.json)
    std::cout << HostJson(*network, *host).dump(2) << "\n";
  else
    std::cout << HostLookupText(*network, *host);
  return 0;
}

}  // namespace virtnat
