#include "engine/choose_backend.h"

#include "backends/firewalld/firewalld_zone.h"
#include "backends/iptables/admin_chains.h"
#include "backends/nftables/nftables_backend.h"
#include "backends/ufw/ufw_rules.h"

namespace virtnat {

std::unique_ptr<FirewallBackend> ChooseFirewallBackend(const std::string& ruleset_name,
                                                       const StateDir& state) {
  return std::make_unique<NftablesBackend>(ruleset_name, state);
}

FirewallNeighbours ChooseFirewallNeighbours() {
  FirewallNeighbours neighbours;
  neighbours.push_back(std::make_unique<FirewalldZone>());
  neighbours.push_back(std::make_unique<IptablesAdminChains>(AdminChainTool::kDocker));
  neighbours.push_back(std::make_unique<UfwRules>());
  return neighbours;
}

}  // namespace virtnat
