#include "engine/engine.h"

#include <fmt/format.h>

#include "base/errors.h"
#include "base/files.h"
#include "engine/choose_backend.h"
#include "engine/hook_index.h"
#include "plan/vm_hosts.h"

namespace virtnat {

Engine::Engine(StateDir state, std::unique_ptr<FirewallBackend> firewall, Providers providers)
    : state_(std::move(state)), firewall_(std::move(firewall)), providers_(std::move(providers)) {}

Engine Engine::For(const Config& config, const StateDir& state, const std::string& libvirt_uri) {
  Engine engine(state, ChooseFirewallBackend(config.settings.ruleset_name, state),
                ChooseProviders(config, libvirt_uri));
  engine.set_neighbours(ChooseFirewallNeighbours());
  return engine;
}

std::vector<const Network*> Engine::NetworksOf(const Config& config,
                                               const NetworkDriver& driver) const {
  std::vector<const Network*> networks;
  for (const auto& network : config.networks)
    if (&providers_.For(network) == &driver) networks.push_back(&network);
  return networks;
}

Report Engine::Reconcile(const Config& whole_config) {
  Report report;
  std::optional<Config> without_stopped;  // copied only when some network is stopped
  if (auto stopped = state_.ReadStoppedNetworks(); !stopped.empty())
    without_stopped = WithoutNetworks(whole_config, stopped);
  const Config& config = without_stopped ? *without_stopped : whole_config;
  for (const auto& [provider, driver] : providers_.drivers)
    driver->Prepare(config, NetworksOf(config, *driver));
  for (const auto& [provider, driver] : providers_.drivers)
    for (auto& line : driver->Realise(config, NetworksOf(config, *driver)))
      report.lines.push_back(std::move(line));
  if (providers_.vms && config.settings.vm_lifecycle == VmLifecycle::kLibvirt) {
    try {
      state_.WriteRunningDomains(providers_.vms->Running(config));
    } catch (const RuntimeFailure& error) {
      report.warnings.push_back(
          fmt::format("{}; using the running VMs recorded by the hook", error.what()));
    }
  }
  DesiredState desired = BuildDesiredState(config, state_.ReadRunningHosts());
  FirewallChange change = firewall_->Apply(desired);
  std::string name = firewall_->Describe();
  if (change.replaced)
    report.lines.push_back(fmt::format("applied: {} installed ({} elements)", name, change.added));
  else if (change.Changed())
    report.lines.push_back(fmt::format("applied: {}: {} elements added, {} removed", name,
                                       change.added, change.removed));
  else
    report.lines.push_back(fmt::format("no change: {} already matches the config", name));
  firewall_->WriteHostState(desired);
  WriteHookIndex(state_, config);
  if (desired.delegates_firewall) {
    std::string done = firewall_->EnsureShims();
    if (!done.empty()) report.lines.push_back(done);
  }
  EnsureNeighbours(desired, report, "");
  return report;
}

Report Engine::Apply(const Config& config) {
  state_.Ensure();
  FileLock lock(state_.LockPath());
  Report report;
  // apply brings up every network of the config, also those `network stop` stopped.
  for (const auto& name : state_.ReadStoppedNetworks())
    report.lines.push_back(
        fmt::format("network {}: stopped by `virtnat network stop`, started again", name));
  state_.WriteStoppedNetworks({});
  Report done = Reconcile(config);
  report.lines.insert(report.lines.end(), done.lines.begin(), done.lines.end());
  report.warnings = std::move(done.warnings);
  for (const auto& [provider, driver] : providers_.drivers)
    for (auto& warning : driver->Warnings(config)) report.warnings.push_back(std::move(warning));
  WarnIfBlocked(config, report);
  return report;
}

std::string Engine::Render(const Config& config) {
  return firewall_->Render(BuildDesiredState(config, state_.ReadRunningHosts()));
}

FirewallDiff Engine::Diff(const Config& config) {
  return firewall_->Diff(BuildDesiredState(config, state_.ReadRunningHosts()));
}

std::vector<VmInfo> Engine::ListVms(const Config& config) {
  if (!providers_.vms) return {};
  std::vector<VmInfo> vms = providers_.vms->List();
  // Interfaces on a network whose leases the inventory does not know (a standalone network's
  // own dnsmasq): the network's provider tells.
  for (const auto& network : config.networks) {
    std::optional<std::vector<NetworkLease>> leases;
    for (auto& vm : vms)
      for (auto& nic : vm.interfaces) {
        if (!vm.active || !nic.addresses.empty() || nic.bridge.empty() ||
            nic.bridge != network.bridge)
          continue;
        if (!leases) try {
            leases = providers_.For(network).Leases(network);
          } catch (const RuntimeFailure&) {
            leases.emplace();
          }
        auto mac = MacAddress::Parse(nic.mac);
        for (const auto& lease : *leases)
          if (mac && MacAddress::Parse(lease.mac) == mac) nic.addresses.push_back(lease.address);
      }
  }
  for (auto& vm : vms) MatchConfigHosts(config, vm.name, vm.interfaces);
  return vms;
}

std::string Engine::StateOf(const Network& network, const std::set<std::string>& stopped) {
  if (stopped.contains(network.name)) return "stopped";
  return providers_.For(network).State(network);
}

RunningHosts Engine::RunningNow(const Config& config) {
  // The VMs that run now: from libvirt when it can be reached (read only), else as the hook
  // recorded them.
  RunningHosts running;
  bool asked = false;
  if (providers_.vms && config.settings.vm_lifecycle == VmLifecycle::kLibvirt) {
    try {
      for (const auto& [domain, names] : providers_.vms->Running(config))
        running.insert(names.begin(), names.end());
      asked = true;
    } catch (const RuntimeFailure&) {
      // libvirtd is down: the hook's record is the best knowledge there is.
    }
  }
  if (!asked) running = state_.ReadRunningHosts();
  return running;
}

StatusReport Engine::Status(const Config& whole_config) {
  std::set<std::string> stopped = state_.ReadStoppedNetworks();
  // Stopped networks are meant to be out of the firewall: they are no drift.
  const Config config = WithoutNetworks(whole_config, stopped);
  DesiredState desired = BuildDesiredState(config, RunningNow(config));
  StatusReport report;
  report.firewall = firewall_->Describe();
  report.diff = firewall_->Diff(desired);
  std::vector<TrafficCounters> counters = firewall_->ReadCounters(desired);
  for (const auto& network : whole_config.networks)
    report.networks.push_back({network, StateOf(network, stopped), {}});
  for (std::size_t i = 0; i < desired.forwards.size(); ++i) {
    const ForwardState& forward = desired.forwards[i];
    std::string state = report.diff.table_missing ? "not installed"
                        : forward.active          ? "active"
                                                  : "waiting for its VM";
    report.forwards.push_back({forward.forward, state, forward.active && !report.diff.table_missing,
                               !forward.active, true, counters[i]});
  }
  // Networks the host's firewall does not carry: their drivers tell about them and their
  // forwards.
  for (auto& entry : report.networks)
    if (!entry.network.HostFirewalled() && !stopped.contains(entry.network.name)) {
      NetworkDriver& driver = providers_.For(entry.network);
      entry.details = driver.StatusDetails(entry.network);
      for (auto& [forward, state, active, waiting] : driver.ForwardStates(config, entry.network))
        report.forwards.push_back({std::move(forward), state, active, waiting, false, {}});
    }
  for (const auto& forward : whole_config.forwards)
    if (stopped.contains(forward.network))
      report.forwards.push_back({forward, "network stopped", false, false, false, {}});
  MarkBlocked(desired, report);
  return report;
}

Report Engine::Down(const Config& config) {
  Report report;
  std::string name = firewall_->Describe();
  report.lines.push_back(firewall_->Down() ? fmt::format("deleted {}", name)
                                           : fmt::format("{} was not installed", name));
  if (config.DelegatesFirewall() && firewall_->RemoveShims())
    report.lines.push_back("removed the shim rule from libvirt's chain");
  RemoveNeighbours(report);
  for (const auto& [provider, driver] : providers_.drivers)
    for (auto& line : driver->Down(config)) report.lines.push_back(std::move(line));
  return report;
}

Report Engine::Repair(const Config& whole_config, const std::string& reason) {
  Report report;
  state_.Ensure();
  FileLock lock(state_.LockPath());
  // What `virtnat network stop` stopped stays stopped.
  const Config config = WithoutNetworks(whole_config, state_.ReadStoppedNetworks());
  for (const auto& [provider, driver] : providers_.drivers)
    for (const auto& line : driver->Repair(config, NetworksOf(config, *driver)))
      report.lines.push_back(fmt::format("repaired {} ({})", line, reason));
  DesiredState desired = BuildDesiredState(config, state_.ReadRunningHosts());
  FirewallDiff diff = firewall_->Diff(desired);
  if (!diff.InSync()) {
    std::string found = diff.Summary();
    firewall_->Apply(desired);
    firewall_->WriteHostState(desired);
    WriteHookIndex(state_, config);
    report.lines.push_back(
        fmt::format("repaired {} ({}: {})", firewall_->Describe(), reason, found));
  }
  if (desired.delegates_firewall) {
    std::string done = firewall_->EnsureShims();
    if (!done.empty())
      report.lines.push_back(
          fmt::format("repaired {} ({}): {}", firewall_->DescribeShims(), reason, done));
  }
  EnsureNeighbours(desired, report, reason);
  return report;
}

namespace {

const Network& FindConfigNetwork(const Config& config, const std::string& name) {
  const Network* network = config.FindNetwork(name);
  if (!network) throw BadInput(fmt::format("virtnat: no network '{}' in the config", name));
  return *network;
}

// Remembers that `network stop` stopped a network, so that the watch daemon and commands such
// as `forward add` do not start it again behind the admin's back; start forgets it.
void MarkStopped(const StateDir& state, const std::string& network, bool stopped) {
  auto networks = state.ReadStoppedNetworks();
  if (stopped ? !networks.insert(network).second : networks.erase(network) == 0) return;
  state.WriteStoppedNetworks(networks);
}

}  // namespace

Report Engine::NetworkAction(const Config& config, const std::string& action,
                             const std::string& name) {
  const Network& network = FindConfigNetwork(config, name);
  NetworkDriver& driver = providers_.For(network);
  Report report;
  if (action == "undefine") {
    report.lines = driver.Stop(network, /*undefine=*/true);
    return report;
  }
  bool start = action == "start";
  if (!driver.StartStopReapplies()) {
    // Refused (a network virtnat does not define) before anything is recorded.
    if (start) {
      state_.Ensure();
      {
        FileLock lock(state_.LockPath());
        MarkStopped(state_, network.name, false);
      }
      report.lines = driver.Start(config, network);
    } else {
      std::vector<std::string> lines = driver.Stop(network, false);
      state_.Ensure();
      FileLock lock(state_.LockPath());
      MarkStopped(state_, network.name, true);
      report.lines = std::move(lines);
    }
    return report;
  }
  // The network's rules enter or leave the firewall with it: the rest of the config stays
  // applied (Reconcile leaves out stopped networks).
  state_.Ensure();
  FileLock lock(state_.LockPath());
  MarkStopped(state_, network.name, !start);
  if (start) {
    for (auto& line : driver.Start(config, network)) report.lines.push_back(std::move(line));
  } else {
    report.lines = driver.Stop(network, false);
  }
  Report done = Reconcile(config);
  report.lines.insert(report.lines.end(), done.lines.begin(), done.lines.end());
  report.warnings = std::move(done.warnings);
  return report;
}

std::string Engine::NetworkStatusLine(const Config& config, const std::string& name) {
  const Network& network = FindConfigNetwork(config, name);
  return providers_.For(network).Status(network);
}

std::string Engine::NetworkDefinition(const Config& config, const std::string& name) {
  const Network& network = FindConfigNetwork(config, name);
  return providers_.For(network).Definition(network);
}

std::string Engine::VmInterface(const Config& config, const std::string& network_name,
                                const std::string& host_name) {
  const Network& network = FindConfigNetwork(config, network_name);
  for (const auto& host : network.hosts)
    if (host.name == host_name) return providers_.For(network).InterfaceXml(network, host);
  throw BadInput(
      fmt::format("virtnat: no host '{}' on network '{}' in the config", host_name, network_name));
}

std::vector<std::pair<std::string, NetworkLease>> Engine::Leases(const Config& config,
                                                                 const std::string& name) {
  if (!name.empty()) FindConfigNetwork(config, name);
  std::vector<std::pair<std::string, NetworkLease>> leases;
  for (const auto& network : config.networks) {
    if (!name.empty() && network.name != name) continue;
    for (auto& lease : providers_.For(network).Leases(network))
      leases.emplace_back(network.name, std::move(lease));
  }
  return leases;
}

std::vector<NetworkEntry> Engine::ListNetworks(const Config& config) {
  // Providers are asked only when they are there: without them the config's networks list.
  std::vector<ProviderNetwork> known;
  for (const auto& [provider, driver] : providers_.drivers) try {
      for (auto& network : driver->ListNetworks()) known.push_back(std::move(network));
    } catch (const RuntimeFailure&) {
    }
  std::vector<NetworkEntry> entries;
  for (const auto& network : config.networks) {
    NetworkEntry entry{network.name,
                       true,
                       ToString(network.mode),
                       ToString(network.provider),
                       network.bridge,
                       std::nullopt,
                       std::nullopt};
    for (const auto& have : known)
      if (have.name == network.name) {
        entry.active = have.active;
        entry.autostart = have.autostart;
        entry.bridge = have.bridge;
      }
    entries.push_back(std::move(entry));
  }
  for (const auto& have : known)
    if (!config.FindNetwork(have.name))
      entries.push_back(
          {have.name, false, "", have.provider, have.bridge, have.active, have.autostart});
  return entries;
}

}  // namespace virtnat
