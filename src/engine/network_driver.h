// The network provider interface: what the engine asks of whatever realises networks
// (external, libvirt, standalone; OVN later). engine/choose_providers.cpp is the one place
// that picks a driver for a network's `provider`.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/vm.h"

namespace virtnat {

// Running VMs: domain name -> the config's hosts it stands for.
using RunningDomains = std::map<std::string, std::set<std::string>>;

struct NetworkLease {
  long long expiry = 0;  // seconds since the epoch; 0 = never
  std::string mac, address, hostname, client_id;
};

// A network as the provider has it (for `network list`).
struct ProviderNetwork {
  std::string name;
  std::string provider;
  bool active = false;
  bool autostart = false;
  std::string bridge;
};

class NetworkDriver {
 public:
  virtual ~NetworkDriver() = default;

  // Called once before anything changes, with the networks about to be realised: a driver
  // that cannot work (its daemon unreachable) throws here.
  virtual void Prepare(const Config&, const std::vector<const Network*>&) {}
  // apply: brings the networks up as the config says; one line per action.
  virtual std::vector<std::string> Realise(const Config& config,
                                           const std::vector<const Network*>& networks) = 0;
  // watch's periodic check: re-creates what went missing (a bridge, a daemon).
  virtual std::vector<std::string> Repair(const Config& config,
                                          const std::vector<const Network*>& networks) {
    return Realise(config, networks);
  }
  // "up", "stopped" is the engine's; a driver says "up" or what is missing.
  virtual std::string State(const Network& network) = 0;

  // `network start|stop|undefine|status|xml NAME`.
  virtual std::vector<std::string> Start(const Config& config, const Network& network) = 0;
  virtual std::vector<std::string> Stop(const Network& network, bool undefine) = 0;
  virtual std::string Status(const Network& network) = 0;
  virtual std::string Definition(const Network& network) = 0;
  // Whether start/stop change which forwards the firewall holds at once (the engine then
  // applies the config again), rather than at the next apply.
  virtual bool StartStopReapplies() const { return false; }

  virtual std::vector<NetworkLease> Leases(const Network& network) = 0;
  // Networks the provider has, the config's or not (for `network list`).
  virtual std::vector<ProviderNetwork> ListNetworks() { return {}; }
  // Things an admin should fix (printed by apply).
  virtual std::vector<std::string> Warnings(const Config&) { return {}; }
};

// Receives what a VmInventory sees while it follows VMs (watch).
class VmEventSink {
 public:
  virtual ~VmEventSink() = default;
  virtual void Connected() = 0;
  virtual void DomainChanged(const std::string& name, bool started,
                             const std::set<std::string>& macs) = 0;
  virtual void NetworkStarted(const std::string& name) = 0;
  // About every second while connected: a chance to compare the running VMs.
  virtual void Tick() = 0;
  // What the inventory has to say about its connection.
  virtual void Log(const std::string& message) = 0;
};

// Where the VMs are: libvirt's domains.
class VmInventory {
 public:
  virtual ~VmInventory() = default;
  // The running VMs and the hosts each stands for. Throws RuntimeFailure when unreachable.
  virtual RunningDomains Running(const Config& config) = 0;
  // Every VM, running or not, with its interfaces (addresses from the provider's leases where
  // it knows them; no hosts). Throws RuntimeFailure when unreachable.
  virtual std::vector<VmInfo> List() = 0;
  // Follows VM and network events, reconnecting after outages, until `stop`.
  virtual void Follow(VmEventSink& sink, const std::atomic<bool>& stop) = 0;
};

// The drivers for a config (engine/choose_providers.cpp).
struct Providers {
  // In the order apply realises them.
  std::vector<std::pair<NetworkProvider, std::unique_ptr<NetworkDriver>>> drivers;
  std::unique_ptr<VmInventory> vms;
  bool follow_vms = false;  // the config's forwards follow VMs, or it has networks of theirs

  NetworkDriver& For(const Network& network) const;
};

// `libvirt_uri`: the --connect override, or "" for settings.libvirt_uri.
Providers ChooseProviders(const Config& config, const std::string& libvirt_uri);

}  // namespace virtnat
