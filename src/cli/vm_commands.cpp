// `virtnat vm list [--json]`: every VM libvirt knows, with its network interfaces (type,
// model, MAC, addresses from the leases, source network or bridge, device) and which host of
// the config each interface is. Read only.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/table_printer.h"
#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "engine/engine.h"

namespace virtnat {
namespace {

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

}  // namespace

int CommandVmList(const GlobalOptions& options) {
  // Without a config (a host where virtnat is not set up yet) the VMs are still listed,
  // only without hosts.
  Config config;
  std::error_code error;
  if (std::filesystem::exists(options.config_path, error)) {
    Diagnostics diagnostics;
    config = LoadConfig(options.config_path, diagnostics);
  }
  std::vector<VmInfo> domains =
      Engine::For(config, StateDir(options.state_dir), options.connect).ListVms(config);

  if (options.json) {
    nlohmann::json json = nlohmann::json::array();
    for (const auto& domain : domains) {
      nlohmann::json interfaces = nlohmann::json::array();
      for (const auto& nic : domain.interfaces)
        interfaces.push_back({{"type", nic.type},
                              {"model", nic.model},
                              {"mac", nic.mac},
                              {"source_type", nic.source_type},
                              {"source", nic.source},
                              {"bridge", nic.bridge},
                              {"target", nic.target},
                              {"addresses", nic.addresses},
                              {"host", nic.host},
                              {"network", nic.host_network},
                              {"host_address", nic.host_address}});
      json.push_back({{"name", domain.name},
                      {"state", domain.state},
                      {"active", domain.active},
                      {"persistent", domain.persistent},
                      {"interfaces", interfaces}});
    }
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  TablePrinter table(
      {"VM", "STATE", "TYPE", "MODEL", "MAC", "IP", "SOURCE", "DEVICE", "VIRTNAT HOST"});
  for (const auto& domain : domains) {
    if (domain.interfaces.empty())
      table.Add({domain.name, domain.state, "-", "-", "-", "-", "-", "-", "-"});
    for (const auto& nic : domain.interfaces)
      table.Add({domain.name, domain.state, nic.type, nic.model.empty() ? "-" : nic.model,
                 nic.mac.empty() ? "-" : nic.mac,
                 nic.addresses.empty() ? "-" : Join(nic.addresses, ","),
                 nic.source.empty() ? "-" : nic.source, nic.target.empty() ? "-" : nic.target,
                 nic.host.empty() ? "-" : fmt::format("{} ({})", nic.host, nic.host_network)});
  }
  std::cout << table.ToString();
  return 0;
}

}  // namespace virtnat
