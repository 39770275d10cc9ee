// QemuHookEnsuresShim (libvirt_hooks.h) on its own: virtnat-hook's fast path asks it too, to
// leave the calls that must keep the shim to the full program.
#include "engine/libvirt_hooks.h"

namespace virtnat {

bool QemuHookEnsuresShim(const HookIndex& index, const std::string& operation,
                         const std::set<std::string>& hosts) {
  if (!index.shim) return false;
  if (operation == "reconnect") return true;
  return (operation == "prepare" || operation == "start") && !hosts.empty();
}

}  // namespace virtnat
