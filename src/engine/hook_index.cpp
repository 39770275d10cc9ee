#include "engine/hook_index.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "backends/nftables/nft_ruleset.h"
#include "base/files.h"

namespace virtnat {

HookIndex BuildHookIndex(const Config& config) {
  HookIndex index;
  index.table = config.settings.table;
  index.follow_vms = config.settings.vm_lifecycle == VmLifecycle::kLibvirt;
  index.strict = config.settings.strict_hook;
  index.shim = config.NeedsLibvirtShim();
  for (const auto& network : config.networks) {
    for (const auto& host : network.hosts)
      index.host_macs[host.name] = host.mac == MacAddress{} ? "" : host.mac.ToString();
  }
  return index;
}

std::map<std::string, HostElements> BuildHostElements(const Config& config) {
  std::map<std::string, HostElements> hosts;
  for (const auto& forward : config.forwards) {
    std::string host = ForwardHost(config, forward);
    if (host.empty()) continue;
    const char* set = forward.listen ? nftset::kDnat : nftset::kDnatAny;
    for (const auto& mapping : ExpandForward(forward))
      hosts[host].elements.emplace_back(set, MappingElement(mapping));
  }
  return hosts;
}

std::string SerializeHookIndex(const HookIndex& index) {
  nlohmann::json json = {{"table", index.table},
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
    index.table = json.at("table").get<std::string>();
    index.follow_vms = json.at("follow_vms").get<bool>();
    index.strict = json.at("strict").get<bool>();
    index.shim = json.at("shim").get<bool>();
    index.host_macs = json.at("host_macs").get<std::map<std::string, std::string>>();
    return index;
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeFailure(fmt::format("unreadable hook index: {}", error.what()));
  }
}

std::string SerializeHostElements(const HostElements& elements) {
  std::string text;
  for (const auto& [set, element] : elements.elements) text += set + "\t" + element + "\n";
  return text;
}

HostElements ParseHostElements(const std::string& text) {
  HostElements elements;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    auto tab = line.find('\t');
    if (tab != std::string::npos)
      elements.elements.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    start = end + 1;
  }
  return elements;
}

void WriteHookState(const StateDir& state, const Config& config) {
  auto write_if_changed = [](const std::filesystem::path& path, const std::string& content) {
    if (ReadFileIfExists(path) != content) WriteFileAtomically(path, content, 0600);
  };
  std::filesystem::path hosts_dir = state.root() / "hosts";
  std::filesystem::create_directories(hosts_dir);
  auto hosts = BuildHostElements(config);
  for (const auto& [host, elements] : hosts)
    write_if_changed(hosts_dir / (host + ".elements"), SerializeHostElements(elements));
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(hosts_dir, error)) {
    std::string name = entry.path().stem().string();
    if (entry.path().extension() == ".elements" && !hosts.contains(name))
      std::filesystem::remove(entry.path(), error);
  }
  write_if_changed(state.root() / "hook-index.json", SerializeHookIndex(BuildHookIndex(config)));
}

std::optional<HookIndex> ReadHookIndex(const StateDir& state) {
  auto text = ReadFileIfExists(state.root() / "hook-index.json");
  if (!text) return std::nullopt;
  return ParseHookIndex(*text);
}

HostElements ReadHostElements(const StateDir& state, const std::string& host) {
  auto text = ReadFileIfExists(state.root() / "hosts" / (host + ".elements"));
  return text ? ParseHostElements(*text) : HostElements{};
}

std::set<std::string> HostsOfDomain(const HookIndex& index, const std::string& domain,
                                    const std::set<std::string>& macs) {
  std::set<std::string> hosts;
  for (const auto& [host, mac] : index.host_macs)
    if (host == domain || (!mac.empty() && macs.contains(mac))) hosts.insert(host);
  return hosts;
}

}  // namespace virtnat
