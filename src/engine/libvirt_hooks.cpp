#include "engine/libvirt_hooks.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "base/errors.h"
#include "base/files.h"
#include "engine/choose_backend.h"
#include "engine/hook_index.h"
#include "engine/vm_tracking.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/network_xml.h"
#include "providers/standalone/host_bridge.h"

namespace virtnat {
namespace {

void Log(int priority, const std::string& message) {
  openlog("virtnat-hook", LOG_PID, LOG_DAEMON);
  syslog(priority, "%s", message.c_str());
  closelog();
  if (priority <= LOG_WARNING) std::cerr << "virtnat hook: " << message << "\n";
}

std::string JoinHosts(const std::set<std::string>& hosts) {
  std::string text;
  for (const auto& host : hosts) text += (text.empty() ? "" : ", ") + host;
  return text;
}

void EnsureShim(FirewallBackend& firewall, const std::string& context) {
  std::string done = firewall.EnsureShims();
  if (!done.empty()) Log(LOG_NOTICE, fmt::format("{}: {}", context, done));
}

// libvirt re-creates its rules around the hooks of a restart or network start, sometimes
// after the hook ran; a rule inserted on top then pushes the shim below libvirt's reject.
// So the shim is ensured now and, from a detached child that libvirt does not wait for,
// again every half second for six seconds. (The watch daemon, when it runs, does it too.)
void EnsureShimForAWhile(const StateDir& state, const std::string& context,
                         const std::string& ruleset_name) {
  auto firewall = ChooseFirewallBackend(ruleset_name, state);
  EnsureShim(*firewall, context);
  pid_t child = fork();
  if (child < 0) return;
  if (child > 0) {
    waitpid(child, nullptr, 0);
    return;
  }
  // First child: a new session, then the grandchild does the work so nobody waits for it.
  setsid();
  if (fork() != 0) _exit(0);
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2; ++fd) dup2(null_fd, fd);  // libvirt reads the hook's output to EOF
  for (int round = 0; round < 12; ++round) {
    usleep(500 * 1000);
    try {
      // `virtnat down` meanwhile: the shim must stay removed.
      auto firewall = ChooseFirewallBackend(ruleset_name, state);
      if (!firewall->Installed()) break;
      EnsureShim(*firewall, context);
    } catch (const std::exception&) {
    }
  }
  _exit(0);
}

}  // namespace

int RunQemuHook(const StateDir& state, const HookCall& call, std::istream& domain_xml) {
  const std::string& operation = call.operation;
  bool starting = operation == "start" || operation == "reconnect";
  bool stopping = operation == "stopped" || operation == "release";
  if (!starting && !stopping && operation != "prepare") return 0;  // migrate, restore, ...
  std::string xml(std::istreambuf_iterator<char>(domain_xml), {});
  std::optional<HookIndex> index;
  try {
    index = ReadHookIndex(state);
  } catch (const RuntimeFailure& error) {
    Log(LOG_ERR, fmt::format("{}: {}", call.object, error.what()));
    return 0;
  }
  if (!index) return 0;  // virtnat was never applied on this host: nothing to follow
  try {
    std::set<std::string> macs;
    if (!xml.empty()) macs = ParseDomainXml(xml, "stdin").macs;
    std::set<std::string> hosts = HostsOfDomain(*index, call.object, macs);
    if (operation == "prepare" && index->strict) {
      auto firewall = ChooseFirewallBackend(index->ruleset_name, state);
      if (!firewall->Installed())
        throw RuntimeFailure(
            fmt::format("{} is not installed; run `virtnat apply`", firewall->Describe()));
    }
    if (QemuHookEnsuresShim(*index, operation, hosts)) {
      if (operation == "reconnect") {
        EnsureShimForAWhile(state, call.object, index->ruleset_name);
      } else {
        auto firewall = ChooseFirewallBackend(index->ruleset_name, state);
        if (firewall->Installed())  // not after `virtnat down`
          EnsureShim(*firewall, fmt::format("domain {} {}", call.object, operation));
      }
    }
    if (operation == "prepare") return 0;
    if (!index->follow_vms) return 0;
    if (hosts.empty()) return 0;
    auto firewall = ChooseFirewallBackend(index->ruleset_name, state);
    SetDomainRunning(state, *firewall, call.object, hosts, starting);
    Log(LOG_INFO, fmt::format("domain {} {}: forwards of {} {}", call.object, operation,
                              JoinHosts(hosts), starting ? "active" : "removed"));
    return 0;
  } catch (const std::exception& error) {
    Log(LOG_ERR, fmt::format("domain {} {}: {}", call.object, operation, error.what()));
    return index->strict && (operation == "prepare" || operation == "start") ? 1 : 0;
  }
}

bool NetworkHookReadsXml(const HookCall& call) {
  return call.operation == "start" || call.operation == "stopped";
}

NetworkHookDecision DecideNetworkHook(const HookCall& call, const std::string& network_xml) {
  NetworkHookDecision decision;
  if (call.operation == "started" || call.operation == "updated") {
    decision.action = NetworkHookAction::kEnsureShim;
    return decision;
  }
  if (!NetworkHookReadsXml(call)) return decision;  // port-created, port-deleted, ...
  if (network_xml.find_first_not_of(" \t\r\n") == std::string::npos) return decision;
  auto context = fmt::format("network {} {}", call.object, call.operation);
  LibvirtNetworkFacts facts;
  try {
    facts = ParseNetworkFacts(network_xml, "stdin");
  } catch (const RuntimeFailure& error) {
    decision.error = fmt::format("{}: {}; nothing done", context, error.what());
    return decision;
  }
  if (facts.name.empty()) {
    decision.error = fmt::format("{}: no <network> in the XML on stdin; nothing done", context);
    return decision;
  }
  if (facts.name != call.object) {
    decision.error =
        fmt::format("{}: the XML on stdin is network {}'s; nothing done", context, facts.name);
    return decision;
  }
  if (!facts.bridged) return decision;  // not a bridged network of virtnat's
  bool start = call.operation == "start";
  try {
    decision.network = BridgedNetworkFromFacts(facts);
  } catch (const RuntimeFailure& error) {
    decision.error = error.what();
    decision.exit_status = start ? 1 : 0;
    return decision;
  }
  decision.action =
      start ? NetworkHookAction::kStartHostBridge : NetworkHookAction::kStopHostBridge;
  return decision;
}

int RunNetworkHook(const StateDir& state, const HookCall& call, std::istream& network_xml) {
  std::string xml;
  if (NetworkHookReadsXml(call)) xml.assign(std::istreambuf_iterator<char>(network_xml), {});
  NetworkHookDecision decision = DecideNetworkHook(call, xml);
  if (!decision.error.empty()) {
    Log(LOG_ERR, decision.exit_status == 0
                     ? decision.error
                     : decision.error + " (libvirt does not start the network)");
    return decision.exit_status;
  }
  switch (decision.action) {
    case NetworkHookAction::kNothing:
      return 0;
    case NetworkHookAction::kStartHostBridge:
      // A network that cannot work must not start: libvirt shows this message and stops.
      try {
        for (const auto& line : StartHostBridge(*decision.network)) Log(LOG_NOTICE, line);
      } catch (const std::exception& error) {
        Log(LOG_ERR, fmt::format("{} (libvirt does not start the network)", error.what()));
        return 1;
      }
      return 0;
    case NetworkHookAction::kStopHostBridge:
      try {
        for (const auto& line : StopHostBridge(*decision.network)) Log(LOG_NOTICE, line);
      } catch (const std::exception& error) {
        Log(LOG_ERR, error.what());
      }
      return 0;
    case NetworkHookAction::kEnsureShim:
      break;
  }
  try {
    auto index = ReadHookIndex(state);
    if (!index || !index->shim) return 0;
    EnsureShimForAWhile(state, fmt::format("network {} {}", call.object, call.operation),
                        index->ruleset_name);
  } catch (const std::exception& error) {
    Log(LOG_ERR, fmt::format("network {} {}: {}", call.object, call.operation, error.what()));
  }
  return 0;
}

}  // namespace virtnat
