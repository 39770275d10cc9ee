#include "engine/hook_fast.h"

#include <syslog.h>
#include <unistd.h>

#include "backends/nftables/host_batches.h"
#include "backends/nftables/netlink_send.h"
#include "base/errors.h"
#include "engine/hook_index.h"
#include "engine/vm_tracking.h"
#include "providers/libvirt/domain_macs.h"

namespace virtnat {
namespace {

void Log(int priority, const std::string& message) {
  openlog("virtnat-hook", LOG_PID, LOG_DAEMON);
  syslog(priority, "%s", message.c_str());
  closelog();
  if (priority <= LOG_WARNING) {
    std::string line = "virtnat hook: " + message + "\n";
    if (write(2, line.data(), line.size()) < 0) return;  // stderr gone: syslog has it
  }
}

std::string JoinHosts(const std::set<std::string>& hosts) {
  std::string text;
  for (const auto& host : hosts) text += (text.empty() ? "" : ", ") + host;
  return text;
}

}  // namespace

std::optional<int> RunQemuHookFast(const StateDir& state, const HookCall& call,
                                   const std::string& xml) {
  const std::string& operation = call.operation;
  bool starting = operation == "start" || operation == "reconnect";
  bool stopping = operation == "stopped" || operation == "release";
  if (!starting && !stopping && operation != "prepare") return 0;  // migrate, restore, ...
  std::optional<HookIndex> index;
  try {
    index = ReadHookIndex(state);
  } catch (const RuntimeFailure& error) {
    Log(LOG_ERR, call.object + ": " + error.what());
    return 0;
  }
  if (!index) return 0;  // virtnat was never applied on this host: nothing to follow
  try {
    std::set<std::string> macs;
    if (!xml.empty()) macs = ScanDomainMacs(xml, "stdin");
    std::set<std::string> hosts = HostsOfDomain(*index, call.object, macs);
    // The shim in libvirt's rules needs libnftables and iptables: the full program's work.
    if (QemuHookEnsuresShim(*index, operation, hosts)) return std::nullopt;
    if (operation == "prepare") {
      if (index->strict && !NftTableExists(index->ruleset_name))
        throw RuntimeFailure("table inet " + index->ruleset_name +
                             " is not installed; run `virtnat apply`");
      return 0;
    }
    if (!index->follow_vms) return 0;
    if (hosts.empty()) return 0;
    SetDomainRunning(
        state,
        [&state](const std::set<std::string>& changed, bool active) {
          SetHostBatchesActive(state, changed, active);
        },
        call.object, hosts, starting);
    Log(LOG_INFO, "domain " + call.object + " " + operation + ": forwards of " + JoinHosts(hosts) +
                      (starting ? " active" : " removed"));
    return 0;
  } catch (const std::exception& error) {
    Log(LOG_ERR, "domain " + call.object + " " + operation + ": " + error.what());
    return index->strict && (operation == "prepare" || operation == "start") ? 1 : 0;
  }
}

}  // namespace virtnat
