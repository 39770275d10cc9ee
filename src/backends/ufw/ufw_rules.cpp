#include "backends/ufw/ufw_rules.h"

#include <fmt/format.h>
#include <unistd.h>

#include <sstream>

#include "base/errors.h"
#include "base/files.h"
#include "base/process.h"

namespace virtnat {
namespace {

constexpr const char* kUfw = "/usr/sbin/ufw";
constexpr const char* kIptables = "/usr/sbin/iptables";
constexpr const char* kUserRules = "/etc/ufw/user.rules";
constexpr const char* kUser6Rules = "/etc/ufw/user6.rules";  // with IPV6=yes, ufw's default
constexpr const char* kUfwDefaults = "/etc/default/ufw";
// ufw records a rule's comment in hex.
constexpr const char* kCommentHex = "766972746e6174";  // "virtnat"
constexpr const char* kTuplePrefix = "### tuple ### ";

std::string Joined(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& arg : args) text += (text.empty() ? "" : " ") + arg;
  return text;
}

void RunUfw(std::vector<std::string> args) {
  args.insert(args.begin(), kUfw);
  ProcessResult result = RunProgram(args);
  if (result.exit_status != 0) {
    std::string output = result.output;
    while (!output.empty() && output.back() == '\n') output.pop_back();
    throw RuntimeFailure(fmt::format("ufw: `{}` failed: {}", Joined(args), output));
  }
}

UfwRule Route(const std::string& direction, const std::string& bridge) {
  return {fmt::format("route:allow any any 0.0.0.0/0 any 0.0.0.0/0 {}_{}", direction, bridge),
          {"route", "allow", direction, "on", bridge, "comment", UfwRules::kComment},
          {"route", "delete", "allow", direction, "on", bridge}};
}

UfwRule Service(const std::string& bridge, const std::string& protocol, int port) {
  std::string port_text = std::to_string(port);
  return {fmt::format("allow {} {} 0.0.0.0/0 any 0.0.0.0/0 in_{}", protocol, port, bridge),
          {"allow", "in", "on", bridge, "to", "any", "port", port_text, "proto", protocol,
           "comment", UfwRules::kComment},
          {"--force", "delete", "allow", "in", "on", bridge, "to", "any", "port", port_text,
           "proto", protocol}};
}

}  // namespace

std::vector<UfwRule> BuildUfwRules(const DesiredState& state) {
  std::vector<UfwRule> rules;
  std::set<std::string> seen;
  for (const auto& network : state.networks) {
    bool filtered = network.mode == NetworkMode::kNat || network.mode == NetworkMode::kRouted ||
                    network.mode == NetworkMode::kIsolated;
    if (!filtered || !network.VirtnatOwnsFirewall() || network.bridge.empty() ||
        !seen.insert(network.bridge).second)
      continue;
    rules.push_back(Route("in", network.bridge));
    rules.push_back(Route("out", network.bridge));
    if (network.HostServesDhcp()) {
      rules.push_back(Service(network.bridge, "udp", 67));
      rules.push_back(Service(network.bridge, "udp", 53));
      rules.push_back(Service(network.bridge, "tcp", 53));
      // DHCPv6 (ufw's before6.rules already pass the ICMPv6 of RA and ND).
      if (network.DualStack()) rules.push_back(Service(network.bridge, "udp", 547));
    }
  }
  return rules;
}

std::set<std::string> VirtnatUfwTuples(const std::string& user_rules) {
  std::set<std::string> tuples;
  std::istringstream lines(user_rules);
  std::string line;
  const std::string ours = std::string(" comment=") + kCommentHex;
  while (std::getline(lines, line)) {
    if (!line.starts_with(kTuplePrefix) || !line.ends_with(ours)) continue;
    tuples.insert(line.substr(std::string(kTuplePrefix).size(),
                              line.size() - std::string(kTuplePrefix).size() - ours.size()));
  }
  return tuples;
}

namespace {

// The tuple with every word `from` replaced by `to`.
std::string WithWordReplaced(const std::string& tuple, const std::string& from,
                             const std::string& to) {
  std::string out;
  std::istringstream words(tuple);
  for (std::string word; words >> word;)
    out += (out.empty() ? "" : " ") + (word == from ? to : word);
  return out;
}

}  // namespace

std::string Ipv6Tuple(const std::string& tuple) {
  return WithWordReplaced(tuple, "0.0.0.0/0", "::/0");
}

std::string Ipv4Tuple(const std::string& tuple) {
  return WithWordReplaced(tuple, "::/0", "0.0.0.0/0");
}

std::vector<UfwRule> MissingUfwRules(const std::vector<UfwRule>& wanted,
                                     const std::string& user_rules,
                                     const std::optional<std::string>& user6_rules) {
  std::set<std::string> have = VirtnatUfwTuples(user_rules);
  std::set<std::string> have6 =
      user6_rules ? VirtnatUfwTuples(*user6_rules) : std::set<std::string>{};
  std::vector<UfwRule> missing;
  for (const auto& rule : wanted)
    if (!have.contains(rule.tuple) || (user6_rules && !have6.contains(Ipv6Tuple(rule.tuple))))
      missing.push_back(rule);
  return missing;
}

std::set<std::string> VirtnatUfwTuplesOfBoth(const std::string& user_rules,
                                             const std::optional<std::string>& user6_rules) {
  std::set<std::string> tuples = VirtnatUfwTuples(user_rules);
  if (user6_rules)
    for (const auto& tuple : VirtnatUfwTuples(*user6_rules)) tuples.insert(Ipv4Tuple(tuple));
  return tuples;
}

bool UfwDefaultsEnableIpv6(const std::string& defaults) {
  std::istringstream lines(defaults);
  bool ipv6 = false;  // ufw's own default when the line is missing
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("IPV6=")) continue;
    std::string value = line.substr(5);
    std::erase(value, '"');
    std::erase(value, '\'');
    ipv6 = value.starts_with("yes");
  }
  return ipv6;
}

std::vector<std::string> UfwDeleteArgs(const std::string& tuple) {
  std::istringstream words(tuple);
  std::vector<std::string> w;
  for (std::string word; words >> word;) w.push_back(word);
  if (w.size() != 7) return {};
  const std::string& where = w[6];  // in_BRIDGE or out_BRIDGE
  auto underscore = where.find('_');
  if (underscore == std::string::npos) return {};
  std::string direction = where.substr(0, underscore), bridge = where.substr(underscore + 1);
  if (w[0] == "route:allow") return Route(direction, bridge).remove;
  if (w[0] == "allow" && direction == "in" && (w[1] == "udp" || w[1] == "tcp"))
    return Service(bridge, w[1], std::stoi(w[2])).remove;
  return {};
}

bool UfwRules::Enabled() {
  if (access(kUfw, X_OK) != 0) return false;
  return RunProgram({kIptables, "-w", "-S", "ufw-user-forward"}).exit_status == 0;
}

// user6.rules when ufw also writes ip6tables rules (IPV6=yes), else nothing.
std::optional<std::string> UfwRules::User6Rules() {
  auto defaults = ReadFileIfExists(kUfwDefaults);
  if (!defaults || !UfwDefaultsEnableIpv6(*defaults)) return std::nullopt;
  return ReadFileIfExists(kUser6Rules).value_or("");
}

std::vector<std::string> UfwRules::Ensure(const DesiredState& state) {
  std::vector<UfwRule> wanted = BuildUfwRules(state);
  std::string user_rules = ReadFileIfExists(kUserRules).value_or("");
  std::optional<std::string> user6_rules = User6Rules();
  // ufw writes each of these rules to both files; a rule missing from either (an admin's ufw
  // command racing the watch's) is added again, and ufw skips the family that has it.
  std::vector<UfwRule> missing = MissingUfwRules(wanted, user_rules, user6_rules);
  std::set<std::string> wanted_tuples;
  for (const auto& rule : wanted) wanted_tuples.insert(rule.tuple);
  std::vector<std::string> unwanted;
  for (const auto& tuple : VirtnatUfwTuplesOfBoth(user_rules, user6_rules))
    if (!wanted_tuples.contains(tuple)) unwanted.push_back(tuple);
  if (missing.empty() && unwanted.empty()) return {};  // ufw's reloads keep its user rules
  if (!Enabled()) return {};
  std::vector<std::string> done;
  for (const auto& rule : missing) {
    RunUfw(rule.add);
    done.push_back(fmt::format("ufw: added `ufw {}`", Joined(rule.add)));
  }
  for (const auto& tuple : unwanted)
    if (auto args = UfwDeleteArgs(tuple); !args.empty()) {
      RunUfw(args);
      done.push_back(fmt::format("ufw: removed `ufw {}`", Joined(args)));
    }
  return done;
}

std::vector<std::string> UfwRules::Remove() {
  auto text = ReadFileIfExists(kUserRules);
  if (!text || access(kUfw, X_OK) != 0) return {};
  std::size_t removed = 0;
  for (const auto& tuple : VirtnatUfwTuplesOfBoth(*text, User6Rules()))
    if (auto args = UfwDeleteArgs(tuple); !args.empty()) {
      RunUfw(args);
      ++removed;
    }
  if (removed == 0) return {};
  return {fmt::format("ufw: removed virtnat's {} rules", removed)};
}

}  // namespace virtnat
