// libvirt's hooks: `qemu DOMAIN OPERATION SUBOPERATION EXTRA` with the domain XML on stdin,
// and `network NETWORK OPERATION SUBOPERATION -` with <hookData><network>...</network>
// </hookData> on stdin. The hook never calls libvirt (that deadlocks), never runs a shell, and
// prints nothing on stdout (libvirt would take it as replacement XML).
//
// The network hook builds the host bridge of a bridged network at `start begin` (before
// libvirt looks for the bridge) and removes it at `stopped end`, from virtnat's <metadata> in
// the network's own XML: no state under /run/virtnat is needed, so it works at boot when
// libvirtd autostarts the network before `virtnat apply` runs.
#pragma once

#include <istream>
#include <optional>
#include <set>
#include <string>

#include "engine/hook_index.h"
#include "model/model.h"
#include "state/state_dir.h"

namespace virtnat {

// Where libvirt looks for hooks; `virtnat hook install` writes qemu.d/ and network.d/ there.
inline constexpr const char* kLibvirtHooksDir = "/etc/libvirt/hooks";

struct HookCall {
  std::string object;  // domain or network name
  std::string operation;
  std::string sub_operation;
  std::string extra;
};

// Exit status for libvirt: 0 unless settings.strict_hook and the VM must not start.
int RunQemuHook(const StateDir& state, const HookCall& call, std::istream& domain_xml);

// Whether the qemu hook puts the shim back on top of libvirt's chain for this call: at
// `prepare` and `start` of a VM that stands for hosts of the config, when some network's
// firewall is its provider's (libvirt may have re-created its rules above the shim since
// anyone last looked, e.g. in a libvirtd restart while no VM ran); at `reconnect` always.
bool QemuHookEnsuresShim(const HookIndex& index, const std::string& operation,
                         const std::set<std::string>& hosts);

enum class NetworkHookAction {
  kNothing,
  kStartHostBridge,  // start begin: create the bridge, enslave the uplink (StartHostBridge)
  kStopHostBridge,   // stopped end: release the uplink, delete virtnat's bridge (StopHostBridge)
  kEnsureShim,       // started, updated: keep the shim on top of libvirt's rules (if needed)
};

struct NetworkHookDecision {
  NetworkHookAction action = NetworkHookAction::kNothing;
  std::optional<Network> network;  // the bridged network, for the host bridge actions
  std::string error;               // why the XML cannot be used; nothing changes then
  int exit_status = 0;             // non-zero: libvirt must not start the network
};

// Whether the hook reads the network XML from stdin for this call.
bool NetworkHookReadsXml(const HookCall& call);
// Pure: what the network hook does for a call and the XML on its stdin (empty: none given).
// Unreadable XML is an error that changes nothing (exit 0: the network is not known to be
// virtnat's); virtnat's metadata that cannot be used fails a start (exit 1).
NetworkHookDecision DecideNetworkHook(const HookCall& call, const std::string& network_xml);
// Exit status for libvirt: non-zero only when a bridged network's host bridge cannot be made
// at `start begin` (libvirt then refuses to start the network and shows the hook's message).
int RunNetworkHook(const StateDir& state, const HookCall& call, std::istream& network_xml);

}  // namespace virtnat
