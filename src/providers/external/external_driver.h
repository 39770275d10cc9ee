// provider = "external": the bridge exists and belongs to someone else; virtnat only does the
// firewall. Nothing to realise, start or stop.
#pragma once

#include "engine/network_driver.h"

namespace virtnat {

class ExternalDriver : public NetworkDriver {
 public:
  std::vector<std::string> Realise(const Config&, const std::vector<const Network*>&) override {
    return {};
  }
  std::string State(const Network& network) override;
  std::vector<std::string> Start(const Config& config, const Network& network) override;
  std::vector<std::string> Stop(const Network& network, bool undefine) override;
  std::string Status(const Network& network) override;
  std::string Definition(const Network& network) override;
  std::vector<NetworkLease> Leases(const Network&) override { return {}; }
};

// "up", or "down: no bridge B" when the network's bridge does not exist.
std::string BridgeState(const Network& network);

}  // namespace virtnat
