// virtnat's run-time state folder (default /run/virtnat), and the one owner of its layout:
//   lock                      held by every command that changes something
//   running.json              running VMs (domain -> hosts), kept by the hook and watch
//   stopped-networks.json     networks `virtnat network stop` stopped
//   hook-index.json           what the hook needs to know (engine/hook_index.h)
//   hosts/HOST.BACKEND        a firewall backend's precomputed per-host state for the hook
//   applied-NAME.memo         a firewall backend's memo of what it last installed
//   config.snapshot           the config compiled and validated, for the files it names
//                             (config/config_snapshot.h)
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "plan/desired_state.h"

namespace virtnat {

inline constexpr const char* kDefaultStateDir = "/run/virtnat";

class StateDir {
 public:
  explicit StateDir(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }

  // Creates the folder (mode 0700) when missing.
  void Ensure() const;
  std::filesystem::path LockPath() const { return root_ / "lock"; }
  std::filesystem::path HookIndexPath() const { return root_ / "hook-index.json"; }
  std::filesystem::path HostStateDir() const { return root_ / "hosts"; }
  // `kind` names the backend's format (the file's extension), e.g. "elements".
  std::filesystem::path HostStatePath(const std::string& host, const std::string& kind) const {
    return HostStateDir() / (host + "." + kind);
  }
  std::filesystem::path MemoPath(const std::string& name) const {
    return root_ / ("applied-" + name + ".memo");
  }

  // Running VMs: domain name -> host names of the config that belong to it.
  std::map<std::string, std::set<std::string>> ReadRunningDomains() const;
  void WriteRunningDomains(const std::map<std::string, std::set<std::string>>& domains) const;
  RunningHosts ReadRunningHosts() const;

  // Networks stopped by `virtnat network stop`: the watch daemon and commands other than
  // apply and network start leave them stopped. Kept until apply, network start or a reboot.
  std::set<std::string> ReadStoppedNetworks() const;
  void WriteStoppedNetworks(const std::set<std::string>& networks) const;

 private:
  std::filesystem::path root_;
};

}  // namespace virtnat
