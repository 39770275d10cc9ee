// The one place that picks the firewall backend.
#pragma once

#include <memory>
#include <string>

#include "engine/firewall_backend.h"
#include "state/state_dir.h"

namespace virtnat {

// `ruleset_name`: settings.ruleset_name (the config's `table`).
std::unique_ptr<FirewallBackend> ChooseFirewallBackend(const std::string& ruleset_name,
                                                       const StateDir& state);

}  // namespace virtnat
