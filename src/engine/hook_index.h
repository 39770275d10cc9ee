// What the libvirt hook needs, precomputed by apply so that the hook never parses the config
// nor calls libvirt: its cost depends on the VM's own forwards, not on the total.
//   STATE/hook-index.json   ruleset name, lifecycle, strictness, shims, host -> MAC
// The firewall backend writes each host's own part beside it (FirewallBackend::WriteHostState).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "model/model.h"
#include "plan/desired_state.h"
#include "state/state_dir.h"

namespace virtnat {

struct HookIndex {
  std::string ruleset_name = "virtnat";
  bool follow_vms = false;  // vm_lifecycle = "libvirt"
  bool strict = false;      // settings.strict_hook
  bool shim = false;        // some network's firewall is its provider's
  HostMacs host_macs;
};

// Pure: the index of a config.
HookIndex BuildHookIndex(const Config& config);

std::string SerializeHookIndex(const HookIndex& index);
HookIndex ParseHookIndex(const std::string& text);  // throws RuntimeFailure

// Writes the index when its content changed.
void WriteHookIndex(const StateDir& state, const Config& config);
std::optional<HookIndex> ReadHookIndex(const StateDir& state);

// Hosts of the config that a domain stands for: host name = domain name, or a NIC's MAC.
std::set<std::string> HostsOfDomain(const HookIndex& index, const std::string& domain,
                                    const std::set<std::string>& macs);

}  // namespace virtnat
