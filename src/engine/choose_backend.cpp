#include "engine/choose_backend.h"

#include "backends/nftables/nftables_backend.h"

namespace virtnat {

std::unique_ptr<FirewallBackend> ChooseFirewallBackend(const std::string& ruleset_name,
                                                       const StateDir& state) {
  return std::make_unique<NftablesBackend>(ruleset_name, state);
}

}  // namespace virtnat
