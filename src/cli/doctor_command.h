// `virtnat doctor [--json]` (doctor_command.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/firewall_backend.h"

namespace virtnat {

// Exit status 0 when nothing blocks virtnat's traffic, 1 when something does or may.
int CommandDoctor(const GlobalOptions& options);

// A finding as doctor's and status's JSON show it.
nlohmann::json TrafficFindingJson(const TrafficFinding& finding);

}  // namespace virtnat
