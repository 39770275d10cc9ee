#include "providers/ovn/ovn_driver.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/process.h"
#include "providers/ovn/ovn_plan.h"

namespace virtnat {
namespace {

using ovn::Change;
using ovn::DbRow;
using ovn::Plan;

constexpr const char* kNbctl = "/usr/bin/ovn-nbctl";
constexpr const char* kSbctl = "/usr/bin/ovn-sbctl";
constexpr const char* kDefaultNorthbound = "unix:/run/ovn/ovnnb_db.sock";
constexpr int kReadTimeoutSeconds = 10;
// How long apply waits for every hypervisor to take a change (--wait=hv). A chassis whose
// ovn-controller died but that is still registered never confirms: apply says which.
constexpr int kWaitSeconds = 30;
// What the kernel takes in one argument vector, with a margin (ARG_MAX is 2 MiB here).
constexpr std::size_t kMaxArguments = 1536 * 1024;

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "no output" : line;
}

std::string Join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

std::vector<std::string> NamesOf(const std::vector<const Network*>& networks) {
  std::vector<std::string> names;
  for (const Network* network : networks) names.push_back(network->name);
  return names;
}

// Reads one JSON document per requested table from ovn-nbctl/ovn-sbctl output.
std::vector<DbRow> ParseTables(const ProcessResult& result, const std::vector<std::string>& tables,
                               const std::string& what) {
  if (result.exit_status != 0)
    throw RuntimeFailure(
        fmt::format("cannot read the {} database: {}", what, FirstLine(result.output)));
  try {
    return ovn::ParseFindOutput(result.output, tables);
  } catch (const std::exception& error) {
    throw RuntimeFailure(fmt::format("cannot read the {} database: {}", what, error.what()));
  }
}

std::string Text(const DbRow& row, const std::string& column, ovn::Value::Kind kind) {
  auto cell = row.cells.find(column);
  return cell == row.cells.end() ? "" : ovn::ParseDatum(cell->second, kind).text;
}

}  // namespace

std::string DeriveSouthbound(const std::string& northbound) {
  std::string result;
  std::string_view rest = northbound;
  while (true) {
    auto comma = rest.find(',');
    std::string remote(rest.substr(0, comma));
    if (remote.starts_with("unix:")) {
      auto at = remote.rfind("ovnnb_db.sock");
      if (at == std::string::npos) return "";
      remote.replace(at, 13, "ovnsb_db.sock");
    } else if (remote.ends_with(":6641")) {
      remote.replace(remote.size() - 4, 4, "6642");
    } else {
      return "";
    }
    result += (result.empty() ? "" : ",") + remote;
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return result;
}

OvnDriver::OvnDriver(const Config& config) : config_(config) {
  const FleetSettings& fleet = config.settings.fleet;
  used_ = !fleet.northbound.empty();
  for (const auto& network : config.networks)
    used_ = used_ || network.provider == NetworkProvider::kOvn;
  northbound_ = fleet.northbound.empty() ? kDefaultNorthbound : fleet.northbound;
  southbound_ = fleet.southbound.empty() ? DeriveSouthbound(northbound_) : fleet.southbound;
}

std::vector<std::string> OvnDriver::Database(const std::string& remote) const {
  std::vector<std::string> args{"--db=" + remote};
  const FleetSettings& fleet = config_.settings.fleet;
  if (!fleet.ssl_private_key.empty()) {
    args.push_back("--private-key=" + fleet.ssl_private_key);
    args.push_back("--certificate=" + fleet.ssl_certificate);
    args.push_back("--ca-cert=" + fleet.ssl_ca_cert);
  }
  return args;
}

const std::vector<DbRow>& OvnDriver::Rows() {
  if (rows_) return *rows_;
  if (access(kNbctl, X_OK) != 0)
    throw RuntimeFailure(fmt::format(
        "ovn: {} is missing (Debian: apt-get install ovn-common); it writes the ovn networks",
        kNbctl));
  std::vector<std::string> argv{kNbctl};
  for (auto& arg : Database(northbound_)) argv.push_back(std::move(arg));
  argv.push_back(fmt::format("--timeout={}", kReadTimeoutSeconds));
  argv.push_back("--format=json");
  for (const auto& table : ovn::Tables())
    for (const char* word : {"--", "find", table.c_str(), "external_ids:virtnat=1"})
      argv.push_back(word);
  try {
    rows_ = ParseTables(RunProgram(argv), ovn::Tables(), "OVN northbound (" + northbound_ + ")");
  } catch (const RuntimeFailure& error) {
    throw RuntimeFailure(fmt::format("ovn: {}", error.what()));
  }
  return *rows_;
}

const OvnDriver::Southbound* OvnDriver::South() {
  if (south_) return &*south_;
  if (!south_error_.empty()) return nullptr;
  if (southbound_.empty()) {
    south_error_ = "southbound database unknown: set ovn_southbound";
    return nullptr;
  }
  std::vector<std::string> argv{kSbctl};
  for (auto& arg : Database(southbound_)) argv.push_back(std::move(arg));
  for (const char* word :
       {"--timeout=10", "--format=json", "--", "--columns=logical_port,chassis,up", "list",
        "Port_Binding", "--", "--columns=_uuid,name", "list", "Chassis"})
    argv.push_back(word);
  try {
    auto rows = ParseTables(RunProgram(argv), {"Port_Binding", "Chassis"},
                            "OVN southbound (" + southbound_ + ")");
    Southbound south;
    std::map<std::string, std::string> chassis_names;
    for (const auto& row : rows)
      if (row.table == "Chassis") {
        std::string name = Text(row, "name", ovn::Value::Kind::kString);
        chassis_names[row.uuid] = name;
        south.chassis.insert(name);
      }
    for (const auto& row : rows)
      if (row.table == "Port_Binding") {
        Binding binding;
        std::string chassis = Text(row, "chassis", ovn::Value::Kind::kString);
        if (auto found = chassis_names.find(chassis); found != chassis_names.end())
          binding.chassis = found->second;
        binding.up = Text(row, "up", ovn::Value::Kind::kString) == "true";
        south.ports[Text(row, "logical_port", ovn::Value::Kind::kString)] = binding;
      }
    south_ = std::move(south);
  } catch (const std::exception& error) {
    south_error_ = error.what();
    return nullptr;
  }
  return &*south_;
}

// Chassis that have not caught up with the northbound database (Chassis_Private.nb_cfg behind
// NB_Global.nb_cfg).
std::vector<std::string> OvnDriver::LaggingChassis() {
  std::vector<std::string> lagging;
  std::vector<std::string> nb{kNbctl}, sb{kSbctl};
  for (auto& arg : Database(northbound_)) nb.push_back(std::move(arg));
  for (auto& arg : Database(southbound_)) sb.push_back(std::move(arg));
  for (auto* argv : {&nb, &sb}) argv->insert(argv->end(), {"--timeout=10", "--format=json"});
  nb.insert(nb.end(), {"--", "--columns=nb_cfg", "list", "NB_Global"});
  sb.insert(sb.end(), {"--", "--columns=name,nb_cfg", "list", "Chassis_Private"});
  try {
    auto global = ParseTables(RunProgram(nb), {"NB_Global"}, "northbound");
    if (global.empty() || southbound_.empty()) return lagging;
    long long want = std::stoll(Text(global.front(), "nb_cfg", ovn::Value::Kind::kInteger));
    for (const auto& row : ParseTables(RunProgram(sb), {"Chassis_Private"}, "southbound")) {
      std::string have = Text(row, "nb_cfg", ovn::Value::Kind::kInteger);
      if (have.empty() || std::stoll(have) < want)
        lagging.push_back(Text(row, "name", ovn::Value::Kind::kString));
    }
  } catch (const std::exception&) {
    // Only a hint for the message; the caller says the wait timed out either way.
  }
  return lagging;
}

std::string OvnDriver::Send(const Change& change, const Plan& want,
                            const std::optional<std::string>& scope) {
  std::vector<std::string> argv{kNbctl};
  for (auto& arg : Database(northbound_)) argv.push_back(std::move(arg));
  argv.push_back("--wait=hv");
  argv.push_back(fmt::format("--timeout={}", kWaitSeconds));
  std::size_t size = 0;
  for (auto& arg : ovn::TransactionArguments(change)) {
    size += arg.size() + 1;
    argv.push_back(std::move(arg));
  }
  if (size > kMaxArguments)
    throw RuntimeFailure(
        fmt::format("ovn: the transaction is too large for one ovn-nbctl command line ({} KiB, {})",
                    size / 1024, change.Summary()));
  auto start = std::chrono::steady_clock::now();
  ProcessResult result = RunProgram(argv);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rows_.reset();
  south_.reset();
  south_error_.clear();
  if (result.exit_status == 0)
    return fmt::format("{} in one transaction; every hypervisor took it within {:.2f} s",
                       change.Summary(), seconds);
  // Killed by its --timeout (or failed): committed or not?
  const auto& rows = Rows();
  bool committed = scope ? ovn::Diff(want, ovn::OnlyNetwork(rows, *scope)).Empty()
                         : ovn::Diff(want, rows).Empty();
  if (!committed)
    throw RuntimeFailure(
        fmt::format("ovn: ovn-nbctl failed ({}): {}", change.Summary(), FirstLine(result.output)));
  auto lagging = LaggingChassis();
  return fmt::format(
      "{} in one transaction; warning: not every hypervisor confirmed it within {} s{}",
      change.Summary(), kWaitSeconds,
      lagging.empty() ? "" : " (behind: " + Join(lagging) + "; is their ovn-controller running?)");
}

void OvnDriver::Prepare(const Config& config, const std::vector<const Network*>& networks) {
  if (networks.empty() && config.settings.fleet.northbound.empty()) return;
  Rows();  // an unreachable database stops apply before anything changes
}

std::vector<std::string> OvnDriver::Realise(const Config& config,
                                            const std::vector<const Network*>& networks) {
  if (networks.empty() && config.settings.fleet.northbound.empty()) return {};
  Plan plan = ovn::PlanNetworks(config, networks);
  Change change = ovn::Diff(plan, Rows());
  std::string names = networks.empty() ? "no networks" : "networks " + Join(NamesOf(networks));
  if (change.Empty())
    return {fmt::format("no change: OVN northbound already matches the config ({})", names)};
  return {fmt::format("applied: OVN northbound ({}): {}", names, Send(change, plan, std::nullopt))};
}

std::string OvnDriver::ActiveGateway(const Network& network) {
  const Southbound* south = South();
  if (!south) return "";
  auto found = south->ports.find(ovn::NetworkNames(network.name).RedirectPort());
  return found == south->ports.end() ? "" : found->second.chassis;
}

std::string OvnDriver::State(const Network& network) {
  std::vector<DbRow> rows;
  try {
    rows = ovn::OnlyNetwork(Rows(), network.name);
  } catch (const RuntimeFailure& error) {
    return fmt::format("unknown: {}", error.what());
  }
  if (rows.empty()) return "down: not in OVN (`virtnat apply` creates it)";
  Change change = ovn::Diff(ovn::PlanNetworks(config_, {&network}), rows);
  if (!change.Empty())
    return fmt::format("drift: {} rows missing, {} differ, {} extra (`virtnat apply` repairs it)",
                       change.created, change.changed, change.removed);
  if (network.mode == NetworkMode::kIsolated) return "up";
  if (!South()) return "up (gateway unknown: " + south_error_ + ")";
  std::string gateway = ActiveGateway(network);
  return gateway.empty() ? "degraded: no active gateway chassis" : "up, gateway " + gateway;
}

std::vector<std::string> OvnDriver::StatusDetails(const Network& network) {
  std::vector<std::string> lines;
  ovn::NetworkNames names(network.name);
  const Southbound* south = South();
  if (!network.gateway_chassis.empty()) {
    std::string active = ActiveGateway(network);
    std::vector<std::string> chassis;
    for (const auto& name : network.gateway_chassis)
      chassis.push_back(name + (name == active                            ? " (active)"
                                : south && !south->chassis.contains(name) ? " (not registered)"
                                                                          : ""));
    lines.push_back(fmt::format("gateway chassis, in priority order: {}", Join(chassis)));
  }
  if (!south) {
    lines.push_back("ports: unknown (" + south_error_ + ")");
    return lines;
  }
  for (const auto& host : network.hosts) {
    auto found = south->ports.find(names.Port(host.name));
    std::string state =
        found == south->ports.end() ? "not in the southbound database"
        : found->second.chassis.empty()
            ? "down (no VM plugged in on any chassis)"
            : fmt::format("{} on {}", found->second.up ? "up" : "down", found->second.chassis);
    std::string addresses = host.address.ToString();
    if (network.address6 && host.address6) addresses += " " + host.address6->ToString();
    lines.push_back(fmt::format("port {} ({} {}): {}; id {}", names.PortLabel(host.name), host.name,
                                addresses, state, names.Port(host.name)));
  }
  return lines;
}

std::vector<ProviderForward> OvnDriver::ForwardStates(const Config& config,
                                                      const Network& network) {
  std::vector<ProviderForward> states;
  // The VIPs of virtnat's load balancers of this network, by load balancer name.
  std::map<std::string, std::map<std::string, std::string>> found;
  std::string unreachable;
  try {
    for (const auto& row : ovn::OnlyNetwork(Rows(), network.name))
      if (row.table == "Load_Balancer")
        found[Text(row, "name", ovn::Value::Kind::kString)] =
            ovn::ParseDatum(row.cells.at("vips"), ovn::Value::Kind::kMap).map;
  } catch (const RuntimeFailure& error) {
    unreachable = error.what();
  }
  const Southbound* south = South();
  std::string gateway = ActiveGateway(network);
  ovn::NetworkNames names(network.name);
  for (const Forward* forward : ovn::ForwardsOf(config, network)) {
    ProviderForward state{*forward, "", false, false};
    bool installed = unreachable.empty();
    for (Protocol protocol : forward->protocols)
      for (const auto& [name, vips] : ovn::ForwardLoadBalancers(network, *forward, protocol)) {
        auto have = found.find(name);
        for (const auto& [vip, backend] : vips)
          installed = installed && have != found.end() && have->second.contains(vip) &&
                      have->second.at(vip) == backend;
      }
    auto [owner, host] = config.FindHostByAddress(forward->target);
    if (!unreachable.empty()) {
      state.state = "unknown: " + unreachable;
    } else if (!installed) {
      state.state = "not installed (`virtnat apply` installs it)";
    } else if (!south) {
      state.state = "installed (southbound unknown)";
      state.active = true;
    } else if (gateway.empty()) {
      state.state = "no active gateway chassis";
    } else if (host && owner && owner->name == network.name) {
      auto binding = south->ports.find(names.Port(host->name));
      if (binding != south->ports.end() && binding->second.up) {
        state.active = true;
        state.state =
            fmt::format("active (gateway {}, VM on {})", gateway, binding->second.chassis);
      } else {
        state.waiting = true;
        state.state = "waiting for its VM (port down)";
      }
    } else {
      state.active = true;
      state.state = fmt::format("active (gateway {})", gateway);
    }
    states.push_back(std::move(state));
  }
  return states;
}

std::vector<std::string> OvnDriver::Start(const Config& config, const Network& network) {
  Plan plan = ovn::PlanNetworks(config, {&network});
  Change change = ovn::Diff(plan, ovn::OnlyNetwork(Rows(), network.name));
  if (change.Empty())
    return {
        fmt::format("network {}: OVN northbound already has it as the config says", network.name)};
  return {fmt::format("network {}: started in OVN: {}", network.name,
                      Send(change, plan, network.name))};
}

std::vector<std::string> OvnDriver::Stop(const Network& network, bool undefine) {
  Change change = ovn::Diff({}, ovn::OnlyNetwork(Rows(), network.name));
  if (change.Empty()) return {fmt::format("network {}: not in OVN northbound", network.name)};
  return {fmt::format("network {}: {} OVN northbound: {}", network.name,
                      undefine ? "undefined, removed from" : "stopped, removed from",
                      Send(change, {}, network.name))};
}

std::string OvnDriver::Status(const Network& network) {
  std::string text = fmt::format("network {}: provider ovn, {}", network.name, State(network));
  for (const auto& line : StatusDetails(network)) text += "\n  " + line;
  return text;
}

std::string OvnDriver::Definition(const Network& network) {
  return fmt::format(
      "# The OVN northbound rows of network {}, as the one ovn-nbctl transaction that creates\n"
      "# them in a database without them (apply sends only what differs).\n{}",
      network.name, ovn::RenderPlan(ovn::PlanNetworks(config_, {&network})));
}

std::vector<NetworkLease> OvnDriver::Leases(const Network& network) {
  // OVN's DHCP answers each port with its one address: a port that is up holds it.
  const Southbound* south = South();
  if (!south) throw RuntimeFailure("ovn: " + south_error_);
  std::vector<NetworkLease> leases;
  ovn::NetworkNames names(network.name);
  for (const auto& host : network.hosts) {
    auto found = south->ports.find(names.Port(host.name));
    if (found == south->ports.end() || !found->second.up) continue;
    std::string mac = host.mac.ToString();
    for (char& c : mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    leases.push_back({0, mac, host.address.ToString(), host.name, ""});
  }
  return leases;
}

std::vector<ProviderNetwork> OvnDriver::ListNetworks() {
  if (!used_) return {};
  std::vector<ProviderNetwork> networks;
  for (const auto& row : Rows()) {
    if (row.table != "Logical_Switch") continue;
    std::string name = Text(row, "name", ovn::Value::Kind::kString);
    if (name.find('.') != std::string::npos) continue;  // a network's provider switch
    networks.push_back({name, "ovn", true, true, "br-int"});
  }
  return networks;
}

std::vector<std::string> OvnDriver::Warnings(const Config& config) {
  std::vector<std::string> warnings;
  bool any = false;
  for (const auto& network : config.networks)
    any = any || (network.provider == NetworkProvider::kOvn && !network.gateway_chassis.empty());
  if (!any) return warnings;
  const Southbound* south = South();
  if (!south) {
    warnings.push_back("ovn: cannot check the gateway chassis: " + south_error_);
    return warnings;
  }
  for (const auto& network : config.networks)
    for (const auto& chassis : network.gateway_chassis)
      if (network.provider == NetworkProvider::kOvn && !south->chassis.contains(chassis))
        warnings.push_back(fmt::format(
            "network {}: gateway chassis {} is not registered in OVN's southbound database (is "
            "its ovn-controller running, with system-id {}?)",
            network.name, chassis, chassis));
  return warnings;
}

std::vector<std::string> OvnDriver::Down(const Config&) {
  if (!used_) return {};
  const auto& rows = Rows();
  std::set<std::string> networks;
  for (const auto& row : rows) networks.insert(row.ExternalId("virtnat-network"));
  Change change = ovn::Diff({}, rows);
  if (change.Empty()) return {"OVN northbound holds no rows of virtnat's"};
  return {fmt::format("removed virtnat's rows from OVN northbound (networks {}): {}",
                      Join({networks.begin(), networks.end()}), Send(change, {}, std::nullopt))};
}

std::string OvnDriver::InterfaceXml(const Network& network, const Host& host) {
  return ovn::InterfaceXml(network, host);
}

}  // namespace virtnat
