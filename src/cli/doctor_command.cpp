#include "cli/doctor_command.h"

#include <fmt/format.h>

#include <iostream>

#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "engine/engine.h"
#include "engine/traffic_probes.h"

namespace virtnat {
namespace {

const char* KindName(TrafficProbe::Kind kind) {
  switch (kind) {
    case TrafficProbe::Kind::kForwardIn:
      return "forward_in";
    case TrafficProbe::Kind::kForward:
      return "forward";
    case TrafficProbe::Kind::kForwardReply:
      return "forward_reply";
    case TrafficProbe::Kind::kEgress:
      return "egress";
    case TrafficProbe::Kind::kDhcp:
      return "dhcp";
    case TrafficProbe::Kind::kDns:
      return "dns";
    case TrafficProbe::Kind::kIcmpv6:
      return "icmpv6";
  }
  return "";
}

}  // namespace

nlohmann::json TrafficFindingJson(const TrafficFinding& finding) {
  nlohmann::json json = {{"verdict", finding.sure ? "blocked" : "may_block"},
                         {"ruleset", finding.ruleset},
                         {"chain", finding.chain},
                         {"base_chain", finding.base_chain},
                         {"rule", finding.rule},
                         {"reason", finding.reason},
                         {"fix", finding.fix}};
  json["handle"] = finding.handle ? nlohmann::json(*finding.handle) : nlohmann::json(nullptr);
  return json;
}

int CommandDoctor(const GlobalOptions& options) {
  Diagnostics diagnostics;
  Config config = LoadConfig(options.config_path, diagnostics);
  DoctorReport report =
      Engine::For(config, StateDir(options.state_dir), options.connect).Doctor(config);
  std::size_t sure = 0;
  for (const auto& finding : report.findings) sure += finding.sure ? 1 : 0;
  if (options.json) {
    nlohmann::json json;
    json["checks"] = report.probes.size();
    json["blocks"] = sure > 0;
    json["may_block"] = report.findings.size() > sure;
    json["findings"] = nlohmann::json::array();
    for (const auto& finding : report.findings) {
      const TrafficProbe& probe = report.probes.at(finding.probe);
      nlohmann::json item = TrafficFindingJson(finding);
      item["probe"] = probe.label;
      item["kind"] = KindName(probe.kind);
      item["network"] = probe.network;
      item["line"] = FormatTrafficFinding(probe, finding);
      json["findings"].push_back(std::move(item));
    }
    std::cout << json.dump(2) << "\n";
    return report.Blocks() ? 1 : 0;
  }
  for (const auto& finding : report.findings)
    std::cout << FormatTrafficFinding(report.probes.at(finding.probe), finding) << "\n";
  if (!report.Blocks()) {
    std::cout << fmt::format(
        "nothing blocks virtnat's traffic: {} checks (forwards, guests going out, DHCP and DNS) "
        "pass every other table of every family\n",
        report.probes.size());
    return 0;
  }
  std::cerr << fmt::format("virtnat doctor: {} finding{} ({} blocked, {} may block) in {} checks\n",
                           report.findings.size(), report.findings.size() == 1 ? "" : "s", sure,
                           report.findings.size() - sure, report.probes.size());
  return 1;
}

}  // namespace virtnat
