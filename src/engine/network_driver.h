// The network provider interface: what the engine asks of whatever realises networks
// (external, libvirt, standalone, ovn). engine/choose_providers.cpp is the one place
// that picks a driver for a network's `provider`.
#pragma once

#include <atomic>
#include <cctype>
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

// A forward the network's driver realises itself (its network is not HostFirewalled), as
// `status` shows it.
struct ProviderForward {
  Forward forward;
  std::string state;     // "active", "waiting for its VM", "not installed", ...
  bool active = false;   // its packets are forwarded now
  bool waiting = false;  // its VM does not run (anywhere)
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

  // For networks the host's firewall does not carry (Network::HostFirewalled() is false), the
  // driver realises the forwards to their hosts too: their state for `status`, in the config's
  // order, and lines about the network beyond its state (where its ports and gateway run).
  virtual std::vector<ProviderForward> ForwardStates(const Config&, const Network&) { return {}; }
  virtual std::vector<std::string> StatusDetails(const Network&) { return {}; }
  // `virtnat down`: removes what the driver made where down has to; by default nothing (the
  // host's own networks stay up after down).
  virtual std::vector<std::string> Down(const Config&) { return {}; }
  // `virtnat vm interface NETWORK HOST`: the libvirt <interface> that plugs a VM into the
  // network as HOST; by default a bridge interface on the network's bridge with HOST's MAC.
  virtual std::string InterfaceXml(const Network& network, const Host& host) {
    std::string mac = host.mac == MacAddress{} ? "" : host.mac.ToString();
    for (char& c : mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "<interface type='bridge'>\n" +
           (mac.empty() ? std::string() : "  <mac address='" + mac + "'/>\n") +
           "  <source bridge='" + network.bridge + "'/>\n  <model type='virtio'/>\n</interface>\n";
  }
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
