// `forward add` and `forward remove` without the rest of the config: the engine's half of
// cli/forward_fast.cpp. Only the firewall changes (the forwards' part, one transaction) and
// the hook's files of their hosts; networks, the hook index and the running VMs are the
// installed config's, untouched.
#pragma once

#include <optional>
#include <vector>

#include "engine/engine.h"

namespace virtnat {

// `config`: the settings and networks of the config installed last (its forwards are not
// looked at). The running VMs are those the hook recorded. nullopt, with nothing changed,
// when the backend cannot tell that the kernel still holds what it installed last: then the
// whole config must be reconciled.
std::optional<Report> ApplyForwardChange(Engine& engine, const Config& config,
                                         const std::vector<Forward>& added,
                                         const std::vector<Forward>& removed);

}  // namespace virtnat
