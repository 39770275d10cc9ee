// The one place that picks the firewall backend.
#pragma once

#include <memory>
#include <string>

#include "engine/firewall_backend.h"
#include "engine/firewall_neighbour.h"
#include "state/state_dir.h"

namespace virtnat {

// `ruleset_name`: settings.ruleset_name (the config's `table`).
std::unique_ptr<FirewallBackend> ChooseFirewallBackend(const std::string& ruleset_name,
                                                       const StateDir& state);

// Other tools' firewalls virtnat keeps its traffic passable through: firewalld (a zone),
// Docker (DOCKER-USER) and ufw (its user chains). Each does nothing where its tool is absent.
FirewallNeighbours ChooseFirewallNeighbours();

}  // namespace virtnat
