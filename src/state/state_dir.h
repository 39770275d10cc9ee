// virtnat's run-time state folder (default /run/virtnat): the lock, the running set kept by
// the libvirt hook, and what apply last installed.
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
