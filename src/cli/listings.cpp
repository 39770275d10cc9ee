#include "cli/listings.h"

#include <fmt/format.h>

#include "cli/doctor_command.h"
#include "cli/table_printer.h"
#include "config/validate.h"

namespace virtnat {
namespace {

std::string Location(const SourceLocation& where) {
  return fmt::format("{}:{}", where.file, where.line);
}

std::string MacText(const Host& host, const char* none) {
  return host.mac == MacAddress{} ? none : host.mac.ToString();
}

// A host's IPv6 address, when its network is dual-stack.
std::optional<Ipv6Address> HostAddress6Of(const Network& network, const Host& host) {
  return network.DualStack() ? host.address6 : std::nullopt;
}

nlohmann::json OptionalText(const std::optional<std::string>& text) {
  return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
}

}  // namespace

std::vector<IpFamily> ForwardFamilies(const Forward& forward) {
  std::vector<IpFamily> families;
  if (forward.open4) families.push_back(IpFamily::kIpv4);
  if (forward.open6 && forward.target6) families.push_back(IpFamily::kIpv6);
  if (families.empty()) families.push_back(IpFamily::kIpv4);  // never a forward without a row
  return families;
}

std::string ListenText(const Forward& forward, IpFamily family) {
  if (family == IpFamily::kIpv6) return forward.listen6 ? forward.listen6->ToString() : "::";
  return forward.listen ? forward.listen->ToString() : "*";
}

std::string TargetAddressText(const Forward& forward, IpFamily family) {
  if (family == IpFamily::kIpv6) return forward.target6 ? forward.target6->ToString() : "";
  return forward.target.ToString();
}

std::string TargetName(const Forward& forward, IpFamily family) {
  return forward.host.empty() ? TargetAddressText(forward, family) : forward.host;
}

std::string SourcesText(const Forward& forward, IpFamily family, const std::string& everybody) {
  if (forward.sources.empty() && forward.sources6.empty()) return everybody;
  std::string text;
  if (family == IpFamily::kIpv6)
    for (const auto& source : forward.sources6)
      text += (text.empty() ? "" : ",") + source.ToString();
  else
    for (const auto& source : forward.sources)
      text += (text.empty() ? "" : ",") + source.ToString();
  return text.empty() ? "none" : text;
}

std::string ForwardSummary(const Forward& forward) {
  return DescribeForward(forward);
}

nlohmann::json ForwardJson(const Forward& forward) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& source : forward.sources) sources.push_back(source.ToString());
  nlohmann::json sources6 = nlohmann::json::array();
  for (const auto& source : forward.sources6) sources6.push_back(source.ToString());
  bool ipv4 = forward.open4;
  bool ipv6 = forward.open6 && forward.target6;
  // "target" and "listen" are the IPv4 ones, "target6" and "listen6" the IPv6 ones ("*" = any
  // local address of that family); null when the forward does not open on that family.
  return {
      {"host", forward.host},
      {"target", OptionalText(ipv4 ? std::optional(forward.target.ToString()) : std::nullopt)},
      {"target6", OptionalText(ipv6 ? std::optional(forward.target6->ToString()) : std::nullopt)},
      {"network", forward.network},
      {"protocol", ProtocolsToString(forward.protocols)},
      {"listen",
       OptionalText(ipv4 ? std::optional(ListenText(forward, IpFamily::kIpv4)) : std::nullopt)},
      {"listen6", OptionalText(ipv6 ? std::optional(forward.listen6 ? forward.listen6->ToString()
                                                                    : std::string("*"))
                                    : std::nullopt)},
      {"port", ToString(forward.port)},
      {"to_port", ToString(forward.to_port)},
      {"source", sources},
      {"source6", sources6},
      {"description", forward.description},
      {"file", forward.where.file},
      {"line", forward.where.line}};
}

std::string ForwardListText(const Config& config) {
  TablePrinter table(
      {"PROTO", "LISTEN", "PORT", "TARGET", "TO_PORT", "SOURCE", "DESCRIPTION", "FILE"});
  for (const auto& forward : config.forwards)
    for (IpFamily family : ForwardFamilies(forward))
      table.Add({ProtocolsToString(forward.protocols), ListenText(forward, family),
                 ToString(forward.port), TargetName(forward, family), ToString(forward.to_port),
                 SourcesText(forward, family, "any"), forward.description,
                 Location(forward.where)});
  return table.ToString();
}

nlohmann::json ForwardListJson(const Config& config) {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& forward : config.forwards) json.push_back(ForwardJson(forward));
  return json;
}

std::string HostListText(const Config& config) {
  std::string text;
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts) {
      text +=
          fmt::format("{},{},{}", MacText(host, ""), network.Fqdn(host), host.address.ToString());
      if (auto address6 = HostAddress6Of(network, host)) text += "," + address6->ToString();
      text += "\n";
    }
  return text;
}

nlohmann::json HostJson(const Network& network, const Host& host) {
  auto address6 = HostAddress6Of(network, host);
  return {{"network", network.name},
          {"name", host.name},
          {"fqdn", network.Fqdn(host)},
          {"address", host.address.ToString()},
          {"address6", OptionalText(address6 ? std::optional(address6->ToString()) : std::nullopt)},
          {"mac", MacText(host, "")}};
}

nlohmann::json HostListJson(const Config& config) {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts) json.push_back(HostJson(network, host));
  return json;
}

std::pair<const Network*, const Host*> LookupHost(const Config& config, const std::string& key) {
  auto found = config.FindHost(key);
  if (found.second) return found;
  if (auto address = Ipv4Address::Parse(key)) return config.FindHostByAddress(*address);
  if (auto address6 = Ipv6Address::Parse(key)) {
    found = config.FindHostByAddress(*address6);
    if (found.first && found.first->DualStack()) return found;
  }
  return {nullptr, nullptr};
}

std::string HostLookupText(const Network& network, const Host& host) {
  std::string text =
      fmt::format("{} {} {}", network.Fqdn(host), host.address.ToString(), MacText(host, "-"));
  if (auto address6 = HostAddress6Of(network, host)) text += " " + address6->ToString();
  return text + "\n";
}

std::string StatusText(const StatusReport& status, const std::string& kernel) {
  std::string text = fmt::format("{}: {}\n\n", status.firewall, kernel);
  TablePrinter networks(
      {"NETWORK", "MODE", "PROVIDER", "BRIDGE", "ADDRESS", "DOMAIN", "HOSTS", "STATE"});
  for (const auto& [network, state, details] : status.networks) {
    networks.Add({network.name, ToString(network.mode), ToString(network.provider), network.bridge,
                  network.address.ToString(), network.domain, std::to_string(network.hosts.size()),
                  state});
    // A dual-stack network's IPv6 address on a line of its own, under the IPv4 one.
    if (network.address6) networks.Add({"", "", "", "", network.address6->ToString(), "", "", ""});
  }
  text += networks.ToString() + "\n";
  for (const auto& [network, state, details] : status.networks) {
    if (details.empty()) continue;
    text += fmt::format("network {} ({}):\n", network.name, ToString(network.provider));
    for (const auto& line : details) text += "  " + line + "\n";
    text += "\n";
  }
  TablePrinter forwards({"PROTO", "LISTEN", "PORT", "TARGET", "TO_PORT", "OPEN TO", "STATE",
                         "PACKETS", "BYTES", "DESCRIPTION"});
  for (const auto& status_line : status.forwards) {
    const Forward& forward = status_line.forward;
    // The counters are the forward's (both families together): on its first row only.
    bool first = true;
    for (IpFamily family : ForwardFamilies(forward)) {
      std::string packets = status_line.counted && first
                                ? std::to_string(status_line.counters.packets)
                                : (first ? "-" : "");
      std::string bytes = status_line.counted && first ? std::to_string(status_line.counters.bytes)
                                                       : (first ? "-" : "");
      forwards.Add(
          {ProtocolsToString(forward.protocols), ListenText(forward, family),
           ToString(forward.port),
           fmt::format("{} ({})", TargetName(forward, family), TargetAddressText(forward, family)),
           ToString(forward.to_port), SourcesText(forward, family, "WORLD"), status_line.state,
           packets, bytes, forward.description});
      first = false;
    }
  }
  text += forwards.ToString();
  // Blocked forwards: the rule that drops them (`virtnat doctor` has every finding and fix).
  for (const auto& [index, findings] : status.blocked) {
    const TrafficFinding& finding = findings.front();
    text += fmt::format(
        "\nblocked: {}: {} {}: {} (`virtnat doctor` tells the fix)",
        ForwardSummary(status.forwards.at(index).forward), finding.ruleset, finding.chain,
        finding.handle ? fmt::format("rule handle {}: {}", *finding.handle, finding.rule)
                       : finding.rule);
  }
  if (!status.blocked.empty()) text += "\n";
  return text;
}

nlohmann::json StatusJson(const Config& config, const StatusReport& status) {
  const FirewallDiff& diff = status.diff;
  nlohmann::json json;
  json["table"] = {{"name", config.settings.ruleset_name},
                   {"installed", !diff.table_missing},
                   {"in_sync", diff.InSync()},
                   {"drift", diff.Summary()},
                   {"layout_differs", diff.layout_differs},
                   {"elements_missing", diff.to_add},
                   {"elements_extra", diff.to_remove}};
  json["networks"] = nlohmann::json::array();
  for (const auto& entry : status.networks) {
    const Network& network = entry.network;
    nlohmann::json hosts = nlohmann::json::array();
    for (const auto& host : network.hosts) {
      nlohmann::json item = HostJson(network, host);
      item.erase("network");  // the network's own list
      hosts.push_back(item);
    }
    json["networks"].push_back(
        {{"name", network.name},
         {"mode", ToString(network.mode)},
         {"provider", ToString(network.provider)},
         {"bridge", network.bridge},
         {"address", network.address.ToString()},
         {"address6", OptionalText(network.address6 ? std::optional(network.address6->ToString())
                                                    : std::nullopt)},
         {"domain", network.domain},
         {"state", entry.state},
         {"details", entry.details},
         {"hosts", hosts}});
  }
  json["forwards"] = nlohmann::json::array();
  for (const auto& forward : status.forwards) {
    // Stopped networks' forwards: not in the JSON, as before. Forwards the host's firewall
    // does not carry (provider ovn) have their driver's state and no counters.
    bool stopped = !forward.counted && forward.state == "network stopped";
    if (stopped) continue;
    nlohmann::json item = ForwardJson(forward.forward);
    item["active"] = forward.active;
    item["state"] = !forward.counted  ? forward.state
                    : forward.waiting ? "waiting for its VM"
                                      : "active";
    if (forward.state == "blocked") {
      item["state"] = "blocked";
      item["blocked_by"] = nlohmann::json::array();
      for (const auto& finding : status.blocked.at(&forward - status.forwards.data()))
        item["blocked_by"].push_back(TrafficFindingJson(finding));
    }
    item["open_to_world"] = forward.forward.sources.empty() && forward.forward.sources6.empty();
    item["packets"] = forward.counters.packets;
    item["bytes"] = forward.counters.bytes;
    json["forwards"].push_back(item);
  }
  return json;
}

}  // namespace virtnat
