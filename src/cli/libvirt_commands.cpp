// `virtnat network ...` and `virtnat hook ...`.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/table_printer.h"
#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "hook/hook.h"
#include "libvirt/libvirt_client.h"
#include "libvirt/network_manager.h"
#include "libvirt/network_xml.h"
#include "state/files.h"

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
std::string SelfPath() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) throw RuntimeFailure("cannot find the path of the virtnat binary");
  return self.string();
}

std::string HookScript(const GlobalOptions& options) {
  fs::path state = fs::absolute(options.state_dir);
  // The kernel passes everything after the interpreter as one argument: no shell involved.
  std::string line = fmt::format("#!{} --hook-state-dir={}\n", SelfPath(), state.string());
  if (line.size() > 255)
    throw BadInput(fmt::format("virtnat: the hook's #! line would exceed 255 bytes: {}", line));
  return line +
         "# Installed by `virtnat hook install`: libvirt runs this file, the kernel starts\n"
         "# virtnat with the arguments above. Remove it with `virtnat hook uninstall`.\n";
}

}  // namespace

std::string LibvirtUri(const GlobalOptions& options) {
  if (!options.connect.empty()) return options.connect;
  return LoadQuiet(options).settings.libvirt_uri;
}

int CommandNetworkList(const GlobalOptions& options) {
  Config config = LoadQuiet(options);
  LibvirtClient client(LibvirtUri(options));
  auto networks = client.ListNetworks();
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
  if (action == "start") {
    if (!client.FindNetwork(name)) {
      Config single = config;
      single.networks = {network};
      for (const auto& line : ApplyLibvirtNetworks(client, single)) std::cout << line << "\n";
    } else {
      client.StartNetwork(name);
      std::cout << fmt::format("network {}: started\n", name);
    }
  } else if (action == "stop") {
    client.StopNetwork(name);
    std::cout << fmt::format("network {}: stopped\n", name);
  } else if (action == "undefine") {
    client.UndefineNetwork(name);
    std::cout << fmt::format("network {}: stopped and undefined\n", name);
  }
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
  if (kind == "network") return RunNetworkHook(state, call);
  return 0;  // other hook kinds (lxc, daemon, ...) are not ours to handle
}

}  // namespace virtnat
