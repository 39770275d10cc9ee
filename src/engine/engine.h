// The reconciler: config -> desired state -> the firewall backend and the network providers.
// Every front door (the CLI, the hook, watch) parses its input, calls the engine and prints
// the report it returns; none of them names a backend or a provider.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/firewall_backend.h"
#include "engine/firewall_neighbour.h"
#include "engine/network_driver.h"
#include "engine/vm_tracking.h"
#include "plan/desired_state.h"
#include "state/state_dir.h"

namespace virtnat {

// What an operation did, for the front door to print: lines for stdout, warnings for stderr.
struct Report {
  std::vector<std::string> lines;
  std::vector<std::string> warnings;
};

struct NetworkStatus {
  Network network;
  std::string state;  // "up", "stopped", "down: no bridge B", "degraded: ..."
  // The driver's lines beyond the state (NetworkDriver::StatusDetails).
  std::vector<std::string> details;
};

struct ForwardStatus {
  Forward forward;
  // "active", "blocked", "waiting for its VM", "network stopped", "not installed"
  std::string state;
  bool active = false;   // its packets are forwarded now
  bool waiting = false;  // its VM does not run
  bool counted = false;  // the backend counts it (not for stopped networks)
  TrafficCounters counters;
};

// `virtnat doctor`: the packets virtnat needs the host's firewalls to pass, and the rules that
// drop (or may drop) them, sorted by probe.
struct DoctorReport {
  std::vector<TrafficProbe> probes;
  std::vector<TrafficFinding> findings;
  bool Blocks() const { return !findings.empty(); }
};

struct StatusReport {
  std::string firewall;  // "table inet virtnat"
  FirewallDiff diff;
  std::vector<NetworkStatus> networks;
  std::vector<ForwardStatus> forwards;  // the config's order; stopped networks' last
  // Forwards in state "blocked" (index into `forwards`): the rules that drop their packets.
  std::map<std::size_t, std::vector<TrafficFinding>> blocked;
};

struct NetworkEntry {
  std::string name;
  bool in_config = false;
  std::string mode, provider, bridge;
  std::optional<bool> active, autostart;  // when the provider knows
};

class Engine {
 public:
  Engine(StateDir state, std::unique_ptr<FirewallBackend> firewall, Providers providers);
  // The backend and providers engine/choose_*.cpp pick for `config`. `libvirt_uri`: the
  // --connect override or "".
  static Engine For(const Config& config, const StateDir& state, const std::string& libvirt_uri);

  const StateDir& state() const { return state_; }
  FirewallBackend& firewall() { return *firewall_; }
  // Other tools' firewalls (firewalld, Docker, ufw) whose rules virtnat keeps passable: ensured
  // after each reconcile and repair, removed by down.
  void set_neighbours(FirewallNeighbours neighbours) { neighbours_ = std::move(neighbours); }

  // Everything apply does: networks, running VMs, the firewall in one transaction, the
  // hook's index, the shims; networks `network stop` stopped are left out. The caller holds
  // the state lock.
  Report Reconcile(const Config& config);
  // `virtnat apply`: starts stopped networks again, then Reconcile. Takes the lock.
  Report Apply(const Config& config);
  // `virtnat plan`: the rendered ruleset and what differs from the kernel.
  std::string Render(const Config& config);
  FirewallDiff Diff(const Config& config);
  StatusReport Status(const Config& config);
  Report Down(const Config& config);
  DoctorReport Doctor(const Config& config);
  // watch: re-creates what went missing and reinstalls what drifted; a line per repair.
  Report Repair(const Config& config, const std::string& reason);

  // `network start|stop|undefine NAME`, `network status NAME`, `network xml NAME`.
  Report NetworkAction(const Config& config, const std::string& action, const std::string& name);
  std::string NetworkStatusLine(const Config& config, const std::string& name);
  std::string NetworkDefinition(const Config& config, const std::string& name);
  // `vm interface NETWORK HOST`: the libvirt <interface> that plugs a VM in as HOST.
  std::string VmInterface(const Config& config, const std::string& network,
                          const std::string& host);
  std::vector<std::pair<std::string, NetworkLease>> Leases(const Config& config,
                                                           const std::string& network);
  std::vector<NetworkEntry> ListNetworks(const Config& config);

  // `vm list`: every VM with its interfaces, their addresses (the providers' leases) and the
  // config's host each is.
  std::vector<VmInfo> ListVms(const Config& config);
  // watch: the inventory whose events it follows (null when the config follows no VMs).
  VmInventory* vms_to_follow() { return providers_.follow_vms ? providers_.vms.get() : nullptr; }

 private:
  // The state of one network: "stopped" or what its driver says.
  std::string StateOf(const Network& network, const std::set<std::string>& stopped);
  std::vector<const Network*> NetworksOf(const Config& config, const NetworkDriver& driver) const;
  // The hosts whose VMs run now: libvirt's word when it answers, else the hook's record.
  RunningHosts RunningNow(const Config& config);
  // status: a forward whose packets a rule of another firewall surely drops is "blocked".
  void MarkBlocked(const DesiredState& desired, StatusReport& report);
  DoctorReport DoctorOf(const DesiredState& desired);
  // apply: one warning when rules of other firewalls drop (or may drop) virtnat's traffic.
  void WarnIfBlocked(const Config& config, Report& report);
  // Ensures each neighbour; `reason` "" for apply, else repair's wording.
  void EnsureNeighbours(const DesiredState& desired, Report& report, const std::string& reason);
  void RemoveNeighbours(Report& report);

  StateDir state_;
  std::unique_ptr<FirewallBackend> firewall_;
  Providers providers_;
  FirewallNeighbours neighbours_;
};

}  // namespace virtnat
