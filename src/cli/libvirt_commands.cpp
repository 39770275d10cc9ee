// `virtnat network ...` and `virtnat hook ...`.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/table_printer.h"
#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "hook/hook.h"
#include "providers/libvirt/libvirt_client.h"
#include "providers/libvirt/network_manager.h"
#include "providers/libvirt/network_xml.h"
#include "providers/standalone/standalone_network.h"
#include "base/files.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

Config LoadQuiet(const GlobalOptions& options) {
  Diagnostics diagnostics;
  return LoadConfig(options.config_path, diagnostics);
}

const Network& FindConfigNetwork(const Config& config, const std::string& name) {
  const Network* network = config.FindNetwork(name);
  if (!network) throw BadInput(fmt::format("virtnat: no network '{}' in the config", name));
  return *network;
}

// The path of the running binary, for the hooks' #! line.
fs::path SelfPath() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) throw RuntimeFailure("cannot find the path of the virtnat binary");
  return self.string();
}

std::string HookScript(const GlobalOptions& options) {
  fs::path state = fs::absolute(options.state_dir);
  // virtnat-hook beside this binary starts much faster (no libvirt client library).
  fs::path program = SelfPath();
  fs::path hook_program = program.parent_path() / "virtnat-hook";
  if (access(hook_program.c_str(), X_OK) == 0) program = hook_program;
  // The kernel passes everything after the interpreter as one argument: no shell involved.
  std::string line = fmt::format("#!{} --hook-state-dir={}\n", program.string(), state.string());
  if (line.size() > 255)
    throw BadInput(fmt::format("virtnat: the hook's #! line would exceed 255 bytes: {}", line));
  return line +
         "# Installed by `virtnat hook install`: libvirt runs this file, the kernel starts\n"
         "# virtnat with the arguments above. Remove it with `virtnat hook uninstall`.\n";
}

// Remembers that `network stop` stopped a network, so that the watch daemon and commands such
// as `forward add` do not start it again behind the admin's back; start forgets it.
void MarkStopped(const StateDir& state, const std::string& network, bool stopped) {
  auto networks = state.ReadStoppedNetworks();
  if (stopped ? !networks.insert(network).second : networks.erase(network) == 0) return;
  state.WriteStoppedNetworks(networks);
}

// Standalone networks: virtnat's own bridge + dnsmasq; stop also takes the network's rules out
// of the table, start puts them back.
int StandaloneNetworkAction(const GlobalOptions& options, const Config& config,
                            const Network& network, const std::string& action) {
  StandalonePaths paths = StandalonePathsFromEnvironment();
  if (action == "status") {
    StandaloneStatus status = GetStandaloneStatus(network, paths);
    std::cout << fmt::format(
        "network {}: bridge {} {}{}, {} {}, dnsmasq {}\n", network.name, status.bridge,
        status.bridge_exists ? (status.bridge_up ? "up" : "down") : "absent",
        status.bridge_mac ? " (MAC " + status.bridge_mac->ToString() + ")" : "", status.dummy_nic,
        status.dummy_nic_exists ? "present" : "absent",
        status.dnsmasq_pid ? "running (pid " + std::to_string(*status.dnsmasq_pid) + ")"
                           : std::string("not running"));
    return 0;
  }
  if (action == "undefine")
    throw BadInput(fmt::format("virtnat: network '{}' is standalone: use `virtnat network stop`",
                               network.name));
  StateDir state(options.state_dir);
  state.Ensure();
  FileLock lock(state.LockPath());
  MarkStopped(state, network.name, action == "stop");
  if (action == "start") {
    ApplyConfig(options, config, state);
    return 0;
  }
  for (const auto& line : StopStandaloneNetwork(network, paths)) std::cout << line << "\n";
  // The rest of the config stays applied; this network's rules and forwards leave the table
  // (ApplyConfig leaves out stopped networks).
  ApplyConfig(options, config, state);
  return 0;
}

}  // namespace

int CommandLeases(const GlobalOptions& options, const std::string& name) {
  Config config = LoadQuiet(options);
  nlohmann::json json = nlohmann::json::array();
  TablePrinter table({"NETWORK", "EXPIRES", "MAC", "ADDRESS", "HOSTNAME", "CLIENT ID"});
  std::unique_ptr<LibvirtClient> libvirt;
  for (const auto& network : config.networks) {
    if (!name.empty() && network.name != name) continue;
    auto add = [&](long long expiry, const std::string& mac, const std::string& address,
                   const std::string& hostname, const std::string& client_id) {
      json.push_back({{"network", network.name},
                      {"expiry", expiry},
                      {"mac", mac},
                      {"address", address},
                      {"hostname", hostname},
                      {"client_id", client_id}});
      char when[32] = "never";
      if (expiry > 0) {
        std::time_t time = static_cast<std::time_t>(expiry);
        std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&time));
      }
      table.Add({network.name, when, mac, address, hostname, client_id});
    };
    if (network.provider == NetworkProvider::kStandalone) {
      for (const auto& lease : ReadStandaloneLeases(network, StandalonePathsFromEnvironment()))
        add(lease.expiry, lease.mac, lease.address.ToString(), lease.hostname, lease.client_id);
    } else if (network.provider == NetworkProvider::kLibvirt) {
      if (!libvirt) libvirt = std::make_unique<LibvirtClient>(LibvirtUri(options));
      for (const auto& lease : libvirt->Leases(network.name))
        add(lease.expiry, lease.mac, lease.address, lease.hostname, lease.client_id);
    }
  }
  if (!name.empty() && !config.FindNetwork(name))
    throw BadInput(fmt::format("virtnat: no network '{}' in the config", name));
  if (options.json)
    std::cout << json.dump(2) << "\n";
  else
    std::cout << table.ToString();
  return 0;
}

std::string LibvirtUri(const GlobalOptions& options) {
  if (!options.connect.empty()) return options.connect;
  return LoadQuiet(options).settings.libvirt_uri;
}

int CommandNetworkList(const GlobalOptions& options) {
  Config config = LoadQuiet(options);
  // libvirt is asked only when it is there: without it the config's networks still list.
  std::vector<LibvirtNetworkState> networks;
  try {
    networks = LibvirtClient(LibvirtUri(options)).ListNetworks();
  } catch (const RuntimeFailure&) {
  }
  if (options.json) {
    nlohmann::json json = nlohmann::json::array();
    for (const auto& network : config.networks) {
      nlohmann::json item = {{"name", network.name},
                             {"in_config", true},
                             {"mode", ToString(network.mode)},
                             {"provider", ToString(network.provider)},
                             {"bridge", network.bridge}};
      for (const auto& state : networks)
        if (state.name == network.name) {
          item["active"] = state.active;
          item["autostart"] = state.autostart;
        }
      json.push_back(item);
    }
    for (const auto& state : networks)
      if (!config.FindNetwork(state.name))
        json.push_back({{"name", state.name},
                        {"in_config", false},
                        {"provider", "libvirt"},
                        {"bridge", state.bridge},
                        {"active", state.active},
                        {"autostart", state.autostart}});
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  TablePrinter table({"NETWORK", "IN CONFIG", "PROVIDER", "ACTIVE", "AUTOSTART", "BRIDGE"});
  for (const auto& network : config.networks) {
    std::string active = "-", autostart = "-", bridge = network.bridge;
    for (const auto& state : networks)
      if (state.name == network.name) {
        active = state.active ? "yes" : "no";
        autostart = state.autostart ? "yes" : "no";
        bridge = state.bridge;
      }
    table.Add({network.name, "yes", ToString(network.provider), active, autostart, bridge});
  }
  for (const auto& state : networks)
    if (!config.FindNetwork(state.name))
      table.Add({state.name, "no", "libvirt", state.active ? "yes" : "no",
                 state.autostart ? "yes" : "no", state.bridge});
  std::cout << table.ToString();
  return 0;
}

int CommandNetworkXml(const GlobalOptions& options, const std::string& name) {
  Config config = LoadQuiet(options);
  std::cout << RenderNetworkXml(FindConfigNetwork(config, name));
  return 0;
}

int CommandNetworkAction(const GlobalOptions& options, const std::string& action,
                         const std::string& name) {
  Config config = LoadQuiet(options);
  const Network& network = FindConfigNetwork(config, name);
  if (network.provider == NetworkProvider::kStandalone)
    return StandaloneNetworkAction(options, config, network, action);
  if (action != "status" && (network.provider != NetworkProvider::kLibvirt || !network.define))
    throw BadInput(fmt::format(
        "virtnat: network '{}' is not defined by virtnat (provider {}{}); "
        "virtnat does not {} it",
        name, ToString(network.provider), network.define ? "" : ", define = false", action));
  LibvirtClient client(LibvirtUri(options));
  if (action == "status") {
    auto state = client.FindNetwork(name);
    if (!state) {
      std::cout << fmt::format("network {}: not defined in libvirt\n", name);
      return 0;
    }
    std::string drift;
    if (network.provider == NetworkProvider::kLibvirt && network.define) {
      auto have = ParseNetworkFacts(client.NetworkXml(name));
      auto want = DesiredNetworkFacts(network);
      drift = have.SameShape(want) && have.dhcp_hosts == want.dhcp_hosts &&
                      have.dns_hosts == want.dns_hosts
                  ? "matches the config"
                  : "differs from the config (run `virtnat apply`)";
    }
    std::cout << fmt::format("network {}: {}, autostart {}, bridge {}{}{}\n", name,
                             state->active ? "active" : "inactive", state->autostart ? "on" : "off",
                             state->bridge, drift.empty() ? "" : ", ", drift);
    return 0;
  }
  // A bridged network's host bridge comes before the start and goes after the stop.
  if (action == "start" || action == "stop") {
    StateDir state(options.state_dir);
    state.Ensure();
    FileLock lock(state.LockPath());
    MarkStopped(state, network.name, action == "stop");
  }
  std::vector<std::string> lines;
  if (action == "start")
    lines = StartLibvirtNetwork(client, config, network);
  else if (action == "stop" || action == "undefine")
    lines = StopLibvirtNetwork(client, network, action == "undefine");
  for (const auto& line : lines) std::cout << line << "\n";
  return 0;
}

int CommandHookInstall(const GlobalOptions& options, const fs::path& hooks_dir) {
  LoadQuiet(options);  // a broken config is reported now, not at the next VM start
  bool existed = fs::is_directory(hooks_dir);
  std::string script = HookScript(options);
  for (const char* kind : {"qemu.d", "network.d"}) {
    fs::create_directories(hooks_dir / kind);
    WriteFileAtomically(hooks_dir / kind / "virtnat", script, 0755);
    std::cout << "installed " << (hooks_dir / kind / "virtnat").string() << "\n";
  }
  if (fs::exists(hooks_dir / "qemu"))
    std::cout << "left the existing " << (hooks_dir / "qemu").string() << " hook alone\n";
  if (!existed)
    std::cout << "note: " << hooks_dir.string()
              << " did not exist before: restart libvirtd so that it sees the hooks\n";
  std::cout << "run `virtnat apply` once so the hook knows the forwards\n";
  return 0;
}

int CommandHookUninstall(const GlobalOptions&, const fs::path& hooks_dir) {
  bool removed = false;
  for (const char* kind : {"qemu.d", "network.d"}) {
    fs::path path = hooks_dir / kind / "virtnat";
    if (fs::remove(path)) {
      std::cout << "removed " << path.string() << "\n";
      removed = true;
    }
  }
  if (!removed) std::cout << "no virtnat hook was installed in " << hooks_dir.string() << "\n";
  return 0;
}

int CommandHook(const GlobalOptions& options, const std::string& kind,
                const std::vector<std::string>& arguments) {
  if (arguments.size() < 2)
    throw BadInput(fmt::format("virtnat: hook {} needs NAME OPERATION [SUBOPERATION EXTRA]", kind));
  HookCall call{arguments[0], arguments[1], arguments.size() > 2 ? arguments[2] : "-",
                arguments.size() > 3 ? arguments[3] : "-"};
  StateDir state(options.state_dir);
  if (kind == "qemu") return RunQemuHook(state, call, std::cin);
  if (kind == "network") return RunNetworkHook(state, call, std::cin);
  return 0;  // other hook kinds (lxc, daemon, ...) are not ours to handle
}

}  // namespace virtnat
