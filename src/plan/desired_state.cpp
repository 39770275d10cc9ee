#include "plan/desired_state.h"

namespace virtnat {

std::vector<PortMapping> ExpandForward(const Forward& forward) {
  std::vector<PortMapping> mappings;
  mappings.reserve(forward.protocols.size() * forward.port.Size());
  for (auto protocol : forward.protocols)
    for (int offset = 0; offset < forward.port.Size(); ++offset)
      mappings.push_back({forward.listen, protocol,
                          static_cast<std::uint16_t>(forward.port.first + offset), forward.target,
                          static_cast<std::uint16_t>(forward.to_port.first + offset)});
  return mappings;
}

bool IsForwardActive(const Config& config, const Forward& forward, const RunningHosts& running) {
  if (config.settings.vm_lifecycle == VmLifecycle::kIgnore) return true;
  std::string host = forward.host;
  if (host.empty()) {
    auto [network, owner] = config.FindHostByAddress(forward.target);
    if (!owner) return true;  // not a VM virtnat knows: nothing to follow
    host = owner->name;
  }
  return running.contains(host);
}

DesiredState BuildDesiredState(const Config& config, const RunningHosts& running) {
  DesiredState state{&config, {}};
  state.forwards.reserve(config.forwards.size());
  for (const auto& forward : config.forwards)
    state.forwards.push_back(
        {&forward, IsForwardActive(config, forward, running), ExpandForward(forward)});
  return state;
}

}  // namespace virtnat
