#include "watch/watcher.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "base/errors.h"
#include "base/files.h"
#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "engine/choose_backend.h"
#include "engine/engine.h"
#include "engine/hook_index.h"

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

class Watcher : public VmEventSink {
 public:
  explicit Watcher(const WatchOptions& options) : options_(options), state_(options.state_dir) {}

  int Run() {
    Load();
    Engine engine = EngineNow();
    int events = engine.firewall().OpenChangeEvents();
    // VMs are followed through the inventory of the engine chosen at start.
    std::thread vm_thread([this, &engine] {
      if (VmInventory* vms = engine.vms_to_follow()) {
        inventory_ = vms;
        vms->Follow(*this, stop_requested);
      }
    });
    Repair("start");
    auto last_check = std::chrono::steady_clock::now();
    auto started = last_check;
    while (!stop_requested) {
      pollfd poll_fd{events, POLLIN, 0};
      int ready = poll(&poll_fd, 1, 200);
      if (ready > 0) {
        // Let a burst (a flush, a whole transaction) finish before looking.
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        engine.firewall().DrainChangeEvents(events);
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
    vm_thread.join();
    close(events);
    Log("stopped");
    return 0;
  }

  // VmEventSink, called from the inventory's thread.
  void Connected() override {
    connected_at_ = last_resync_ = std::chrono::steady_clock::now();
    ResyncRunningDomains("found on connecting to libvirt");
    Repair("libvirt connected");
  }

  // libvirt sends no event for a domain that it finds dead while it reconnects to its
  // domains after a restart (that runs after it accepts clients), nor for anything that
  // happens while nobody is connected: the running VMs are read again every second for a
  // while after connecting, then with every periodic check.
  void Tick() override {
    auto now = std::chrono::steady_clock::now();
    double since_connect = std::chrono::duration<double>(now - connected_at_).count();
    double since_resync = std::chrono::duration<double>(now - last_resync_).count();
    if (since_connect < 15 || since_resync >= options_.recheck_seconds) {
      last_resync_ = now;
      ResyncRunningDomains("found in libvirt's list of running domains");
    }
  }

  void NetworkStarted(const std::string& name) override {
    Repair(fmt::format("libvirt network {} started", name));
  }

  void Log(const std::string& message) override { virtnat::Log(message); }

  void DomainChanged(const std::string& name, bool started,
                     const std::set<std::string>& macs) override {
    std::lock_guard guard(mutex_);
    HookIndex index = BuildHookIndex(*config_);
    if (!index.follow_vms) return;
    try {
      auto hosts = HostsOfDomain(index, name, macs);
      auto recorded = state_.ReadRunningDomains();
      auto it = recorded.find(name);
      // Already recorded as it is now (by the hook, or by a look at libvirt's running
      // domains just before the event came): nothing to do.
      if (started && it != recorded.end() && it->second == hosts) return;
      if (!started && it == recorded.end()) return;
      // A transient domain's XML is gone once it stopped: the running set knows its hosts.
      if (!started) hosts.insert(it->second.begin(), it->second.end());
      if (hosts.empty()) return;
      auto firewall = ChooseFirewallBackend(index.ruleset_name, state_);
      SetDomainRunning(state_, *firewall, name, hosts, started);
      virtnat::Log(fmt::format("domain {} {}: forwards {}", name, started ? "started" : "stopped",
                               started ? "active" : "removed"));
    } catch (const std::exception& error) {
      virtnat::Log(fmt::format("domain {}: {}", name, error.what()));
    }
  }

 private:
  Engine EngineNow() {
    std::lock_guard guard(mutex_);
    return Engine::For(*config_, state_, options_.libvirt_uri);
  }

  void Load() {
    std::lock_guard guard(mutex_);
    Diagnostics diagnostics;
    try {
      config_ = std::make_unique<Config>(LoadConfig(options_.config_path, diagnostics));
      virtnat::Log(fmt::format("config {} loaded: {} networks, {} forwards",
                               options_.config_path.string(), config_->networks.size(),
                               config_->forwards.size()));
    } catch (const std::exception& error) {
      if (!config_) throw;
      virtnat::Log(fmt::format("config not reloaded, keeping the previous one: {}", error.what()));
      return;
    }
    // What domain events (and the hook, when installed) turn on and off: this config's hosts.
    try {
      state_.Ensure();
      FileLock lock(state_.LockPath());
      Config config = WithoutNetworks(*config_, state_.ReadStoppedNetworks());
      Engine engine = Engine::For(config, state_, options_.libvirt_uri);
      engine.firewall().WriteHostState(BuildDesiredState(config, state_.ReadRunningHosts()));
      WriteHookIndex(state_, config);
    } catch (const std::exception& error) {
      virtnat::Log(fmt::format("cannot write the hook's state: {}", error.what()));
    }
  }

  // Compares the kernel with the config and repairs what differs. Our own repair triggers
  // events too; the next check finds the kernel in sync and does nothing, so there is no loop.
  void Repair(const std::string& reason) {
    std::lock_guard guard(mutex_);
    try {
      Engine engine = Engine::For(*config_, state_, options_.libvirt_uri);
      for (const auto& line : engine.Repair(*config_, reason).lines) virtnat::Log(line);
    } catch (const std::exception& error) {
      virtnat::Log(fmt::format("repair failed ({}): {}", reason, error.what()));
    }
  }

  // Compares the running VMs the inventory reports with the running set and turns forwards on
  // or off for each domain that differs, as its events would have.
  void ResyncRunningDomains(const std::string& reason) {
    std::lock_guard guard(mutex_);
    if (!inventory_) return;
    try {
      HookIndex index = BuildHookIndex(*config_);
      if (!index.follow_vms) return;
      auto running = inventory_->Running(*config_);
      std::map<std::string, std::set<std::string>> recorded;
      {
        state_.Ensure();
        FileLock lock(state_.LockPath());
        recorded = state_.ReadRunningDomains();
      }
      RunningChanges changes = DiffRunningDomains(recorded, running);
      auto firewall = ChooseFirewallBackend(index.ruleset_name, state_);
      for (const auto& [name, hosts] : changes.stopped) {
        SetDomainRunning(state_, *firewall, name, hosts, false);
        virtnat::Log(fmt::format("domain {} stopped ({}): forwards removed", name, reason));
      }
      for (const auto& [name, hosts] : changes.started) {
        SetDomainRunning(state_, *firewall, name, hosts, true);
        virtnat::Log(fmt::format("domain {} started ({}): forwards active", name, reason));
      }
    } catch (const std::exception& error) {
      virtnat::Log(fmt::format("cannot read the running VMs: {}", error.what()));
    }
  }

  WatchOptions options_;
  StateDir state_;
  VmInventory* inventory_ = nullptr;  // set by the VM thread before it follows
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
