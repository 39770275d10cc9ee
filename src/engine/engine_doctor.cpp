// The engine's part of `virtnat doctor`: the probes of the desired state, diagnosed by the
// firewall backend; status's `blocked` and apply's warning come from the same.
#include <fmt/format.h>

#include "base/errors.h"
#include "engine/engine.h"
#include "engine/traffic_probes.h"

namespace virtnat {

DoctorReport Engine::Doctor(const Config& whole_config) {
  const Config config = WithoutNetworks(whole_config, state_.ReadStoppedNetworks());
  return DoctorOf(BuildDesiredState(config, RunningNow(config)));
}

DoctorReport Engine::DoctorOf(const DesiredState& desired) {
  DoctorReport report;
  report.probes = BuildTrafficProbes(desired, ReadHostRoutes());
  report.findings = firewall_->Diagnose(report.probes);
  return report;
}

void Engine::MarkBlocked(const DesiredState& desired, StatusReport& report) {
  if (report.diff.table_missing) return;
  std::vector<TrafficProbe> probes = BuildTrafficProbes(desired, ReadHostRoutes());
  std::vector<TrafficFinding> findings;
  try {
    findings = firewall_->Diagnose(probes);
  } catch (const RuntimeFailure&) {
    return;  // status still reports what it knows; `virtnat doctor` says why it cannot look
  }
  // The first desired.forwards.size() entries of report.forwards are desired.forwards.
  for (const auto& finding : findings) {
    const TrafficProbe& probe = probes.at(finding.probe);
    if (!finding.sure || !probe.forward || *probe.forward >= desired.forwards.size() ||
        *probe.forward >= report.forwards.size())
      continue;
    ForwardStatus& forward = report.forwards[*probe.forward];
    if (!forward.active && forward.state != "blocked") continue;
    forward.state = "blocked";
    forward.active = false;
    report.blocked[*probe.forward].push_back(finding);
  }
}

void Engine::WarnIfBlocked(const Config& config, Report& report) {
  DoctorReport doctor;
  try {
    // The running VMs as apply just recorded them (no second question to libvirt).
    doctor = DoctorOf(BuildDesiredState(config, state_.ReadRunningHosts()));
  } catch (const RuntimeFailure& error) {
    report.warnings.push_back(
        fmt::format("cannot check the host's other firewall rules: {}", error.what()));
    return;
  }
  if (!doctor.Blocks()) return;
  std::size_t sure = 0;
  for (const auto& finding : doctor.findings) sure += finding.sure ? 1 : 0;
  const TrafficFinding& first = doctor.findings.front();
  report.warnings.push_back(fmt::format(
      "rules outside {} {} virtnat's traffic ({} finding{}; the first: {}); `virtnat doctor` "
      "lists them with their fixes",
      firewall_->Describe(), sure > 0 ? "block" : "may block", doctor.findings.size(),
      doctor.findings.size() == 1 ? "" : "s",
      FormatTrafficFinding(doctor.probes.at(first.probe), first)));
}

}  // namespace virtnat
