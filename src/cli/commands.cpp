#include "cli/commands.h"

#include <fmt/format.h>
#include <net/if.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/table_printer.h"
#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "backends/nftables/libvirt_shim.h"
#include "backends/nftables/nftables_firewall.h"
#include "hook/hook.h"
#include "engine/hook_index.h"
#include "providers/libvirt/libvirt_client.h"
#include "providers/libvirt/network_manager.h"
#include "plan/desired_state.h"
#include "providers/standalone/standalone_network.h"
#include "base/files.h"
#include "state/state_dir.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

// Which exposure warnings a command prints: check lists every one; apply, run again and again
// on a config that may hold thousands of forwards, prints the first few and a count.
enum class Warnings { kNone, kAll, kFirstFew };
constexpr std::size_t kWarningsShownByApply = 10;

// Loads and validates the config, printing its exposure warnings as `warnings` says.
Config Load(const GlobalOptions& options, Warnings warnings = Warnings::kNone) {
  Diagnostics diagnostics;
  Config config = LoadConfig(options.config_path, diagnostics);
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

// "tcp 198.51.100.1:2222 -> lxdev01:22", as forward add/remove report it.
std::string Describe(const Forward& forward) {
  return fmt::format("{} {}:{} -> {}:{}", ProtocolsToString(forward.protocols), ListenText(forward),
                     ToString(forward.port), TargetName(forward), ToString(forward.to_port));
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

void PrintChange(const std::string& table, const FirewallChange& change) {
  if (change.replaced)
    std::cout << fmt::format("applied: table inet {} installed ({} elements)\n", table,
                             change.added);
  else if (change.Changed())
    std::cout << fmt::format("applied: table inet {}: {} elements added, {} removed\n", table,
                             change.added, change.removed);
  else
    std::cout << fmt::format("no change: table inet {} already matches the config\n", table);
}

}  // namespace

// Standalone networks, libvirt networks, the running set, the table, the hook's index and the
// shim in libvirt's chains, leaving out the networks `virtnat network stop` stopped. Prints
// one line per action.
void ApplyConfig(const GlobalOptions& options, const Config& whole_config, const StateDir& state) {
  std::optional<Config> without_stopped;  // copied only when some network is stopped
  if (auto stopped = state.ReadStoppedNetworks(); !stopped.empty())
    without_stopped = WithoutNetworks(whole_config, stopped);
  const Config& config = without_stopped ? *without_stopped : whole_config;
  std::unique_ptr<LibvirtClient> libvirt;
  if (ConfigNeedsLibvirt(config)) {
    std::string uri = options.connect.empty() ? config.settings.libvirt_uri : options.connect;
    try {
      libvirt = std::make_unique<LibvirtClient>(uri);
    } catch (const RuntimeFailure& error) {
      for (const auto& network : config.networks)
        if (network.provider == NetworkProvider::kLibvirt && network.define) throw;
      std::cerr << "warning: " << error.what() << "; using the running VMs recorded by the hook\n";
    }
  }
  for (const auto& network : config.networks)
    if (network.provider == NetworkProvider::kStandalone)
      for (const auto& line : StartStandaloneNetwork(network, StandalonePathsFromEnvironment(),
                                                     StandaloneNeedsForwarding(network)))
        std::cout << line << "\n";
  if (libvirt) {
    for (const auto& line : ApplyLibvirtNetworks(*libvirt, config)) std::cout << line << "\n";
    if (config.settings.vm_lifecycle == VmLifecycle::kLibvirt)
      state.WriteRunningDomains(RunningDomainsFromLibvirt(*libvirt, config));
  }
  DesiredState desired = BuildDesiredState(config, state.ReadRunningHosts());
  NftablesFirewall firewall(config.settings.table, state);
  PrintChange(config.settings.table, firewall.Apply(desired));
  WriteHookState(state, config);
  if (config.NeedsLibvirtShim()) {
    Nftables nft;
    std::string done = LibvirtShim(nft).Ensure();
    if (!done.empty()) std::cout << done << "\n";
  }
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
        forward.listen == wanted.listen)
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
  Config config = Load(options, Warnings::kAll);
  std::size_t hosts = 0;
  for (const auto& network : config.networks) hosts += network.hosts.size();
  std::cout << fmt::format("ok: {} networks, {} hosts, {} forwards in {} files\n",
                           config.networks.size(), hosts, config.forwards.size(),
                           config.files.size());
  return 0;
}

int CommandPlan(const GlobalOptions& options) {
  Config config = Load(options);
  StateDir state(options.state_dir);
  DesiredState desired = BuildDesiredState(config, state.ReadRunningHosts());
  NftablesFirewall firewall(config.settings.table, state);
  std::cout << firewall.Render(desired);
  FirewallDiff diff = firewall.Diff(desired);
  std::cout << "\n# Compared with the kernel:\n";
  if (diff.table_missing) {
    std::cout << fmt::format("#   table inet {} is not installed: apply will create it\n",
                             config.settings.table);
  } else if (diff.layout_differs) {
    std::cout << fmt::format(
        "#   the chains, rules or sets of table inet {} differ: apply will "
        "replace the table in one transaction\n",
        config.settings.table);
  } else if (diff.InSync()) {
    std::cout << "#   in sync: apply will change nothing\n";
  }
  if (!diff.table_missing) {
    for (const auto& line : diff.to_add) std::cout << "#   + " << line << "\n";
    for (const auto& line : diff.to_remove) std::cout << "#   - " << line << "\n";
  }
  return 0;
}

// A bridged libvirt network's bridge is rebuilt at boot by the network hook only (libvirtd
// autostarts networks before virtnat.service runs): say so while it can still be fixed.
static void WarnAboutMissingNetworkHook(const Config& config) {
  fs::path hook = fs::path(kLibvirtHooksDir) / "network.d" / "virtnat";
  std::error_code error;
  if (fs::exists(hook, error)) return;
  for (const auto& network : config.networks)
    if (network.provider == NetworkProvider::kLibvirt && network.define &&
        network.mode == NetworkMode::kBridged)
      std::cerr << fmt::format(
          "warning: network {}: {} is not installed, so after a reboot libvirt starts {} "
          "without its bridge {} and its VMs fail; run `virtnat hook install`\n",
          network.name, hook.string(), network.name, network.bridge);
}

int CommandApply(const GlobalOptions& options) {
  Config config =
      Load(options, Warnings::kFirstFew);  // bad input stops here, before anything is created
  StateDir state(options.state_dir);
  state.Ensure();
  FileLock lock(state.LockPath());
  // apply brings up every network of the config, also those `network stop` stopped.
  for (const auto& name : state.ReadStoppedNetworks())
    std::cout << fmt::format("network {}: stopped by `virtnat network stop`, started again\n",
                             name);
  state.WriteStoppedNetworks({});
  ApplyConfig(options, config, state);
  WarnAboutMissingNetworkHook(config);
  return 0;
}

// The VMs that run now: from libvirt when it can be reached (read only), else as the hook
// recorded them.
static RunningHosts CurrentRunningHosts(const GlobalOptions& options, const Config& config,
                                        const StateDir& state) {
  if (config.settings.vm_lifecycle == VmLifecycle::kLibvirt) {
    try {
      LibvirtClient client(options.connect.empty() ? config.settings.libvirt_uri : options.connect);
      RunningHosts hosts;
      for (const auto& [domain, names] : RunningDomainsFromLibvirt(client, config))
        hosts.insert(names.begin(), names.end());
      return hosts;
    } catch (const RuntimeFailure&) {
      // libvirtd is down: the hook's record is the best knowledge there is.
    }
  }
  return state.ReadRunningHosts();
}

// One network as it is on this host: "up", "stopped" (by `network stop`), or what is missing.
static std::string NetworkState(const Network& network, const std::set<std::string>& stopped) {
  if (stopped.contains(network.name)) return "stopped";
  if (network.bridge.empty() || if_nametoindex(network.bridge.c_str()) == 0)
    return fmt::format("down: no bridge {}", network.bridge);
  if (network.provider == NetworkProvider::kStandalone && network.ServesDhcp() &&
      !RunningDnsmasqPid(network, StandalonePathsFromEnvironment()))
    return "degraded: dnsmasq not running";
  return "up";
}

int CommandStatus(const GlobalOptions& options) {
  Config whole_config = Load(options);
  StateDir state(options.state_dir);
  std::set<std::string> stopped = state.ReadStoppedNetworks();
  // Stopped networks are meant to be out of the table: they are no drift.
  const Config config = WithoutNetworks(whole_config, stopped);
  DesiredState desired = BuildDesiredState(config, CurrentRunningHosts(options, config, state));
  NftablesFirewall firewall(config.settings.table, state);
  FirewallDiff diff = firewall.Diff(desired);
  std::vector<TrafficCounters> counters = firewall.ReadCounters(desired);
  std::string kernel = diff.table_missing ? "not installed"
                       : diff.InSync()    ? "in sync"
                                          : fmt::format(
                                                "drift: {} (`virtnat plan` shows it, `virtnat apply` "
                                                   "repairs it)",
                                                diff.Summary());
  if (options.json) {
    nlohmann::json json;
    json["table"] = {{"name", config.settings.table},
                     {"installed", !diff.table_missing},
                     {"in_sync", diff.InSync()},
                     {"drift", diff.Summary()},
                     {"layout_differs", diff.layout_differs},
                     {"elements_missing", diff.to_add},
                     {"elements_extra", diff.to_remove}};
    json["networks"] = nlohmann::json::array();
    for (const auto& network : whole_config.networks) {
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
                                  {"state", NetworkState(network, stopped)},
                                  {"hosts", hosts}});
    }
    json["forwards"] = nlohmann::json::array();
    for (std::size_t i = 0; i < desired.forwards.size(); ++i) {
      nlohmann::json item = ForwardJson(*desired.forwards[i].forward);
      item["active"] = desired.forwards[i].active && !diff.table_missing;
      item["state"] = desired.forwards[i].active ? "active" : "waiting for its VM";
      item["open_to_world"] = desired.forwards[i].forward->sources.empty();
      item["packets"] = counters[i].packets;
      item["bytes"] = counters[i].bytes;
      json["forwards"].push_back(item);
    }
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  std::cout << fmt::format("table inet {}: {}\n\n", config.settings.table, kernel);
  TablePrinter networks(
      {"NETWORK", "MODE", "PROVIDER", "BRIDGE", "ADDRESS", "DOMAIN", "HOSTS", "STATE"});
  for (const auto& network : whole_config.networks)
    networks.Add({network.name, ToString(network.mode), ToString(network.provider), network.bridge,
                  network.address.ToString(), network.domain, std::to_string(network.hosts.size()),
                  NetworkState(network, stopped)});
  std::cout << networks.ToString() << "\n";
  TablePrinter forwards({"PROTO", "LISTEN", "PORT", "TARGET", "TO_PORT", "OPEN TO", "STATE",
                         "PACKETS", "BYTES", "DESCRIPTION"});
  for (std::size_t i = 0; i < desired.forwards.size(); ++i) {
    const Forward& forward = *desired.forwards[i].forward;
    std::string status = diff.table_missing           ? "not installed"
                         : desired.forwards[i].active ? "active"
                                                      : "waiting for its VM";
    forwards.Add({ProtocolsToString(forward.protocols), ListenText(forward), ToString(forward.port),
                  fmt::format("{} ({})", TargetName(forward), forward.target.ToString()),
                  ToString(forward.to_port), OpenTo(forward), status,
                  std::to_string(counters[i].packets), std::to_string(counters[i].bytes),
                  forward.description});
  }
  for (const auto& forward : whole_config.forwards)
    if (stopped.contains(forward.network))
      forwards.Add({ProtocolsToString(forward.protocols), ListenText(forward),
                    ToString(forward.port),
                    fmt::format("{} ({})", TargetName(forward), forward.target.ToString()),
                    ToString(forward.to_port), OpenTo(forward), "network stopped", "-", "-",
                    forward.description});
  std::cout << forwards.ToString();
  return 0;
}

int CommandDown(const GlobalOptions& options) {
  Config config = Load(options);
  StateDir state(options.state_dir);
  NftablesFirewall firewall(config.settings.table, state);
  if (firewall.Down())
    std::cout << fmt::format("deleted table inet {}\n", config.settings.table);
  else
    std::cout << fmt::format("table inet {} was not installed\n", config.settings.table);
  Nftables nft;
  if (config.NeedsLibvirtShim() && LibvirtShim(nft).Remove())
    std::cout << "removed the shim rule from libvirt's chain\n";
  return 0;
}

int CommandForwardAdd(const GlobalOptions& options, const ForwardSpec& spec) {
  Candidate candidate = BuildCandidate(options, spec);  // bad input stops here
  StateDir state(options.state_dir);
  state.Ensure();
  FileLock lock(state.LockPath());
  if (!candidate.forward) throw RuntimeFailure("internal error: the new forward was not parsed");
  const Forward& added = *candidate.forward;
  std::string description = Describe(added);
  if (IsDuplicate(candidate)) {
    std::cout << "no change: forward " << description << " already exists\n";
    ApplyConfig(options, Load(options), state);
    return 0;
  }
  fs::path cli_path = CliConfigPath(options.config_path);
  auto previous = ReadFileIfExists(cli_path);
  fs::create_directories(cli_path.parent_path());
  WriteFileAtomically(cli_path, candidate.cli_text);
  try {
    ApplyConfig(options, candidate.config, state);
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
    ApplyConfig(options, after, state);
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
