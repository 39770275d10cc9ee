// What the libvirt hook needs, precomputed by apply so the hook never parses the config nor
// calls libvirt: its cost depends on the VM's own forwards, not on the total.
//   STATE/hook-index.json        table, lifecycle, strictness, host -> MAC
//   STATE/hosts/NAME.elements    "SET<TAB>ELEMENT" lines: the DNAT elements of the host
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "plan/desired_state.h"
#include "state/state_dir.h"

namespace virtnat {

struct HookIndex {
  std::string table = "virtnat";
  bool follow_vms = false;                       // vm_lifecycle = "libvirt"
  bool strict = false;                           // settings.strict_hook
  bool shim = false;                             // some network's firewall belongs to libvirt
  std::map<std::string, std::string> host_macs;  // host name -> MAC ("" if none)
};

struct HostElements {
  std::vector<std::pair<std::string, std::string>> elements;  // set, element
};

// Pure: the index and the per-host DNAT elements (active or not) of a config.
HookIndex BuildHookIndex(const Config& config);
std::map<std::string, HostElements> BuildHostElements(const Config& config);

std::string SerializeHookIndex(const HookIndex& index);
HookIndex ParseHookIndex(const std::string& text);  // throws RuntimeFailure
std::string SerializeHostElements(const HostElements& elements);
HostElements ParseHostElements(const std::string& text);

// Writes both, rewriting only files whose content changed and removing stale host files.
void WriteHookState(const StateDir& state, const Config& config);
std::optional<HookIndex> ReadHookIndex(const StateDir& state);
HostElements ReadHostElements(const StateDir& state, const std::string& host);

// Hosts of the config that a domain stands for: host name = domain name, or a NIC's MAC.
std::set<std::string> HostsOfDomain(const HookIndex& index, const std::string& domain,
                                    const std::set<std::string>& macs);

}  // namespace virtnat
