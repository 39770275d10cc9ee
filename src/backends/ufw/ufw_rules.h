// ufw beside virtnat: ufw's forward and input policies are DROP, so virtnat adds ufw rules of
// its own, through ufw itself (/usr/sbin/ufw, argument vectors, comment "virtnat"), where ufw
// keeps them in its user rules: `ufw reload` and a reboot bring them back, and virtnat never
// touches ufw's chains while ufw rebuilds them. Per bridge of a nat, routed or isolated network
// whose firewall is virtnat's table:
//   ufw route allow in on BRIDGE    ufw route allow out on BRIDGE
// and per such bridge whose network's DHCP/DNS runs on the host:
//   ufw allow in on BRIDGE to any port 67 proto udp   (and 53 udp, 53 tcp)
// ufw writes each of them for iptables and, with IPV6=yes, for ip6tables (user6.rules); both
// files are checked. virtnat's own table still filters the forwarded traffic by each network's
// mode.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/firewall_neighbour.h"

namespace virtnat {

struct UfwRule {
  std::string tuple;                // as ufw records it in user.rules ("### tuple ### ...")
  std::vector<std::string> add;     // ufw's arguments that add it
  std::vector<std::string> remove;  // and that delete it
};

// Pure: the rules virtnat keeps in ufw for `state`.
std::vector<UfwRule> BuildUfwRules(const DesiredState& state);
// Pure: the tuples of user.rules that carry virtnat's comment.
std::set<std::string> VirtnatUfwTuples(const std::string& user_rules);
// Pure: a user.rules tuple as ufw writes the same rule in user6.rules ("0.0.0.0/0" -> "::/0"),
// and back.
std::string Ipv6Tuple(const std::string& tuple);
std::string Ipv4Tuple(const std::string& tuple);
// Pure: the rules of `wanted` missing from user.rules or, when given (ufw with IPv6),
// user6.rules.
std::vector<UfwRule> MissingUfwRules(const std::vector<UfwRule>& wanted,
                                     const std::string& user_rules,
                                     const std::optional<std::string>& user6_rules);
// Pure: virtnat's tuples in either file, in user.rules' form.
std::set<std::string> VirtnatUfwTuplesOfBoth(const std::string& user_rules,
                                             const std::optional<std::string>& user6_rules);
// Pure: /etc/default/ufw says IPV6=yes.
bool UfwDefaultsEnableIpv6(const std::string& defaults);
// Pure: the ufw arguments that delete a rule of virtnat's recorded as `tuple` (empty if the
// tuple is none of the kinds virtnat adds).
std::vector<std::string> UfwDeleteArgs(const std::string& tuple);

class UfwRules : public FirewallNeighbour {
 public:
  std::string Name() const override { return "ufw"; }
  std::vector<std::string> Ensure(const DesiredState& state) override;
  std::vector<std::string> Remove() override;

  static constexpr const char* kComment = "virtnat";

 private:
  // ufw is enabled here: its chain ufw-user-forward exists.
  static bool Enabled();
  static std::optional<std::string> User6Rules();
};

}  // namespace virtnat
