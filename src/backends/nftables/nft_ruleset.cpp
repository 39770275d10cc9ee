#include "backends/nftables/nft_ruleset.h"

#include <fmt/format.h>

namespace virtnat {
namespace {

constexpr const char* kListenProtoPort = "ipv4_addr . inet_proto . inet_service";
constexpr const char* kProtoPort = "inet_proto . inet_service";
constexpr const char* kTarget = "ipv4_addr . inet_service";

std::string Quote(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text)
    if (c != '"' && c != '\\' && c != '\n') quoted += c;
  return quoted + "\"";
}

struct SetDeclaration {
  const char* name;
  std::string type;
  bool interval = false;
  bool counter = false;
};

std::vector<SetDeclaration> SetDeclarations() {
  using namespace nftset;
  return {
      {kDnat, std::string(kListenProtoPort) + " : " + kTarget},
      {kDnatAny, std::string(kProtoPort) + " : " + kTarget},
      {kCount, kListenProtoPort, false, true},
      {kCountAny, kProtoPort, false, true},
      {kRestricted, kListenProtoPort},
      {kRestrictedAny, kProtoPort},
      {kAllow, std::string(kListenProtoPort) + " . ipv4_addr", true},
      {kAllowAny, std::string(kProtoPort) + " . ipv4_addr", true},
  };
}

bool IsMap(const std::string& type) {
  return type.find(" : ") != std::string::npos;
}

void RenderSets(std::string& out) {
  for (const auto& set : SetDeclarations()) {
    out += fmt::format("\t{} {} {{\n\t\ttype {}\n", IsMap(set.type) ? "map" : "set", set.name,
                       IsMap(set.type) ? set.type.substr(0, set.type.find(" : ")) + " : " +
                                             set.type.substr(set.type.find(" : ") + 3)
                                       : set.type);
    if (set.interval) out += "\t\tflags interval\n";
    if (set.counter) out += "\t\tcounter\n";
    out += "\t\t@ELEMENTS:" + std::string(set.name) + "@\n\t}\n\n";
  }
}

void RenderChains(const std::vector<Network>& networks, std::string& out) {
  using namespace nftset;
  const std::string key = "ip daddr . meta l4proto . th dport";
  const std::string key_any = "meta l4proto . th dport";
  const std::string local = "fib daddr type local";

  // Before DNAT: forwards with a source list drop other clients; count every forward.
  out +=
      "\tchain prerouting_filter {\n"
      "\t\ttype filter hook prerouting priority dstnat - 10; policy accept;\n";
  out += fmt::format(
      "\t\t{0} @{1} {0} . ip saddr != @{2} drop comment \"client not in the forward's source "
      "list\"\n",
      key, kRestricted, kAllow);
  out += fmt::format(
      "\t\t{0} {1} @{2} {1} . ip saddr != @{3} drop comment \"client not in the forward's "
      "source list\"\n",
      local, key_any, kRestrictedAny, kAllowAny);
  out += fmt::format("\t\t{} @{} comment \"count each forward\"\n", key, kCount);
  out += fmt::format("\t\t{} {} @{} comment \"count each forward\"\n", local, key_any, kCountAny);
  out += "\t}\n\n";

  // DNAT for clients (prerouting) and for connections the host opens itself (output).
  for (auto [chain, hook, priority] :
       {std::tuple{"prerouting", "prerouting", "dstnat"}, {"output", "output", "-100"}}) {
    out += fmt::format("\tchain {} {{\n\t\ttype nat hook {} priority {}; policy accept;\n", chain,
                       hook, priority);
    out +=
        fmt::format("\t\tdnat ip to {} map @{} comment \"forwards on one address\"\n", key, kDnat);
    out += fmt::format(
        "\t\t{} dnat ip to {} map @{} comment \"forwards on every local "
        "address\"\n",
        local, key_any, kDnatAny);
    out += "\t}\n\n";
  }

  // Filtering of routed traffic, by mode, in the order libvirt uses. Networks whose firewall
  // libvirt owns, and mode open and bridged networks, get no rules here.
  std::vector<const Network*> filtered;
  for (const auto& network : networks)
    if (network.VirtnatOwnsFirewall() && network.ServesDhcp()) filtered.push_back(&network);
  out += "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n";
  // Before the accept of DNATed connections: a guest of an isolated network must not reach
  // another network through a forward on one of the host's addresses either.
  for (const Network* network : filtered)
    if (network->mode == NetworkMode::kIsolated)
      out += fmt::format(
          "\t\tiifname {0} oifname != {0} reject comment \"{1}: isolated: not even through "
          "forwards\"\n",
          Quote(network->bridge), network->name);
  out += "\t\tct status dnat accept comment \"connections virtnat forwarded\"\n";
  out += "\t\tct state established,related accept\n";
  for (const Network* network : filtered)
    out += fmt::format("\t\tiifname {0} oifname {0} accept comment \"{1}: between guests\"\n",
                       Quote(network->bridge), network->name);
  for (const Network* network : filtered) {
    if (network->mode == NetworkMode::kRouted)
      out += fmt::format(
          "\t\toifname {} ip daddr {} accept comment \"{}: routed: the outside may reach the "
          "guests\"\n",
          Quote(network->bridge), network->address.Subnet().ToString(), network->name);
    out +=
        fmt::format("\t\toifname {} reject comment \"{}: no new connections into the network\"\n",
                    Quote(network->bridge), network->name);
  }
  for (const Network* network : filtered) {
    if (network->mode != NetworkMode::kIsolated)
      out += fmt::format(
          "\t\tiifname {0} ip saddr {1} accept comment \"{2}: guests to the "
          "outside\"\n",
          Quote(network->bridge), network->address.Subnet().ToString(), network->name);
    out += fmt::format("\t\tiifname {} reject comment \"{}: {}\"\n", Quote(network->bridge),
                       network->name,
                       network->mode == NetworkMode::kIsolated ? "isolated: guests stay inside"
                                                               : "spoofed source");
  }
  out += "\t}\n\n";

  // DNS and DHCP of the networks whose dnsmasq runs on the host: guests reach it, the rest of
  // the world does not.
  std::vector<const Network*> served;
  for (const auto& network : networks)
    if (network.HostServesDhcp() && network.VirtnatOwnsFirewall())
      served.push_back(&network);
  if (!served.empty()) {
    out += "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n";
    for (const Network* network : served)
      out += fmt::format(
          "\t\tiifname {0} meta l4proto {{ tcp, udp }} th dport 53 accept comment \"{1}: DNS "
          "for guests\"\n"
          "\t\tiifname {0} udp dport 67 accept comment \"{1}: DHCP for guests\"\n"
          "\t\tiifname != {0} ip daddr {2} meta l4proto {{ tcp, udp }} th dport {{ 53, 67 }} "
          "drop comment \"{1}: dnsmasq serves the guests only\"\n",
          Quote(network->bridge), network->name, network->address.address.ToString());
    out += "\t}\n\n";
  }

  // Masquerade guests of NAT networks leaving their subnet, and hairpin connections.
  out += "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& network : networks) {
    if (!network.has_address || !network.AcceptsForwards() || network.mode == NetworkMode::kOpen)
      continue;
    std::string subnet = network.address.Subnet().ToString();
    out += fmt::format(
        "\t\tct status dnat ip saddr {0} ip daddr {0} masquerade comment \"{1}: hairpin\"\n",
        subnet, network.name);
    if (!network.VirtnatOwnsFirewall() || network.mode != NetworkMode::kNat) continue;
    out += fmt::format(
        "\t\tip saddr {0} ip daddr {{ 224.0.0.0/24, 255.255.255.255 }} return comment \"{1}: "
        "multicast and broadcast stay local\"\n",
        subnet, network.name);
    out += fmt::format(
        "\t\tip saddr {0} ip daddr != {0} meta l4proto {{ tcp, udp }} masquerade to "
        ":1024-65535 comment \"{1}: guests to the outside\"\n",
        subnet, network.name);
    out += fmt::format(
        "\t\tip saddr {0} ip daddr != {0} masquerade comment \"{1}: guests to the outside\"\n",
        subnet, network.name);
  }
  out += "\t}\n";
}

std::string RenderWithElements(const NftRuleset& ruleset) {
  std::string out;
  std::string_view skeleton = ruleset.skeleton;
  std::size_t position = 0;
  while (true) {
    auto marker = skeleton.find("@ELEMENTS:", position);
    if (marker == std::string_view::npos) break;
    out.append(skeleton.substr(position, marker - position));
    auto end = skeleton.find('@', marker + 1);
    std::string name(skeleton.substr(marker + 10, end - marker - 10));
    auto it = ruleset.elements.find(name);
    std::string line;
    if (it != ruleset.elements.end() && !it->second.empty()) {
      line = "elements = { ";
      bool first = true;
      for (const auto& element : it->second) {
        if (!first) line += ",\n\t\t\t     ";
        line += element;
        first = false;
      }
      line += " }";
    }
    out += line;
    position = end + 1;
  }
  out.append(skeleton.substr(position));
  // Drop lines left empty by sets without elements.
  std::string cleaned;
  std::size_t start = 0;
  while (start < out.size()) {
    auto end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string_view line(out.data() + start, end - start);
    if (line.find_first_not_of('\t') != std::string_view::npos || line.empty())
      cleaned.append(line).append("\n");
    start = end + 1;
  }
  return cleaned;
}

std::string ListenText(const PortMapping& mapping) {
  return mapping.listen ? mapping.listen->ToString() + " . " : "";
}

}  // namespace

std::string MappingKey(const PortMapping& mapping) {
  return fmt::format("{}{} . {}", ListenText(mapping), ToString(mapping.protocol), mapping.port);
}

std::string MappingElement(const PortMapping& mapping) {
  return fmt::format("{} : {} . {}", MappingKey(mapping), mapping.target.ToString(),
                     mapping.to_port);
}

std::string ElementKey(const std::string& element) {
  auto colon = element.find(" : ");
  return colon == std::string::npos ? element : element.substr(0, colon);
}

std::string StableHash(const std::string& text) {
  std::uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return fmt::format("{:016x}", hash);
}

NftRuleset RenderRuleset(const DesiredState& state) {
  using namespace nftset;
  NftRuleset ruleset;
  ruleset.table = state.settings.ruleset_name;

  std::string body;
  RenderSets(body);
  RenderChains(state.networks, body);
  ruleset.skeleton_hash = StableHash(body);
  ruleset.skeleton =
      fmt::format("table inet {} {{\n\tcomment \"managed by virtnat; layout {}\"\n\n{}}}\n",
                  ruleset.table, ruleset.skeleton_hash, body);

  for (const auto& name :
       {kDnat, kDnatAny, kCount, kCountAny, kRestricted, kRestrictedAny, kAllow, kAllowAny})
    ruleset.elements[name];
  for (const auto& forward : state.forwards) {
    bool any = !forward.forward.listen.has_value();
    for (const auto& mapping : forward.mappings) {
      std::string key = MappingKey(mapping);
      if (forward.active) ruleset.elements[any ? kDnatAny : kDnat].insert(MappingElement(mapping));
      ruleset.elements[any ? kCountAny : kCount].insert(key);
      if (forward.forward.sources.empty()) continue;
      ruleset.elements[any ? kRestrictedAny : kRestricted].insert(key);
      for (const auto& source : forward.forward.sources)
        ruleset.elements[any ? kAllowAny : kAllow].insert(key + " . " + source.ToString());
    }
  }
  return ruleset;
}

std::string RenderTable(const NftRuleset& ruleset) {
  return RenderWithElements(ruleset);
}

std::string RenderReplace(const NftRuleset& ruleset) {
  return fmt::format("table inet {0}\ndelete table inet {0}\n{1}", ruleset.table,
                     RenderWithElements(ruleset));
}

std::string RenderDeleteTable(const std::string& table) {
  return fmt::format("delete table inet {}\n", table);
}

std::string RenderElementChanges(const std::string& table, const NftElements& remove,
                                 const NftElements& add) {
  std::string out;
  auto render = [&](const char* verb, const NftElements& elements, bool keys_only) {
    for (const auto& [set, items] : elements) {
      if (items.empty()) continue;
      out += fmt::format("{} element inet {} {} {{ ", verb, table, set);
      bool first = true;
      for (const auto& item : items) {
        out += (first ? "" : ", ") + (keys_only ? ElementKey(item) : item);
        first = false;
      }
      out += " }\n";
    }
  };
  render("delete", remove, true);
  render("add", add, false);
  return out;
}

}  // namespace virtnat
