// libvirt's hooks: `qemu DOMAIN OPERATION SUBOPERATION EXTRA` with the domain XML on stdin,
// and `network NETWORK OPERATION ...`. The hook never calls libvirt (that deadlocks), never
// runs a shell, and prints nothing on stdout (libvirt would take it as replacement XML).
#pragma once

#include <istream>
#include <string>

#include "state/state_dir.h"

namespace virtnat {

struct HookCall {
  std::string object;  // domain or network name
  std::string operation;
  std::string sub_operation;
  std::string extra;
};

// Exit status for libvirt: 0 unless settings.strict_hook and the VM must not start.
int RunQemuHook(const StateDir& state, const HookCall& call, std::istream& domain_xml);
int RunNetworkHook(const StateDir& state, const HookCall& call);

// Turns on or off the forwards of `hosts` for `domain` and records the running set.
// Used by the hook and by tests; throws RuntimeFailure.
void SetDomainRunning(const StateDir& state, const std::string& table, const std::string& domain,
                      const std::set<std::string>& hosts, bool running);

}  // namespace virtnat
