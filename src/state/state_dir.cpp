#include "state/state_dir.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/files.h"

namespace virtnat {

void StateDir::Ensure() const {
  std::error_code error;
  std::filesystem::create_directories(root_, error);
  if (error)
    throw RuntimeFailure(
        fmt::format("cannot create state folder {}: {}", root_.string(), error.message()));
  chmod(root_.c_str(), 0700);
}

std::map<std::string, std::set<std::string>> StateDir::ReadRunningDomains() const {
  std::map<std::string, std::set<std::string>> domains;
  auto text = ReadFileIfExists(root_ / "running.json");
  if (!text) return domains;
  try {
    auto json = nlohmann::json::parse(*text);
    if (json.contains("domains"))
      domains = json["domains"].get<std::map<std::string, std::set<std::string>>>();
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeFailure(fmt::format("{}: unreadable running set: {}",
                                     (root_ / "running.json").string(), error.what()));
  }
  return domains;
}

void StateDir::WriteRunningDomains(
    const std::map<std::string, std::set<std::string>>& domains) const {
  nlohmann::json json = {{"domains", domains}};
  WriteFileAtomically(root_ / "running.json", json.dump(1) + "\n", 0600);
}

RunningHosts StateDir::ReadRunningHosts() const {
  RunningHosts hosts;
  for (auto& [domain, names] : ReadRunningDomains()) hosts.insert(names.begin(), names.end());
  return hosts;
}

std::set<std::string> StateDir::ReadStoppedNetworks() const {
  std::set<std::string> networks;
  auto text = ReadFileIfExists(root_ / "stopped-networks.json");
  if (!text) return networks;
  try {
    networks = nlohmann::json::parse(*text).at("stopped").get<std::set<std::string>>();
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeFailure(fmt::format("{}: unreadable list of stopped networks: {}",
                                     (root_ / "stopped-networks.json").string(), error.what()));
  }
  return networks;
}

void StateDir::WriteStoppedNetworks(const std::set<std::string>& networks) const {
  std::filesystem::path path = root_ / "stopped-networks.json";
  if (networks.empty()) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return;
  }
  nlohmann::json json = {{"stopped", networks}};
  WriteFileAtomically(path, json.dump() + "\n", 0600);
}

}  // namespace virtnat
