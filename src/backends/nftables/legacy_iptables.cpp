#include "backends/nftables/legacy_iptables.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "base/process.h"

namespace virtnat {
namespace {

struct LegacyChain {
  std::string policy;              // "ACCEPT", "DROP", "-" for a user chain
  std::vector<std::string> rules;  // "-A CHAIN ..." lines
};
using LegacyTables = std::map<std::string, std::map<std::string, LegacyChain>>;

LegacyTables ParseSave(const std::string& text) {
  LegacyTables tables;
  std::istringstream lines(text);
  std::string line, table;
  while (std::getline(lines, line)) {
    if (line.starts_with("*")) {
      table = line.substr(1);
    } else if (line.starts_with(":") && !table.empty()) {
      std::istringstream fields(line.substr(1));
      std::string chain, policy;
      fields >> chain >> policy;
      tables[table][chain].policy = policy;
    } else if (line.starts_with("-A ") && !table.empty()) {
      std::istringstream fields(line.substr(3));
      std::string chain;
      fields >> chain;
      tables[table][chain].rules.push_back(line);
    }
  }
  return tables;
}

std::string Target(const std::string& rule) {
  auto at = rule.find(" -j ");
  if (at == std::string::npos) at = rule.find(" -g ");
  if (at == std::string::npos) return "";
  std::istringstream fields(rule.substr(at + 4));
  std::string target;
  fields >> target;
  return target;
}

// Targets that never drop a packet.
bool Harmless(const std::string& target) {
  static const std::set<std::string> kHarmless = {
      "",       "ACCEPT",   "RETURN", "LOG",  "NFLOG",      "MARK",     "CONNMARK", "NOTRACK", "CT",
      "TCPMSS", "CHECKSUM", "DNAT",   "SNAT", "MASQUERADE", "REDIRECT", "TOS",      "DSCP"};
  return kHarmless.contains(target);
}

std::string Upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

}  // namespace

std::vector<TrafficFinding> LegacyIptablesFindings(const std::string& save_text,
                                                   const std::vector<TrafficProbe>& probes,
                                                   IpFamily family) {
  std::vector<TrafficFinding> findings;
  LegacyTables tables = ParseSave(save_text);
  const std::string tool = family == IpFamily::kIpv6 ? "ip6tables-legacy" : "iptables-legacy";
  for (std::size_t i = 0; i < probes.size(); ++i) {
    if (probes[i].family != family) continue;
    std::string hook = Upper(probes[i].hook);
    for (const auto& [table, chains] : tables) {
      if (table == "nat") continue;  // nat chains never drop
      auto it = chains.find(hook);
      if (it == chains.end()) continue;
      const LegacyChain& chain = it->second;
      TrafficFinding finding;
      finding.probe = i;
      finding.sure = false;
      finding.ruleset = tool + " " + table;
      finding.chain = hook;
      finding.reason = family == IpFamily::kIpv6 ? "legacy ip6tables rules are not analysed"
                                                 : "legacy iptables rules are not analysed";
      finding.fix = fmt::format(
          "check `{} -t {} -S {}` and accept this traffic before it drops "
          "(`{} -t {} -I {} ... -j ACCEPT`), or move the rules to nftables "
          "({})",
          tool, table, hook, tool, table, hook,
          family == IpFamily::kIpv6 ? "ip6tables-nft" : "iptables-nft");
      auto dropping = std::find_if(chain.rules.begin(), chain.rules.end(),
                                   [](const std::string& rule) { return !Harmless(Target(rule)); });
      if (dropping != chain.rules.end()) {
        finding.rule = *dropping;
      } else if (chain.policy == "DROP") {
        finding.rule = "policy DROP";
      } else {
        continue;
      }
      findings.push_back(std::move(finding));
    }
  }
  return findings;
}

std::string ReadLegacyIptables(IpFamily family) {
  const char* save = family == IpFamily::kIpv6 ? "/usr/sbin/ip6tables-legacy-save"
                                               : "/usr/sbin/iptables-legacy-save";
  if (access(save, X_OK) != 0) return "";
  ProcessResult result = RunProgram({save});
  return result.exit_status == 0 ? result.output : "";
}

}  // namespace virtnat
