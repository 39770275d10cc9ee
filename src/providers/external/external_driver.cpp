#include "providers/external/external_driver.h"

#include <fmt/format.h>
#include <net/if.h>

#include "base/errors.h"

namespace virtnat {

std::string BridgeState(const Network& network) {
  if (network.bridge.empty() || if_nametoindex(network.bridge.c_str()) == 0)
    return fmt::format("down: no bridge {}", network.bridge);
  return "up";
}

std::string ExternalDriver::State(const Network& network) {
  return BridgeState(network);
}

namespace {
BadInput NotVirtnats(const Network& network, const std::string& action) {
  return BadInput(fmt::format(
      "virtnat: network '{}' is not defined by virtnat (provider {}); virtnat does not {} it",
      network.name, ToString(network.provider), action));
}
}  // namespace

std::vector<std::string> ExternalDriver::Start(const Config&, const Network& network) {
  throw NotVirtnats(network, "start");
}

std::vector<std::string> ExternalDriver::Stop(const Network& network, bool undefine) {
  throw NotVirtnats(network, undefine ? "undefine" : "stop");
}

std::string ExternalDriver::Status(const Network& network) {
  return fmt::format("network {}: provider external, bridge {} {}", network.name, network.bridge,
                     BridgeState(network) == "up" ? "present" : "absent");
}

std::string ExternalDriver::Definition(const Network& network) {
  throw BadInput(fmt::format(
      "virtnat: network '{}' has provider external: virtnat defines nothing for it", network.name));
}

}  // namespace virtnat
