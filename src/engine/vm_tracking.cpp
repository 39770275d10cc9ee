#include "engine/vm_tracking.h"

#include "base/files.h"

namespace virtnat {

void SetDomainRunning(const StateDir& state, FirewallBackend& firewall, const std::string& domain,
                      const std::set<std::string>& hosts, bool running) {
  SetDomainRunning(
      state,
      [&firewall](const std::set<std::string>& changed, bool active) {
        firewall.SetHostsActive(changed, active);
      },
      domain, hosts, running);
}

void SetDomainRunning(const StateDir& state, const SetHostsActiveFunction& set_active,
                      const std::string& domain, const std::set<std::string>& hosts, bool running) {
  state.Ensure();
  FileLock lock(state.LockPath());
  auto domains = state.ReadRunningDomains();
  if (running)
    domains[domain] = hosts;
  else
    domains.erase(domain);
  // A host stays on while another running domain still stands for it.
  std::set<std::string> still_running;
  for (const auto& [name, names] : domains) still_running.insert(names.begin(), names.end());
  std::set<std::string> changed;
  for (const auto& host : hosts)
    if (running || !still_running.contains(host)) changed.insert(host);
  set_active(changed, running);
  state.WriteRunningDomains(domains);
}

RunningChanges DiffRunningDomains(const RunningDomains& recorded, const RunningDomains& running) {
  RunningChanges changes;
  for (const auto& [name, hosts] : recorded) {
    auto it = running.find(name);
    if (it == running.end() || it->second != hosts) changes.stopped.emplace_back(name, hosts);
  }
  for (const auto& [name, hosts] : running) {
    auto it = recorded.find(name);
    if (it == recorded.end() || it->second != hosts) changes.started.emplace_back(name, hosts);
  }
  return changes;
}

}  // namespace virtnat
