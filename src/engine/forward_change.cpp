#include "engine/forward_change.h"

#include <fmt/format.h>

#include "base/files.h"

namespace virtnat {

std::optional<Report> ApplyForwardChange(Engine& engine, const Config& config,
                                         const std::vector<Forward>& added,
                                         const std::vector<Forward>& removed) {
  const StateDir& state = engine.state();
  std::set<std::string> stopped = state.ReadStoppedNetworks();
  RunningHosts running = state.ReadRunningHosts();
  // The same desired state Reconcile builds, for just these forwards: stopped networks left
  // out, the forward active or waiting for its VM.
  auto desired = [&](const std::vector<Forward>& forwards) {
    Config part;
    part.settings = config.settings;
    part.networks = config.networks;
    part.forwards = forwards;
    part.files = config.files;
    return BuildDesiredState(stopped.empty() ? part : WithoutNetworks(part, stopped), running);
  };
  DesiredState plus = desired(added), minus = desired(removed);
  auto change = engine.firewall().ApplyForwardChange(plus, minus);
  if (!change) return std::nullopt;
  Report report;
  std::string name = engine.firewall().Describe();
  if (change->Changed())
    report.lines.push_back(fmt::format("applied: {}: {} elements added, {} removed", name,
                                       change->added, change->removed));
  else
    report.lines.push_back(fmt::format("no change: {} already matches the config", name));
  if (plus.delegates_firewall) {
    std::string done = engine.firewall().EnsureShims();
    if (!done.empty()) report.lines.push_back(done);
  }
  return report;
}

}  // namespace virtnat
