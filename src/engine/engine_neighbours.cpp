// The engine's part of living beside other firewalls: each neighbour (engine/firewall_neighbour.h)
// is ensured after the firewall backend, and a neighbour that fails is a warning, not a failed
// apply: virtnat's own table is in place either way.
#include <fmt/format.h>

#include "base/errors.h"
#include "engine/engine.h"

namespace virtnat {
namespace {

// "NAME: what went wrong", without NAME twice.
std::string Warning(const FirewallNeighbour& neighbour, const RuntimeFailure& error) {
  std::string what = error.what();
  return what.starts_with(neighbour.Name() + ":") ? what
                                                  : fmt::format("{}: {}", neighbour.Name(), what);
}

}  // namespace

void Engine::EnsureNeighbours(const DesiredState& desired, Report& report,
                              const std::string& reason) {
  for (const auto& neighbour : neighbours_) {
    try {
      for (auto& line : neighbour->Ensure(desired))
        report.lines.push_back(
            reason.empty() ? line
                           : fmt::format("repaired {} ({}): {}", neighbour->Name(), reason, line));
    } catch (const RuntimeFailure& error) {
      report.warnings.push_back(Warning(*neighbour, error));
    }
  }
}

void Engine::RemoveNeighbours(Report& report) {
  for (const auto& neighbour : neighbours_) {
    try {
      for (auto& line : neighbour->Remove()) report.lines.push_back(std::move(line));
    } catch (const RuntimeFailure& error) {
      report.warnings.push_back(Warning(*neighbour, error));
    }
  }
}

}  // namespace virtnat
