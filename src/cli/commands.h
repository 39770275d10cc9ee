// The commands behind the command line. Each returns the process exit status:
// 0 ok, 1 runtime failure (thrown as RuntimeFailure), 2 bad input (thrown as BadInput).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/forward_spec.h"
#include "importers/init_config.h"
#include "model/model.h"
#include "state/state_dir.h"

namespace virtnat {

struct GlobalOptions {
  std::filesystem::path config_path;
  std::filesystem::path state_dir;
  std::string connect;  // libvirt URI from --connect; empty = settings.libvirt_uri
  bool json = false;
};

int CommandCheck(const GlobalOptions& options);
int CommandPlan(const GlobalOptions& options);
int CommandApply(const GlobalOptions& options);
int CommandStatus(const GlobalOptions& options);
int CommandDown(const GlobalOptions& options);
int CommandForwardAdd(const GlobalOptions& options, const ForwardSpec& spec);
int CommandForwardRemove(const GlobalOptions& options, const ForwardSpec& spec);
int CommandForwardList(const GlobalOptions& options);
int CommandHostList(const GlobalOptions& options);
int CommandHostLookup(const GlobalOptions& options, const std::string& name);

// libvirt: networks and the hook (libvirt_commands.cpp).
int CommandNetworkList(const GlobalOptions& options);
int CommandNetworkXml(const GlobalOptions& options, const std::string& name);
// `vm interface NETWORK HOST`: the libvirt <interface> that plugs a VM in as HOST.
int CommandVmInterface(const GlobalOptions& options, const std::string& network,
                       const std::string& host);
int CommandNetworkAction(const GlobalOptions& options, const std::string& action,
                         const std::string& name);
int CommandHookInstall(const GlobalOptions& options, const std::filesystem::path& hooks_dir);
int CommandHookUninstall(const GlobalOptions& options, const std::filesystem::path& hooks_dir);
int CommandHook(const GlobalOptions& options, const std::string& kind,
                const std::vector<std::string>& arguments);
// Starting configs (setup_commands.cpp).
int CommandInit(const GlobalOptions& options, const InitOptions& init, bool force, bool to_stdout);
int CommandImportHookQemu(const GlobalOptions& options, const std::filesystem::path& file,
                          bool write);
// Everything apply does, for `config`, printing what was done; the caller holds the state lock.
void ApplyConfig(const GlobalOptions& options, const Config& config);
int CommandLeases(const GlobalOptions& options, const std::string& network);
// `vm list`: libvirt's VMs and their interfaces (vm_commands.cpp).
int CommandVmList(const GlobalOptions& options);
// The libvirt URI to use: --connect, else the config's settings.libvirt_uri.
std::string LibvirtUri(const GlobalOptions& options);

}  // namespace virtnat
