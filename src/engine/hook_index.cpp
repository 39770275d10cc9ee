#include "engine/hook_index.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/files.h"

namespace virtnat {

HookIndex BuildHookIndex(const Config& config) {
  HookIndex index;
  index.ruleset_name = config.settings.ruleset_name;
  index.follow_vms = config.settings.vm_lifecycle == VmLifecycle::kLibvirt;
  index.strict = config.settings.strict_hook;
  index.shim = config.DelegatesFirewall();
  index.host_macs = BuildHostMacs(config);
  return index;
}

std::string SerializeHookIndex(const HookIndex& index) {
  nlohmann::json json = {{"table", index.ruleset_name},
                         {"follow_vms", index.follow_vms},
                         {"strict", index.strict},
                         {"shim", index.shim},
                         {"host_macs", index.host_macs}};
  return json.dump(1) + "\n";
}

HookIndex ParseHookIndex(const std::string& text) {
  try {
    auto json = nlohmann::json::parse(text);
    HookIndex index;
    index.ruleset_name = json.at("table").get<std::string>();
    index.follow_vms = json.at("follow_vms").get<bool>();
    index.strict = json.at("strict").get<bool>();
    index.shim = json.at("shim").get<bool>();
    index.host_macs = json.at("host_macs").get<std::map<std::string, std::string>>();
    return index;
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeFailure(fmt::format("unreadable hook index: {}", error.what()));
  }
}

void WriteHookIndex(const StateDir& state, const Config& config) {
  std::string content = SerializeHookIndex(BuildHookIndex(config));
  if (ReadFileIfExists(state.HookIndexPath()) != content)
    WriteFileAtomically(state.HookIndexPath(), content, 0600);
}

std::optional<HookIndex> ReadHookIndex(const StateDir& state) {
  auto text = ReadFileIfExists(state.HookIndexPath());
  if (!text) return std::nullopt;
  return ParseHookIndex(*text);
}

std::set<std::string> HostsOfDomain(const HookIndex& index, const std::string& domain,
                                    const std::set<std::string>& macs) {
  return HostsOfDomain(index.host_macs, domain, macs);
}

}  // namespace virtnat
