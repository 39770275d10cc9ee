#include "backends/iptables/admin_chains.h"

#include <fmt/format.h>

#include <set>
#include <sstream>

#include "base/errors.h"
#include "base/process.h"

namespace virtnat {
namespace {

constexpr const char* kIptables = "/usr/sbin/iptables";
constexpr const char* kIp6tables = "/usr/sbin/ip6tables";

const char* Tool(IpFamily family) {
  return family == IpFamily::kIpv6 ? kIp6tables : kIptables;
}

std::vector<std::string> Accept(std::vector<std::string> match) {
  for (const char* arg :
       {"-m", "comment", "--comment", IptablesAdminChains::kComment, "-j", "ACCEPT"})
    match.push_back(arg);
  return match;
}

// The bridges of networks whose firewall is virtnat's table (nat, routed, isolated). Not a
// network whose firewall is libvirt's: with libvirt's iptables rules in the same FORWARD chain,
// an accept in DOCKER-USER would skip libvirt's rejects.
std::vector<const Network*> FilteredNetworks(const DesiredState& state) {
  std::vector<const Network*> networks;
  std::set<std::string> seen;
  for (const auto& network : state.networks) {
    bool filtered = network.mode == NetworkMode::kNat || network.mode == NetworkMode::kRouted ||
                    network.mode == NetworkMode::kIsolated;
    if (!filtered || !network.VirtnatOwnsFirewall() || network.bridge.empty() ||
        !seen.insert(network.bridge).second)
      continue;
    networks.push_back(&network);
  }
  return networks;
}

std::vector<std::string> Tokens(const std::string& line) {
  std::vector<std::string> tokens;
  std::istringstream words(line);
  std::string word;
  while (words >> word) tokens.push_back(word);
  return tokens;
}

// A rule as iptables -S prints it, without the implicit `-m tcp`/`-m udp` it adds.
std::vector<std::string> Normalized(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == "-m" && i + 1 < tokens.size() &&
        (tokens[i + 1] == "tcp" || tokens[i + 1] == "udp")) {
      ++i;
      continue;
    }
    out.push_back(tokens[i]);
  }
  return out;
}

// The rules of CHAIN in the listing, as argument vectors after the chain's name.
std::vector<std::vector<std::string>> RulesIn(const std::string& listing,
                                              const std::string& chain) {
  std::vector<std::vector<std::string>> rules;
  std::istringstream lines(listing);
  std::string line;
  std::string prefix = "-A " + chain + " ";
  while (std::getline(lines, line))
    if (line.starts_with(prefix)) rules.push_back(Tokens(line.substr(prefix.size())));
  return rules;
}

bool IsOurs(const std::vector<std::string>& rule) {
  for (std::size_t i = 0; i + 1 < rule.size(); ++i)
    if (rule[i] == "--comment" &&
        (rule[i + 1] == IptablesAdminChains::kComment ||
         rule[i + 1] == fmt::format("\"{}\"", IptablesAdminChains::kComment)))
      return true;
  return false;
}

std::string Run(const std::vector<std::string>& argv) {
  ProcessResult result = RunProgram(argv);
  if (result.exit_status != 0) {
    std::string command;
    for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
    throw RuntimeFailure(fmt::format("`{}` failed: {}", command, result.output));
  }
  return result.output;
}

}  // namespace

std::vector<AdminChainRules> BuildAdminChainRules(AdminChainTool, const DesiredState& state) {
  AdminChainRules forward{"DOCKER-USER", {}, IpFamily::kIpv4};
  AdminChainRules forward6{"DOCKER-USER", {}, IpFamily::kIpv6};
  for (const Network* network : FilteredNetworks(state)) {
    for (auto* chain : {&forward, &forward6}) {
      if (chain->family == IpFamily::kIpv6 && !network->DualStack()) continue;
      chain->rules.push_back(Accept({"-i", network->bridge}));
      chain->rules.push_back(Accept({"-o", network->bridge}));
    }
  }
  return {forward, forward6};
}

bool AdminRulesOnTop(const std::string& listing, const AdminChainRules& wanted) {
  auto rules = RulesIn(listing, wanted.chain);
  std::size_t ours = 0;
  for (const auto& rule : rules) ours += IsOurs(rule) ? 1 : 0;
  if (ours != wanted.rules.size() || rules.size() < wanted.rules.size()) return false;
  for (std::size_t i = 0; i < wanted.rules.size(); ++i) {
    auto have = Normalized(rules[i]);
    // iptables -S may quote the comment.
    for (auto& token : have)
      if (token == fmt::format("\"{}\"", IptablesAdminChains::kComment))
        token = IptablesAdminChains::kComment;
    if (have != Normalized(wanted.rules[i])) return false;
  }
  return true;
}

std::vector<std::vector<std::string>> OurRulesIn(const std::string& listing,
                                                 const std::string& chain) {
  std::vector<std::vector<std::string>> ours;
  for (auto& rule : RulesIn(listing, chain))
    if (IsOurs(rule)) ours.push_back(std::move(rule));
  return ours;
}

std::string IptablesAdminChains::Name() const {
  return "Docker (DOCKER-USER)";
}

std::vector<std::string> IptablesAdminChains::Chains() const {
  return {"DOCKER-USER"};
}

bool DockerDropsWithoutUserChain(bool has_user_chain, bool has_docker_chain,
                                 const std::string& forward_listing) {
  if (has_user_chain || !has_docker_chain) return false;
  std::istringstream lines(forward_listing);
  for (std::string line; std::getline(lines, line);)
    if (line == "-P FORWARD DROP") return true;
  return false;
}

namespace {

bool ChainExists(const char* tool, const std::string& chain) {
  return RunProgram({tool, "-w", "-S", chain}).exit_status == 0;
}

// Deletes RULES (argument vectors after the chain's name) from CHAIN of TOOL.
void DeleteRules(const char* tool, const std::string& chain,
                 std::vector<std::vector<std::string>> rules) {
  for (auto& rule : rules) {
    rule.insert(rule.begin(), {tool, "-w", "-D", chain});
    Run(rule);
  }
}

// Removes virtnat's rules from CHAIN of TOOL; how many there were.
std::size_t RemoveOurs(const char* tool, const std::string& chain) {
  ProcessResult listing = RunProgram({tool, "-w", "-S", chain});
  if (listing.exit_status != 0) return 0;
  auto ours = OurRulesIn(listing.output, chain);
  std::size_t count = ours.size();
  DeleteRules(tool, chain, std::move(ours));
  return count;
}

}  // namespace

std::vector<std::string> IptablesAdminChains::Ensure(const DesiredState& state) {
  std::vector<std::string> done;
  for (auto wanted : BuildAdminChainRules(tool_, state)) {
    const char* tool = Tool(wanted.family);
    ProcessResult listing = RunProgram({tool, "-w", "-S", wanted.chain});
    if (wanted.family == IpFamily::kIpv6) {
      // Docker 20.10's --ip6tables sets ip6tables' FORWARD policy DROP and makes no
      // DOCKER-USER there: virtnat's rules go on top of FORWARD itself, until a DOCKER-USER
      // appears (newer Docker), when they move.
      ProcessResult forward = RunProgram({tool, "-w", "-S", "FORWARD"});
      std::string forward_rules = forward.exit_status == 0 ? forward.output : "";
      bool has_user_chain = listing.exit_status == 0;
      if (DockerDropsWithoutUserChain(
              has_user_chain, !has_user_chain && ChainExists(tool, "DOCKER-ISOLATION-STAGE-1"),
              forward_rules)) {
        wanted.chain = "FORWARD";
        listing = forward;
      } else if (auto moved = OurRulesIn(forward_rules, "FORWARD"); !moved.empty()) {
        done.push_back(
            fmt::format("removed virtnat's {} rules from FORWARD (ip6tables)", moved.size()));
        DeleteRules(tool, "FORWARD", std::move(moved));
      }
    }
    if (listing.exit_status != 0) continue;  // the tool's chain is not there: nothing to pass
    if (AdminRulesOnTop(listing.output, wanted)) continue;
    auto stale = OurRulesIn(listing.output, wanted.chain);
    DeleteRules(tool, wanted.chain, stale);
    for (std::size_t i = 0; i < wanted.rules.size(); ++i) {
      std::vector<std::string> argv{tool, "-w", "-I", wanted.chain, std::to_string(i + 1)};
      argv.insert(argv.end(), wanted.rules[i].begin(), wanted.rules[i].end());
      Run(argv);
    }
    std::string where =
        fmt::format("{}{}", wanted.chain, wanted.family == IpFamily::kIpv6 ? " (ip6tables)" : "");
    if (wanted.rules.empty())
      done.push_back(fmt::format("removed virtnat's {} rules from {}", stale.size(), where));
    else
      done.push_back(fmt::format("{} virtnat's {} accept rules on top of {}",
                                 stale.empty() ? "added" : "put back", wanted.rules.size(), where));
  }
  return done;
}

std::vector<std::string> IptablesAdminChains::Remove() {
  std::vector<std::string> done;
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    std::vector<std::string> chains = Chains();
    if (family == IpFamily::kIpv6) chains.push_back("FORWARD");  // Docker 20.10's ip6tables
    for (const auto& chain : chains)
      if (std::size_t removed = RemoveOurs(Tool(family), chain); removed > 0)
        done.push_back(fmt::format("removed virtnat's {} rules from {}{}", removed, chain,
                                   family == IpFamily::kIpv6 ? " (ip6tables)" : ""));
  }
  return done;
}

}  // namespace virtnat
