// The qemu hook's fast path, for virtnat-hook: a VM start or stop switches exactly that VM's
// forwards by sending the netlink batches apply precomputed (backends/nftables/host_batches.h),
// with nothing but libmnl/libnftnl, libc and the C++ library loaded. What needs more (the
// libvirt shim at `reconnect`) is left to the full program: RunQemuHookFast says so.
#pragma once

#include <optional>
#include <string>

#include "engine/libvirt_hooks.h"
#include "state/state_dir.h"

namespace virtnat {

// The exit status for libvirt, or nullopt when the call needs the full virtnat (nothing was
// done then). Same behaviour as RunQemuHook (libvirt_hooks.h) for what it handles.
std::optional<int> RunQemuHookFast(const StateDir& state, const HookCall& call,
                                   const std::string& domain_xml);

}  // namespace virtnat
