// `virtnat network ...`, `virtnat leases` and `virtnat hook ...`.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "cli/commands.h"
#include "cli/table_printer.h"
#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "engine/engine.h"
#include "engine/libvirt_hooks.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

Config LoadQuiet(const GlobalOptions& options) {
  Diagnostics diagnostics;
  return LoadConfig(options.config_path, diagnostics);
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

Engine EngineFor(const GlobalOptions& options, const Config& config) {
  return Engine::For(config, StateDir(options.state_dir), options.connect);
}

}  // namespace

int CommandLeases(const GlobalOptions& options, const std::string& name) {
  Config config = LoadQuiet(options);
  nlohmann::json json = nlohmann::json::array();
  TablePrinter table({"NETWORK", "EXPIRES", "MAC", "ADDRESS", "HOSTNAME", "CLIENT ID"});
  for (const auto& [network, lease] : EngineFor(options, config).Leases(config, name)) {
    json.push_back({{"network", network},
                    {"expiry", lease.expiry},
                    {"mac", lease.mac},
                    {"address", lease.address},
                    {"hostname", lease.hostname},
                    {"client_id", lease.client_id}});
    char when[32] = "never";
    if (lease.expiry > 0) {
      std::time_t time = static_cast<std::time_t>(lease.expiry);
      std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&time));
    }
    table.Add({network, when, lease.mac, lease.address, lease.hostname, lease.client_id});
  }
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
  std::vector<NetworkEntry> networks = EngineFor(options, config).ListNetworks(config);
  if (options.json) {
    nlohmann::json json = nlohmann::json::array();
    for (const auto& network : networks) {
      nlohmann::json item = {{"name", network.name}, {"in_config", network.in_config}};
      if (network.in_config) item["mode"] = network.mode;
      item["provider"] = network.provider;
      item["bridge"] = network.bridge;
      if (network.active) item["active"] = *network.active;
      if (network.autostart) item["autostart"] = *network.autostart;
      json.push_back(item);
    }
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  auto yes_no = [](const std::optional<bool>& value) -> std::string {
    return value ? (*value ? "yes" : "no") : "-";
  };
  TablePrinter table({"NETWORK", "IN CONFIG", "PROVIDER", "ACTIVE", "AUTOSTART", "BRIDGE"});
  for (const auto& network : networks)
    table.Add({network.name, network.in_config ? "yes" : "no", network.provider,
               yes_no(network.active), yes_no(network.autostart), network.bridge});
  std::cout << table.ToString();
  return 0;
}

int CommandNetworkXml(const GlobalOptions& options, const std::string& name) {
  Config config = LoadQuiet(options);
  std::cout << EngineFor(options, config).NetworkDefinition(config, name);
  return 0;
}

int CommandVmInterface(const GlobalOptions& options, const std::string& network,
                       const std::string& host) {
  Config config = LoadQuiet(options);
  std::cout << EngineFor(options, config).VmInterface(config, network, host);
  return 0;
}

int CommandNetworkAction(const GlobalOptions& options, const std::string& action,
                         const std::string& name) {
  Config config = LoadQuiet(options);
  Engine engine = EngineFor(options, config);
  if (action == "status") {
    std::cout << engine.NetworkStatusLine(config, name) << "\n";
    return 0;
  }
  Report report = engine.NetworkAction(config, action, name);
  for (const auto& warning : report.warnings) std::cerr << "warning: " << warning << "\n";
  for (const auto& line : report.lines) std::cout << line << "\n";
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
