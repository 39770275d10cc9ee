// `forward add` and `forward remove` in time that does not grow with the config: from the
// config snapshot (config/config_snapshot.h) instead of parsing and validating every file,
// validating the CLI file with only the forwards its change can conflict with, and changing
// only that forward in the firewall (engine/forward_change.h). Whatever this cannot decide
// (no valid snapshot, an error to word, an identical forward, a forward a provider realises, a
// kernel that changed since the last transaction) is left to the ordinary path in
// commands.cpp, which parses everything: the same result, only slower.
#pragma once

#include <optional>

#include "cli/commands.h"
#include "config/forward_spec.h"

namespace virtnat {

// The command's exit status when it did the whole command; nullopt when it changed nothing
// and the ordinary path must run.
std::optional<int> TryForwardAddFast(const GlobalOptions& options, const ForwardSpec& spec);
std::optional<int> TryForwardRemoveFast(const GlobalOptions& options, const ForwardSpec& spec);

}  // namespace virtnat
