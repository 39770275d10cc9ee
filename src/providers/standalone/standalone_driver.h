// provider = "standalone": virtnat's own bridge and dnsmasq (standalone_network.h).
#pragma once

#include "engine/network_driver.h"
#include "providers/standalone/dnsmasq_config.h"

namespace virtnat {

class StandaloneDriver : public NetworkDriver {
 public:
  StandaloneDriver() : paths_(StandalonePathsFromEnvironment()) {}
  std::vector<std::string> Realise(const Config& config,
                                   const std::vector<const Network*>& networks) override;
  std::string State(const Network& network) override;
  std::vector<std::string> Start(const Config& config, const Network& network) override;
  std::vector<std::string> Stop(const Network& network, bool undefine) override;
  std::string Status(const Network& network) override;
  std::string Definition(const Network& network) override;
  bool StartStopReapplies() const override { return true; }
  std::vector<NetworkLease> Leases(const Network& network) override;

 private:
  StandalonePaths paths_;
};

}  // namespace virtnat
