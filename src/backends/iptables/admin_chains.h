// Rules virtnat keeps on top of DOCKER-USER, the chain Docker leaves to the admin (FORWARD
// jumps there first), so that Docker's FORWARD policy DROP does not drop virtnat's forwards
// and its guests' traffic: -i BRIDGE -j ACCEPT and -o BRIDGE -j ACCEPT, each with the comment
// "virtnat"; never Docker's policy. Docker keeps DOCKER-USER across its restarts; `watch`
// puts the rules back when anyone removes them. virtnat's own table still filters by each
// network's mode: a drop there is final. Docker 20.10 with --ip6tables makes no DOCKER-USER in
// ip6tables: the IPv6 rules go on top of its FORWARD. (ufw: backends/ufw, through ufw itself.)
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/firewall_neighbour.h"

namespace virtnat {

// One chain and the rules virtnat keeps at its top, in order (iptables arguments after the
// chain's name), in the family's tool: iptables, or ip6tables (Docker with IPv6 sets
// ip6tables' FORWARD policy DROP too).
struct AdminChainRules {
  std::string chain;
  std::vector<std::vector<std::string>> rules;
  IpFamily family = IpFamily::kIpv4;
};

enum class AdminChainTool { kDocker };

// Pure: what virtnat keeps in the tool's chains for `state`: IPv4 for every bridge of a network
// virtnat filters, IPv6 for the dual-stack ones among them.
std::vector<AdminChainRules> BuildAdminChainRules(AdminChainTool tool, const DesiredState& state);

// Pure: `iptables -S CHAIN` output -> whether virtnat's rules are exactly the first ones, in
// order, and no other copy of them is further down.
bool AdminRulesOnTop(const std::string& listing, const AdminChainRules& wanted);
// Pure: the argument vectors (after -D CHAIN) of virtnat's rules in the listing.
std::vector<std::vector<std::string>> OurRulesIn(const std::string& listing,
                                                 const std::string& chain);

// Pure: Docker's ip6tables drop everything forwarded and leave no DOCKER-USER (Docker 20.10
// with --ip6tables): its chains are there, `-S FORWARD` has the policy DROP, DOCKER-USER is not.
bool DockerDropsWithoutUserChain(bool has_user_chain, bool has_docker_chain,
                                 const std::string& forward_listing);

class IptablesAdminChains : public FirewallNeighbour {
 public:
  explicit IptablesAdminChains(AdminChainTool tool) : tool_(tool) {}
  std::string Name() const override;
  std::vector<std::string> Ensure(const DesiredState& state) override;
  std::vector<std::string> Remove() override;

  static constexpr const char* kComment = "virtnat";

 private:
  std::vector<std::string> Chains() const;
  AdminChainTool tool_;
};

}  // namespace virtnat
