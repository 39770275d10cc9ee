#include "watch/watcher.h"

#include <fmt/format.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "backends/nftables/libvirt_shim.h"
#include "backends/nftables/nftables_firewall.h"
#include "hook/hook.h"
#include "engine/hook_index.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/libvirt_client.h"
#include "providers/libvirt/network_manager.h"
#include "plan/desired_state.h"
#include "providers/standalone/standalone_network.h"
#include "base/files.h"
#include "providers/libvirt/domain_events.h"

namespace virtnat {
namespace {

std::atomic<bool> stop_requested{false};
std::atomic<bool> reload_requested{false};

void OnStop(int) {
  stop_requested = true;
}
void OnReload(int) {
  reload_requested = true;
}

void Log(const std::string& message) {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&now));
  std::cerr << stamp << " virtnat watch: " << message << std::endl;
  syslog(LOG_NOTICE, "%s", message.c_str());
}

// A socket that receives every nftables change of this network namespace.
int OpenNftablesEvents() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
  if (fd < 0) throw RuntimeFailure("cannot open a netfilter netlink socket");
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  int group = NFNLGRP_NFTABLES;
  int size = 1 << 20;  // a flush of a large ruleset is a burst of events
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    close(fd);
    throw RuntimeFailure("cannot subscribe to nftables events");
  }
  return fd;
}

// libvirt prints every error to stderr by default; watch logs what matters itself, once.
void IgnoreLibvirtError(void*, virErrorPtr) {}

std::string LastLibvirtError() {
  virErrorPtr error = virGetLastError();
  return error && error->message ? error->message : "unknown error";
}

void Drain(int fd) {
  char buffer[65536];
  while (recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
  }
}

class Watcher {
 public:
  explicit Watcher(const WatchOptions& options) : options_(options), state_(options.state_dir) {}

  int Run() {
    Load();
    int events = OpenNftablesEvents();
    std::thread libvirt_thread([this] { LibvirtLoop(); });
    Repair("start");
    auto last_check = std::chrono::steady_clock::now();
    auto started = last_check;
    while (!stop_requested) {
      pollfd poll_fd{events, POLLIN, 0};
      int ready = poll(&poll_fd, 1, 200);
      if (ready > 0) {
        // Let a burst (a flush, a whole transaction) finish before looking.
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        Drain(events);
        Repair("nftables changed");
        last_check = std::chrono::steady_clock::now();
      }
      auto now = std::chrono::steady_clock::now();
      if (reload_requested.exchange(false)) {
        Load();
        Repair("config reloaded");
        last_check = now;
      }
      if (std::chrono::duration<double>(now - last_check).count() >= options_.recheck_seconds) {
        Repair("periodic check");
        last_check = now;
      }
      if (options_.run_seconds > 0 &&
          std::chrono::duration<double>(now - started).count() >= options_.run_seconds)
        stop_requested = true;
    }
    libvirt_thread.join();
    close(events);
    Log("stopped");
    return 0;
  }

 private:
  void Load() {
    std::lock_guard guard(mutex_);
    Diagnostics diagnostics;
    try {
      config_ = std::make_unique<Config>(LoadConfig(options_.config_path, diagnostics));
      Log(fmt::format("config {} loaded: {} networks, {} forwards", options_.config_path.string(),
                      config_->networks.size(), config_->forwards.size()));
    } catch (const std::exception& error) {
      if (!config_) throw;
      Log(fmt::format("config not reloaded, keeping the previous one: {}", error.what()));
      return;
    }
    // What domain events (and the hook, when installed) turn on and off: this config's hosts.
    try {
      state_.Ensure();
      FileLock lock(state_.LockPath());
      WriteHookState(state_, WithoutNetworks(*config_, state_.ReadStoppedNetworks()));
    } catch (const std::exception& error) {
      Log(fmt::format("cannot write the hook's state: {}", error.what()));
    }
  }

  // Compares the kernel with the config and repairs what differs. Our own repair triggers
  // events too; the next check finds the kernel in sync and does nothing, so there is no loop.
  void Repair(const std::string& reason) {
    std::lock_guard guard(mutex_);
    try {
      state_.Ensure();
      FileLock lock(state_.LockPath());
      // What `virtnat network stop` stopped stays stopped.
      const Config config = WithoutNetworks(*config_, state_.ReadStoppedNetworks());
      // Standalone networks: a bridge someone deleted, a dnsmasq that died.
      for (const auto& network : config.networks)
        if (network.provider == NetworkProvider::kStandalone)
          for (const auto& line : StartStandaloneNetwork(network, StandalonePathsFromEnvironment(),
                                                         StandaloneNeedsForwarding(network)))
            Log(fmt::format("repaired {} ({})", line, reason));
      DesiredState desired = BuildDesiredState(config, state_.ReadRunningHosts());
      NftablesFirewall firewall(config_->settings.table, state_);
      FirewallDiff diff = firewall.Diff(desired);
      if (!diff.InSync()) {
        std::string found = diff.Summary();
        firewall.Apply(desired);
        WriteHookState(state_, config);
        Log(fmt::format("repaired table inet {} ({}: {})", config_->settings.table, reason, found));
      }
      if (config.NeedsLibvirtShim()) {
        Nftables nft;
        std::string done = LibvirtShim(nft).Ensure();
        if (!done.empty()) Log(fmt::format("repaired the libvirt shim ({}): {}", reason, done));
      }
    } catch (const std::exception& error) {
      Log(fmt::format("repair failed ({}): {}", reason, error.what()));
    }
  }

  // Follows VMs through libvirt's events, reconnecting when libvirtd restarts.
  void LibvirtLoop() {
    {
      std::lock_guard guard(mutex_);
      if (!ConfigNeedsLibvirt(*config_)) return;
    }
    virEventRegisterDefaultImpl();
    std::string uri = options_.libvirt_uri;
    if (uri.empty()) {
      std::lock_guard guard(mutex_);
      uri = config_->settings.libvirt_uri;
    }
    virSetErrorFunc(nullptr, IgnoreLibvirtError);
    bool said_unreachable = false;
    while (!stop_requested) {
      virConnectPtr connection = virConnectOpen(uri.c_str());
      if (!connection) {
        // Once per outage, not every retry.
        if (!said_unreachable)
          Log(fmt::format("cannot connect to {} ({}); retrying every 2 s, nftables repairs go on",
                          uri, LastLibvirtError()));
        said_unreachable = true;
        for (int i = 0; i < 20 && !stop_requested; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      said_unreachable = false;
      Log(fmt::format("connected to {}", uri));
      int domain_callback = virConnectDomainEventRegisterAny(
          connection, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
          VIR_DOMAIN_EVENT_CALLBACK(&Watcher::OnDomainEvent), this, nullptr);
      int network_callback = virConnectNetworkEventRegisterAny(
          connection, nullptr, VIR_NETWORK_EVENT_ID_LIFECYCLE,
          VIR_NETWORK_EVENT_CALLBACK(&Watcher::OnNetworkEvent), this, nullptr);
      virConnectSetKeepAlive(connection, 2, 3);
      connection_ = connection;
      connected_at_ = last_resync_ = std::chrono::steady_clock::now();
      ResyncRunningDomains("found on connecting to libvirt");
      Repair("libvirt connected");
      // libvirt sends no event for a domain that it finds dead while it reconnects to its
      // domains after a restart (that runs after it accepts clients), nor for anything that
      // happens while nobody is connected: the running VMs are read again every second for
      // a while after connecting, then with every periodic check.
      int timer = virEventAddTimeout(1000, &Watcher::OnTimer, this, nullptr);
      while (!stop_requested && virConnectIsAlive(connection) == 1) {
        // Wakes at least every second (the timer).
        virEventRunDefaultImpl();
      }
      if (timer >= 0) virEventRemoveTimeout(timer);
      connection_ = nullptr;
      if (domain_callback >= 0) virConnectDomainEventDeregisterAny(connection, domain_callback);
      if (network_callback >= 0) virConnectNetworkEventDeregisterAny(connection, network_callback);
      virConnectClose(connection);
      if (!stop_requested) Log("lost the connection to libvirt; reconnecting");
    }
  }

  static void OnTimer(int, void* opaque) {
    auto* self = static_cast<Watcher*>(opaque);
    auto now = std::chrono::steady_clock::now();
    double since_connect = std::chrono::duration<double>(now - self->connected_at_).count();
    double since_resync = std::chrono::duration<double>(now - self->last_resync_).count();
    if (since_connect < 15 || since_resync >= self->options_.recheck_seconds) {
      self->last_resync_ = now;
      self->ResyncRunningDomains("found in libvirt's list of running domains");
    }
  }

  // Compares the running VMs libvirt reports with the running set and turns forwards on or
  // off for each domain that differs, as its events would have.
  void ResyncRunningDomains(const std::string& reason) {
    if (!connection_) return;
    std::lock_guard guard(mutex_);
    try {
      HookIndex index = BuildHookIndex(*config_);
      if (!index.follow_vms) return;
      LibvirtClient client(connection_);
      auto running = RunningDomainsFromLibvirt(client, *config_);
      std::map<std::string, std::set<std::string>> recorded;
      {
        state_.Ensure();
        FileLock lock(state_.LockPath());
        recorded = state_.ReadRunningDomains();
      }
      RunningChanges changes = DiffRunningDomains(recorded, running);
      for (const auto& [name, hosts] : changes.stopped) {
        SetDomainRunning(state_, index.table, name, hosts, false);
        Log(fmt::format("domain {} stopped ({}): forwards removed", name, reason));
      }
      for (const auto& [name, hosts] : changes.started) {
        SetDomainRunning(state_, index.table, name, hosts, true);
        Log(fmt::format("domain {} started ({}): forwards active", name, reason));
      }
    } catch (const std::exception& error) {
      Log(fmt::format("cannot read the running VMs: {}", error.what()));
    }
  }

  static int OnDomainEvent(virConnectPtr, virDomainPtr domain, int event, int, void* opaque) {
    auto* self = static_cast<Watcher*>(opaque);
    DomainChange change = DomainChangeOf(event);
    if (change == DomainChange::kNone) return 0;
    bool started = change == DomainChange::kStarted;
    std::string name = virDomainGetName(domain);
    std::set<std::string> macs;
    if (char* xml = virDomainGetXMLDesc(domain, 0)) {
      try {
        macs = ParseDomainXml(xml, "libvirt").macs;
      } catch (const std::exception&) {
      }
      free(xml);
    }
    std::lock_guard guard(self->mutex_);
    HookIndex index = BuildHookIndex(*self->config_);
    if (!index.follow_vms) return 0;
    try {
      auto hosts = HostsOfDomain(index, name, macs);
      auto recorded = self->state_.ReadRunningDomains();
      auto it = recorded.find(name);
      // Already recorded as it is now (by the hook, or by a look at libvirt's running
      // domains just before the event came): nothing to do.
      if (started && it != recorded.end() && it->second == hosts) return 0;
      if (!started && it == recorded.end()) return 0;
      // A transient domain's XML is gone once it stopped: the running set knows its hosts.
      if (!started) hosts.insert(it->second.begin(), it->second.end());
      if (hosts.empty()) return 0;
      SetDomainRunning(self->state_, index.table, name, hosts, started);
      Log(fmt::format("domain {} {}: forwards {}", name, started ? "started" : "stopped",
                      started ? "active" : "removed"));
    } catch (const std::exception& error) {
      Log(fmt::format("domain {}: {}", name, error.what()));
    }
    return 0;
  }

  static int OnNetworkEvent(virConnectPtr, virNetworkPtr network, int event, int, void* opaque) {
    if (event != VIR_NETWORK_EVENT_STARTED) return 0;
    auto* self = static_cast<Watcher*>(opaque);
    self->Repair(fmt::format("libvirt network {} started", virNetworkGetName(network)));
    return 0;
  }

  WatchOptions options_;
  StateDir state_;
  virConnectPtr connection_ = nullptr;  // only used from the libvirt thread
  std::chrono::steady_clock::time_point connected_at_, last_resync_;
  std::unique_ptr<Config> config_;
  std::recursive_mutex mutex_;
};

}  // namespace

int RunWatch(const WatchOptions& options) {
  struct sigaction stop {};
  stop.sa_handler = OnStop;
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);
  struct sigaction reload {};
  reload.sa_handler = OnReload;
  sigaction(SIGHUP, &reload, nullptr);
  openlog("virtnat-watch", LOG_PID, LOG_DAEMON);
  return Watcher(options).Run();
}

}  // namespace virtnat
