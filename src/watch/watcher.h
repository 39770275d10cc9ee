// `virtnat watch`: a foreground daemon that keeps the kernel in line with the config. It
// listens to nftables' netlink events (anyone flushing or editing the ruleset, iptables-nft
// included) and to libvirt's domain and network events, and repairs within a second.
#pragma once

#include <filesystem>
#include <string>

namespace virtnat {

struct WatchOptions {
  std::filesystem::path config_path;
  std::filesystem::path state_dir;
  std::string libvirt_uri;       // empty = settings.libvirt_uri
  double recheck_seconds = 5.0;  // also check this often (iptables-legacy sends no events)
  double run_seconds = 0;        // > 0: stop after this long (tests)
};

// Runs until SIGTERM/SIGINT (or run_seconds). SIGHUP reloads the config. Returns an exit status.
int RunWatch(const WatchOptions& options);

}  // namespace virtnat
