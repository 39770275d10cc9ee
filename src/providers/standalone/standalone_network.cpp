#include "providers/standalone/standalone_network.h"

#include <fmt/format.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include "base/errors.h"
#include "providers/standalone/link_manager.h"
#include "providers/standalone/link_names.h"
#include "base/files.h"
#include "base/process.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

// Collects the lines of one network's actions.
class ActionLog {
 public:
  explicit ActionLog(const Network& network) : network_(network.name) {}
  void Add(const std::string& text) {
    lines_.push_back(fmt::format("network {}: {}", network_, text));
  }
  std::vector<std::string> Take() { return std::move(lines_); }

 private:
  std::string network_;
  std::vector<std::string> lines_;
};

// "network X: " before a failure's message, once.
std::string WithNetwork(const Network& network, const std::string& message) {
  std::string prefix = fmt::format("network {}: ", network.name);
  return message.starts_with(prefix) ? message : prefix + message;
}

std::optional<int> ReadPid(const fs::path& pid_file) {
  auto text = ReadFileIfExists(pid_file);
  if (!text) return std::nullopt;
  int pid = 0;
  const char* begin = text->data();
  const char* end = begin + text->size();
  while (begin < end && std::isspace(static_cast<unsigned char>(*begin))) ++begin;
  auto [stop, error] = std::from_chars(begin, end, pid);
  if (error != std::errc{} || stop == begin || pid <= 1) return std::nullopt;
  return pid;
}

// Whether `pid` is a live dnsmasq started with `--conf-file=<conf>`.
bool IsOurDnsmasq(int pid, const fs::path& conf) {
  fs::path proc = fs::path("/proc") / std::to_string(pid);
  std::error_code error;
  std::string exe = fs::read_symlink(proc / "exe", error).string();
  if (error) return false;  // gone, or a zombie
  // After a package upgrade the running binary shows as "/usr/sbin/dnsmasq (deleted)".
  if (exe != kDnsmasqPath && exe != std::string(kDnsmasqPath) + " (deleted)") return false;
  auto cmdline = ReadFileIfExists(proc / "cmdline");
  if (!cmdline) return false;
  std::string wanted = "--conf-file=" + conf.string();
  std::size_t start = 0;
  while (start < cmdline->size()) {
    std::size_t end = cmdline->find('\0', start);
    if (end == std::string::npos) end = cmdline->size();
    if (cmdline->compare(start, end - start, wanted) == 0) return true;
    start = end + 1;
  }
  return false;
}

// dnsmasq is not our child (it daemonizes), so poll /proc until it is gone.
bool WaitUntilGone(int pid, const fs::path& conf, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (IsOurDnsmasq(pid, conf)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void StopDnsmasq(const Network& network, const StandalonePaths& paths, int pid) {
  fs::path conf = paths.ConfFile(network.name);
  kill(pid, SIGTERM);
  if (!WaitUntilGone(pid, conf, std::chrono::seconds(5))) {
    kill(pid, SIGKILL);
    if (!WaitUntilGone(pid, conf, std::chrono::seconds(2)))
      throw RuntimeFailure(
          fmt::format("network {}: dnsmasq (pid {}) does not stop", network.name, pid));
  }
  std::error_code ignored;
  fs::remove(paths.PidFile(network.name), ignored);
}

int StartDnsmasq(const Network& network, const StandalonePaths& paths) {
  std::error_code ignored;
  fs::remove(paths.PidFile(network.name), ignored);  // stale: its process is gone
  // dnsmasq forks into the background once it has bound its sockets and written its pid
  // file; the foreground process's status tells whether that worked.
  ProcessResult result =
      RunProgram({kDnsmasqPath, "--conf-file=" + paths.ConfFile(network.name).string()});
  if (result.exit_status != 0) {
    std::string output = result.output;
    while (!output.empty() && output.back() == '\n') output.pop_back();
    throw RuntimeFailure(fmt::format("network {}: dnsmasq did not start (exit {}): {}",
                                     network.name, result.exit_status, output));
  }
  auto pid = RunningDnsmasqPid(network, paths);
  if (!pid)
    throw RuntimeFailure(fmt::format("network {}: dnsmasq started but {} names no dnsmasq",
                                     network.name, paths.PidFile(network.name).string()));
  return *pid;
}

// Creates a folder (and its parents) readable by dnsmasq after it drops root.
void EnsureFolder(const fs::path& folder) {
  std::error_code error;
  if (fs::is_directory(folder, error)) return;
  fs::create_directories(folder, error);
  if (error)
    throw RuntimeFailure(fmt::format("cannot create {}: {}", folder.string(), error.message()));
  chmod(folder.c_str(), 0755);
}

// dnsmasq reads its hosts files after dropping root: every folder above them must let its
// user in, or DHCP and DNS silently lose the static hosts. Fail loudly instead.
void CheckDnsmasqCanEnter(const fs::path& folder) {
  passwd* user = getpwnam(kDnsmasqUser);
  if (user == nullptr)
    throw RuntimeFailure(
        fmt::format("there is no user {} for dnsmasq (dnsmasq-base creates it)", kDnsmasqUser));
  for (fs::path path = fs::absolute(folder);; path = path.parent_path()) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0)
      throw RuntimeFailure(fmt::format("cannot stat {}", path.string()));
    mode_t needed = info.st_uid == user->pw_uid   ? S_IXUSR
                    : info.st_gid == user->pw_gid ? S_IXGRP
                                                  : S_IXOTH;
    if ((info.st_mode & needed) == 0)
      throw RuntimeFailure(fmt::format(
          "dnsmasq runs as user {} and cannot enter {} (mode {:04o}): it could not read the "
          "hosts files under {}",
          kDnsmasqUser, path.string(), info.st_mode & 07777, folder.string()));
    if (path == path.root_path()) break;
  }
}

// Writes `content` to `path` unless it holds exactly that; returns whether it wrote.
bool UpdateFile(const fs::path& path, const std::string& content) {
  if (ReadFileIfExists(path) == content) return false;
  WriteFileAtomically(path, content, 0644);
  return true;
}

// The folders dnsmasq needs; checked before any link changes, so a bad lib_dir changes nothing.
void PrepareDnsmasqFolders(const Network& network, const StandalonePaths& paths) {
  EnsureFolder(paths.NetworkDir(network.name));
  EnsureFolder(paths.run_dir);
  CheckDnsmasqCanEnter(paths.NetworkDir(network.name));
}

void EnsureDnsmasq(const Network& network, const StandalonePaths& paths, ActionLog& log) {
  DnsmasqFiles files = RenderDnsmasqFiles(network, paths);
  // Hosts first: a dnsmasq started below must find them.
  bool hosts_changed = UpdateFile(paths.HostsFile(network.name), files.hostsfile);
  hosts_changed = UpdateFile(paths.AddnHostsFile(network.name), files.addnhosts) || hosts_changed;
  bool conf_changed = UpdateFile(paths.ConfFile(network.name), files.conf);
  auto running = RunningDnsmasqPid(network, paths);
  if (!running) {
    log.Add(fmt::format("dnsmasq started (pid {})", StartDnsmasq(network, paths)));
  } else if (conf_changed) {
    StopDnsmasq(network, paths, *running);
    int pid = StartDnsmasq(network, paths);
    log.Add(
        fmt::format("dnsmasq configuration changed: restarted (pid {}, was {})", pid, *running));
  } else if (hosts_changed) {
    // dnsmasq re-reads dhcp-hostsfile and addn-hosts on SIGHUP and keeps its leases.
    if (kill(*running, SIGHUP) != 0)
      throw RuntimeFailure(
          fmt::format("network {}: cannot signal dnsmasq (pid {})", network.name, *running));
    log.Add(fmt::format("hosts changed: dnsmasq reloaded (SIGHUP, pid {})", *running));
  }
}

// The bridge's IPv6 address (address6) and no other global one: virtnat owns the bridge, and
// an IPv4-only network's bridge keeps only the kernel's link-local address.
void EnsureIpv6Address(const Network& network, LinkManager& links, ActionLog& log) {
  if (network.DualStack()) {
    // A kernel booted with IPv6 disabled by default leaves new links without it; and the host
    // must never take a route from a guest's router advertisement on the bridge.
    auto disabled = ReadIpv6Setting(network.bridge, "disable_ipv6");
    if (!disabled)
      throw RuntimeFailure(
          fmt::format("the kernel has no IPv6 on {} (no /proc/sys/net/ipv6)", network.bridge));
    if (*disabled != "0") {
      WriteIpv6Setting(network.bridge, "disable_ipv6", "0");
      log.Add(fmt::format("IPv6 enabled on {}", network.bridge));
    }
    if (ReadIpv6Setting(network.bridge, "accept_ra").value_or("0") != "0")
      WriteIpv6Setting(network.bridge, "accept_ra", "0");
  }
  bool present = false;
  for (const auto& address : links.Ipv6Addresses(network.bridge)) {
    if (network.DualStack() && address.address == network.address6->address &&
        address.length == network.address6->length) {
      present = true;
      continue;
    }
    links.DeleteIpv6Address(network.bridge, address);
    log.Add(fmt::format("address {} removed from {} (not in the config)", address.ToString(),
                        network.bridge));
  }
  if (network.DualStack() && !present) {
    links.AddIpv6Address(network.bridge, *network.address6);
    log.Add(fmt::format("address {} set on {}", network.address6->ToString(), network.bridge));
  }
}

// IPv6 forwarding turns off the router advertisements of every interface with accept_ra = 1:
// a host whose uplink learns its routes from RAs would lose them when they expire. Refuse
// before anything changes, as libvirt does, and say how to keep them.
void CheckIpv6ForwardingIsSafe() {
  LinkManager links;
  auto interfaces = links.InterfacesDependingOnRouterAdvertisements();
  if (interfaces.empty()) return;
  std::string names, settings;
  for (const auto& name : interfaces) {
    names += (names.empty() ? "" : ", ") + name;
    settings += fmt::format("{}net.ipv6.conf.{}.accept_ra=2", settings.empty() ? "" : " ", name);
  }
  throw RuntimeFailure(fmt::format(
      "IPv6 forwarding is needed, and then the kernel would ignore the router advertisements "
      "that the IPv6 routes of {} come from (accept_ra = 1): set {} (sysctl) and apply again",
      names, settings));
}

void EnsureLinks(const Network& network, LinkManager& links, ActionLog& log) {
  MacAddress mac = StableBridgeMac(network.name);
  std::string mac_text = LowerCaseMac(mac);
  auto bridge_before = links.Find(network.bridge);
  links.EnsureBridge(network.bridge, mac);
  if (!bridge_before)
    log.Add(fmt::format("bridge {} created (MAC {}, STP on)", network.bridge, mac_text));
  else if (bridge_before->mac != mac)
    log.Add(fmt::format("bridge {}: MAC set to {}", network.bridge, mac_text));
  int bridge_index = links.Find(network.bridge).value_or(LinkFacts{}).index;

  // The dummy NIC keeps a port on the bridge at all times, with the same MAC, as libvirt
  // does: the bridge keeps its carrier and its MAC whatever guests come and go.
  std::string nic = DummyNicName(network.bridge);
  auto nic_before = links.Find(nic);
  links.EnsureDummy(nic, mac);
  if (!nic_before)
    log.Add(fmt::format("dummy NIC {} created (MAC {}{})", nic, mac_text,
                        links.Find(nic).value_or(LinkFacts{}).kind == "tun"
                            ? "; a TAP device: this kernel has no dummy driver"
                            : ""));
  else if (nic_before->mac != mac)
    log.Add(fmt::format("dummy NIC {}: MAC set to {}", nic, mac_text));
  LinkFacts nic_now = links.Find(nic).value_or(LinkFacts{});
  if (nic_now.master_index != bridge_index) {
    links.SetMaster(nic, network.bridge);
    log.Add(fmt::format("dummy NIC {} enslaved to {}", nic, network.bridge));
  }
  if (!nic_now.up) links.SetUp(nic);

  if (network.has_address) {
    bool present = false;
    for (const auto& address : links.Ipv4Addresses(network.bridge)) {
      if (address.address == network.address.address && address.length == network.address.length) {
        present = true;
        continue;
      }
      // virtnat owns this bridge: an address not in the config is an older config's.
      links.DeleteIpv4Address(network.bridge, address);
      log.Add(fmt::format("address {} removed from {} (not in the config)", address.ToString(),
                          network.bridge));
    }
    if (!present) {
      links.AddIpv4Address(network.bridge, network.address);
      log.Add(fmt::format("address {} set on {}", network.address.ToString(), network.bridge));
    }
  }

  if (network.has_address) EnsureIpv6Address(network, links, log);

  if (network.mode == NetworkMode::kBridged && !network.uplink.empty()) {
    auto uplink = links.Find(network.uplink);
    if (!uplink)
      throw RuntimeFailure(
          fmt::format("network {}: uplink {} does not exist", network.name, network.uplink));
    if (uplink->master_index != bridge_index) {
      links.SetMaster(network.uplink, network.bridge);
      log.Add(fmt::format("uplink {} enslaved to {}", network.uplink, network.bridge));
    }
    if (!uplink->up) links.SetUp(network.uplink);
  }

  if (!links.Find(network.bridge).value_or(LinkFacts{}).up) {
    links.SetUp(network.bridge);
    if (bridge_before) log.Add(fmt::format("bridge {} was down: brought up", network.bridge));
  }
}

}  // namespace

bool StandaloneNeedsForwarding(const Network& network) {
  return network.mode == NetworkMode::kNat || network.mode == NetworkMode::kRouted ||
         network.mode == NetworkMode::kOpen;
}

std::vector<std::string> StartStandaloneNetwork(const Network& network,
                                                const StandalonePaths& paths,
                                                bool enable_forwarding) {
  ActionLog log(network);
  paths.NetworkDir(network.name);  // rejects an unusable name before anything changes
  bool serves_dhcp = network.ServesDhcp() && network.has_address;
  try {
    if (serves_dhcp) PrepareDnsmasqFolders(network, paths);
    bool enable_forwarding6 =
        enable_forwarding && network.DualStack() && network.has_address && !Ipv6ForwardingEnabled();
    if (enable_forwarding6) CheckIpv6ForwardingIsSafe();
    LinkManager links;
    EnsureLinks(network, links, log);
    if (enable_forwarding && !Ipv4ForwardingEnabled()) {
      EnableIpv4Forwarding();
      log.Add("IPv4 forwarding enabled");
    }
    if (enable_forwarding6) {
      EnableIpv6Forwarding();
      log.Add("IPv6 forwarding enabled");
    }
    if (serves_dhcp) {
      EnsureDnsmasq(network, paths, log);
    } else if (auto pid = RunningDnsmasqPid(network, paths)) {
      StopDnsmasq(network, paths, *pid);
      log.Add(fmt::format("dnsmasq stopped (pid {}): mode {} gets no DHCP from virtnat", *pid,
                          ToString(network.mode)));
    }
  } catch (const RuntimeFailure& failure) {
    throw RuntimeFailure(WithNetwork(network, failure.what()));
  }
  return log.Take();
}

std::vector<std::string> StopStandaloneNetwork(const Network& network,
                                               const StandalonePaths& paths) {
  ActionLog log(network);
  try {
    if (auto pid = RunningDnsmasqPid(network, paths)) {
      StopDnsmasq(network, paths, *pid);
      log.Add(fmt::format("dnsmasq stopped (pid {})", *pid));
    }
    std::error_code ignored;
    fs::remove(paths.PidFile(network.name), ignored);

    LinkManager links;
    auto bridge = links.Find(network.bridge);
    if (!network.uplink.empty() && bridge) {
      auto uplink = links.Find(network.uplink);
      if (uplink && uplink->master_index == bridge->index) {
        links.SetMaster(network.uplink, "");
        log.Add(fmt::format("uplink {} released from {}", network.uplink, network.bridge));
      }
    }
    std::string nic = DummyNicName(network.bridge);
    if (auto facts = links.Find(nic)) {
      // Only what virtnat would have created: never a veth or a NIC that happens to match.
      if (!IsDummyNicKind(facts->kind))
        log.Add(fmt::format("{} left in place: it is not a dummy NIC", nic));
      else if (links.Delete(nic))
        log.Add(fmt::format("dummy NIC {} removed", nic));
    }
    if (bridge) {
      if (bridge->kind != "bridge")
        log.Add(fmt::format("{} left in place: it is not a bridge", network.bridge));
      else if (links.Delete(network.bridge))
        log.Add(fmt::format("bridge {} removed", network.bridge));
    }
  } catch (const RuntimeFailure& failure) {
    throw RuntimeFailure(WithNetwork(network, failure.what()));
  }
  return log.Take();
}

StandaloneStatus GetStandaloneStatus(const Network& network, const StandalonePaths& paths) {
  StandaloneStatus status;
  status.bridge = network.bridge;
  status.dummy_nic = DummyNicName(network.bridge);
  LinkManager links;
  if (auto bridge = links.Find(network.bridge); bridge && bridge->kind == "bridge") {
    status.bridge_exists = true;
    status.bridge_up = bridge->up;
    status.bridge_mac = bridge->mac;
  }
  auto nic = links.Find(status.dummy_nic);
  status.dummy_nic_exists = nic && IsDummyNicKind(nic->kind);
  status.dnsmasq_pid = RunningDnsmasqPid(network, paths);
  return status;
}

std::optional<int> RunningDnsmasqPid(const Network& network, const StandalonePaths& paths) {
  auto pid = ReadPid(paths.PidFile(network.name));
  if (!pid || !IsOurDnsmasq(*pid, paths.ConfFile(network.name))) return std::nullopt;
  return pid;
}

std::vector<DhcpLease> ReadStandaloneLeases(const Network& network, const StandalonePaths& paths) {
  return ParseDnsmasqLeases(ReadFileIfExists(paths.LeaseFile(network.name)).value_or(""));
}

std::vector<DhcpLease6> ReadStandaloneLeases6(const Network& network,
                                              const StandalonePaths& paths) {
  return ParseDnsmasqLeases6(ReadFileIfExists(paths.LeaseFile(network.name)).value_or(""));
}

}  // namespace virtnat
