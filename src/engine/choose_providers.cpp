// The one place that picks a network driver for each provider.
#include <fmt/format.h>

#include "base/errors.h"
#include "engine/network_driver.h"
#include "providers/external/external_driver.h"
#include "providers/libvirt/libvirt_driver.h"
#include "providers/ovn/ovn_driver.h"
#include "providers/standalone/standalone_driver.h"

namespace virtnat {

NetworkDriver& Providers::For(const Network& network) const {
  for (const auto& [provider, driver] : drivers)
    if (provider == network.provider) return *driver;
  throw RuntimeFailure(fmt::format("network {}: no driver for provider {}", network.name,
                                   ToString(network.provider)));
}

Providers ChooseProviders(const Config& config, const std::string& libvirt_uri) {
  Providers providers;
  auto session = std::make_shared<LibvirtSession>(libvirt_uri.empty() ? config.settings.libvirt_uri
                                                                      : libvirt_uri);
  providers.drivers.emplace_back(NetworkProvider::kExternal, std::make_unique<ExternalDriver>());
  providers.drivers.emplace_back(NetworkProvider::kStandalone,
                                 std::make_unique<StandaloneDriver>());
  providers.drivers.emplace_back(NetworkProvider::kLibvirt,
                                 std::make_unique<LibvirtDriver>(session));
  providers.drivers.emplace_back(NetworkProvider::kOvn, std::make_unique<OvnDriver>(config));
  providers.vms = std::make_unique<LibvirtVmInventory>(session);
  providers.follow_vms = LibvirtFollowsVms(config);
  return providers;
}

}  // namespace virtnat
