// Following VMs: a VM that starts turns its hosts' forwards on, one that stops turns them off
// (the hook and watch). Kept apart from the engine so that the hook links no provider.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/firewall_backend.h"
#include "engine/network_driver.h"
#include "state/state_dir.h"

namespace virtnat {

struct RunningChanges {
  std::vector<std::pair<std::string, std::set<std::string>>> stopped;  // with the recorded hosts
  std::vector<std::pair<std::string, std::set<std::string>>> started;  // with the current hosts
};

// What turns the recorded running set into what the VM inventory reports. A domain whose hosts
// changed (a NIC's MAC, the config) is stopped with the old hosts and started with the new ones.
RunningChanges DiffRunningDomains(const RunningDomains& recorded, const RunningDomains& running);

// Turns the forwards of `hosts` on or off for `domain` and records the running set; a host
// stays on while another running domain still stands for it. Takes the state lock.
void SetDomainRunning(const StateDir& state, FirewallBackend& firewall, const std::string& domain,
                      const std::set<std::string>& hosts, bool running);
// The same, switching the hosts' forwards through `set_active` (the hook binary's fast path,
// which has no backend object).
using SetHostsActiveFunction = std::function<void(const std::set<std::string>&, bool)>;
void SetDomainRunning(const StateDir& state, const SetHostsActiveFunction& set_active,
                      const std::string& domain, const std::set<std::string>& hosts, bool running);

}  // namespace virtnat
