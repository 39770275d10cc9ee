#include "backends/nftables/nft_layout.h"

#include <fmt/format.h>

#include "backends/nftables/nft_ruleset.h"

namespace virtnat::nftlayout {
namespace {

std::string Quote(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text)
    if (c != '"' && c != '\\' && c != '\n') quoted += c;
  return quoted + "\"";
}

std::string FieldText(Field field) {
  switch (field) {
    case Field::kIpSaddr:
      return "ip saddr";
    case Field::kIpDaddr:
      return "ip daddr";
    case Field::kL4proto:
      return "meta l4proto";
    case Field::kThDport:
      return "th dport";
    case Field::kIp6Saddr:
      return "ip6 saddr";
    case Field::kIp6Daddr:
      return "ip6 daddr";
  }
  return "";
}

std::string FieldsText(const std::vector<Field>& fields) {
  std::string text;
  for (Field field : fields) text += (text.empty() ? "" : " . ") + FieldText(field);
  return text;
}

std::string ProtocolText(std::uint16_t protocol) {
  return protocol == 6 ? "tcp" : protocol == 17 ? "udp" : std::to_string(protocol);
}

std::string Icmpv6TypeText(std::uint16_t type) {
  switch (type) {
    case 1:
      return "destination-unreachable";
    case 2:
      return "packet-too-big";
    case 3:
      return "time-exceeded";
    case 4:
      return "parameter-problem";
    case 133:
      return "nd-router-solicit";
    case 134:
      return "nd-router-advert";
    case 135:
      return "nd-neighbor-solicit";
    case 136:
      return "nd-neighbor-advert";
  }
  return std::to_string(type);
}

std::string MatchText(const Match& match) {
  const char* not_ = match.negate ? "!= " : "";
  switch (match.kind) {
    case MatchKind::kLookup:
      return fmt::format("{} {}@{}", FieldsText(match.fields), not_, match.name);
    case MatchKind::kFibDaddrLocal:
      return "fib daddr type local";
    case MatchKind::kIifname:
      return fmt::format("iifname {}{}", not_, Quote(match.name));
    case MatchKind::kOifname:
      return fmt::format("oifname {}{}", not_, Quote(match.name));
    case MatchKind::kCtStatusDnat:
      return "ct status dnat";
    case MatchKind::kCtStateEstablishedRelated:
      return "ct state established,related";
    case MatchKind::kIpSaddr:
      return fmt::format("ip saddr {}{}", not_, match.prefix.ToString());
    case MatchKind::kIpDaddr:
      return fmt::format("ip daddr {}{}", not_, match.prefix.ToString());
    case MatchKind::kL4protoIn: {
      std::string list;
      for (auto value : match.values) list += (list.empty() ? "" : ", ") + ProtocolText(value);
      return fmt::format("meta l4proto {{ {} }}", list);
    }
    case MatchKind::kThDport:
      return fmt::format("th dport {}", match.values.at(0));
    case MatchKind::kUdpDport:
      return fmt::format("udp dport {}", match.values.at(0));
    case MatchKind::kThDportIn: {
      std::string list;
      for (auto value : match.values) list += (list.empty() ? "" : ", ") + std::to_string(value);
      return fmt::format("th dport {{ {} }}", list);
    }
    case MatchKind::kIpDaddrIn: {
      std::string list;
      for (const auto& prefix : match.prefixes)
        list += (list.empty() ? "" : ", ") + prefix.ToString();
      return fmt::format("ip daddr {{ {} }}", list);
    }
    case MatchKind::kIp6Saddr:
      return fmt::format("ip6 saddr {}{}", not_, match.prefix6.ToString());
    case MatchKind::kIp6Daddr:
      return fmt::format("ip6 daddr {}{}", not_, match.prefix6.ToString());
    case MatchKind::kNfproto:
      return fmt::format("meta nfproto {}", match.values.at(0) == 10 ? "ipv6" : "ipv4");
    case MatchKind::kIcmpv6TypeIn: {
      std::string list;
      for (auto value : match.values) list += (list.empty() ? "" : ", ") + Icmpv6TypeText(value);
      return fmt::format("icmpv6 type {{ {} }}", list);
    }
  }
  return "";
}

std::string ActionText(const Action& action) {
  switch (action.kind) {
    case ActionKind::kNone:
      return "";
    case ActionKind::kAccept:
      return "accept";
    case ActionKind::kDrop:
      return "drop";
    case ActionKind::kReject:
      return "reject";
    case ActionKind::kReturn:
      return "return";
    case ActionKind::kMasquerade:
      return "masquerade";
    case ActionKind::kMasqueradePorts:
      return fmt::format("masquerade to :{}-{}", action.first_port, action.last_port);
    case ActionKind::kDnatMap:
      return fmt::format("dnat ip to {} map @{}", FieldsText(action.fields), action.map);
    case ActionKind::kDnat6Map:
      return fmt::format("dnat ip6 to {} map @{}", FieldsText(action.fields), action.map);
  }
  return "";
}

Match Of(MatchKind kind) {
  Match match;
  match.kind = kind;
  return match;
}

Match Lookup(std::vector<Field> fields, const char* set, bool negate = false) {
  Match match = Of(MatchKind::kLookup);
  match.fields = std::move(fields);
  match.name = set;
  match.negate = negate;
  return match;
}

Match Simple(MatchKind kind) {
  return Of(kind);
}

Match Interface(MatchKind kind, const std::string& name, bool negate = false) {
  Match match = Of(kind);
  match.name = name;
  match.negate = negate;
  return match;
}

Match Address(MatchKind kind, Ipv4Prefix prefix, bool negate = false) {
  Match match = Of(kind);
  match.prefix = prefix;
  match.negate = negate;
  return match;
}

Match Address6(MatchKind kind, Ipv6Prefix prefix, bool negate = false) {
  Match match = Of(kind);
  match.prefix6 = prefix;
  match.negate = negate;
  return match;
}

Match Values(MatchKind kind, std::vector<std::uint16_t> values) {
  Match match = Of(kind);
  match.values = std::move(values);
  return match;
}

Action Verdict(ActionKind kind) {
  Action action;
  action.kind = kind;
  return action;
}

Action DnatMap(std::vector<Field> fields, const char* map, bool ipv6 = false) {
  Action action = Verdict(ipv6 ? ActionKind::kDnat6Map : ActionKind::kDnatMap);
  action.fields = std::move(fields);
  action.map = map;
  return action;
}

SetSpec Set(const char* name, std::vector<Type> key, std::vector<Type> data = {},
            bool interval = false, bool counter = false) {
  SetSpec set;
  set.name = name;
  set.key = std::move(key);
  set.data = std::move(data);
  set.interval = interval;
  set.counter = counter;
  return set;
}

Rule MakeRule(std::vector<Match> matches, Action action, std::string comment) {
  return Rule{std::move(matches), std::move(action), std::move(comment)};
}

std::vector<SetSpec> MakeSets() {
  using namespace nftset;
  const std::vector<Type> listen_proto_port{Type::kIpv4Addr, Type::kInetProto, Type::kInetService};
  const std::vector<Type> proto_port{Type::kInetProto, Type::kInetService};
  const std::vector<Type> target{Type::kIpv4Addr, Type::kInetService};
  auto with_source = [](std::vector<Type> key) {
    key.push_back(Type::kIpv4Addr);
    return key;
  };
  return {
      Set(kDnat, listen_proto_port, target),
      Set(kDnatAny, proto_port, target),
      Set(kCount, listen_proto_port, {}, false, true),
      Set(kCountAny, proto_port, {}, false, true),
      Set(kRestricted, listen_proto_port),
      Set(kRestrictedAny, proto_port),
      Set(kAllow, with_source(listen_proto_port), {}, true),
      Set(kAllowAny, with_source(proto_port), {}, true),
  };
}

std::vector<SetSpec> MakeSets6() {
  using namespace nftset;
  const std::vector<Type> listen_proto_port{Type::kIpv6Addr, Type::kInetProto, Type::kInetService};
  const std::vector<Type> proto_port{Type::kInetProto, Type::kInetService};
  const std::vector<Type> target{Type::kIpv6Addr, Type::kInetService};
  auto with_source = [](std::vector<Type> key) {
    key.push_back(Type::kIpv6Addr);
    return key;
  };
  return {
      Set(kDnat6, listen_proto_port, target),
      Set(kDnat6Any, proto_port, target),
      Set(kCount6, listen_proto_port, {}, false, true),
      Set(kCount6Any, proto_port, {}, false, true),
      Set(kRestricted6, listen_proto_port),
      Set(kRestricted6Any, proto_port),
      Set(kAllow6, with_source(listen_proto_port), {}, true),
      Set(kAllow6Any, with_source(proto_port), {}, true),
  };
}

constexpr std::uint16_t kNfprotoIpv4 = 2, kNfprotoIpv6 = 10;

std::vector<Chain> Chains(const std::vector<Network>& networks, bool ipv6) {
  using namespace nftset;
  const std::vector<Field> key6{Field::kIp6Daddr, Field::kL4proto, Field::kThDport};
  auto with_source6 = [](std::vector<Field> fields) {
    fields.push_back(Field::kIp6Saddr);
    return fields;
  };
  // In a layout with IPv6, a rule that looks at no address of either family says which
  // family it is for (the `*` counters would otherwise count the other family's packets too).
  auto family = [&](std::uint16_t nfproto) {
    return ipv6 ? std::vector<Match>{Values(MatchKind::kNfproto, {nfproto})} : std::vector<Match>{};
  };
  auto joined = [](std::vector<Match> first, std::vector<Match> rest) {
    first.insert(first.end(), rest.begin(), rest.end());
    return first;
  };
  const std::vector<Field> key{Field::kIpDaddr, Field::kL4proto, Field::kThDport};
  const std::vector<Field> key_any{Field::kL4proto, Field::kThDport};
  auto with_source = [](std::vector<Field> fields) {
    fields.push_back(Field::kIpSaddr);
    return fields;
  };
  const Match local = Simple(MatchKind::kFibDaddrLocal);
  const std::string not_listed = "client not in the forward's source list";
  std::vector<Chain> chains;

  // Before DNAT: forwards with a source list drop other clients; count every forward.
  Chain filter{"prerouting_filter", "filter", Hook::kPrerouting, -110, "dstnat - 10", {}};
  filter.rules.push_back(
      MakeRule({Lookup(key, kRestricted), Lookup(with_source(key), kAllow, true)},
               Verdict(ActionKind::kDrop), not_listed));
  filter.rules.push_back(MakeRule(
      {local, Lookup(key_any, kRestrictedAny), Lookup(with_source(key_any), kAllowAny, true)},
      Verdict(ActionKind::kDrop), not_listed));
  filter.rules.push_back(MakeRule({Lookup(key, kCount)}, Action(), "count each forward"));
  filter.rules.push_back(MakeRule(joined(family(kNfprotoIpv4), {local, Lookup(key_any, kCountAny)}),
                                  Action(), "count each forward"));
  if (ipv6) {
    filter.rules.push_back(
        MakeRule({Lookup(key6, kRestricted6), Lookup(with_source6(key6), kAllow6, true)},
                 Verdict(ActionKind::kDrop), not_listed));
    filter.rules.push_back(MakeRule(
        {local, Lookup(key_any, kRestricted6Any), Lookup(with_source6(key_any), kAllow6Any, true)},
        Verdict(ActionKind::kDrop), not_listed));
    filter.rules.push_back(MakeRule({Lookup(key6, kCount6)}, Action(), "count each forward"));
    filter.rules.push_back(
        MakeRule(joined(family(kNfprotoIpv6), {local, Lookup(key_any, kCount6Any)}), Action(),
                 "count each forward"));
  }
  chains.push_back(std::move(filter));

  // DNAT for clients (prerouting) and for connections the host opens itself (output).
  for (auto [name, hook, priority, text] :
       {std::tuple{"prerouting", Hook::kPrerouting, -100, "dstnat"},
        {"output", Hook::kOutput, -100, "-100"}}) {
    Chain chain{name, "nat", hook, priority, text, {}};
    chain.rules.push_back(MakeRule({}, DnatMap(key, kDnat), "forwards on one address"));
    chain.rules.push_back(
        MakeRule({local}, DnatMap(key_any, kDnatAny), "forwards on every local address"));
    if (ipv6) {
      chain.rules.push_back(MakeRule({}, DnatMap(key6, kDnat6, true), "forwards on one address"));
      chain.rules.push_back(
          MakeRule({local}, DnatMap(key_any, kDnat6Any, true), "forwards on every local address"));
    }
    chains.push_back(std::move(chain));
  }

  // Filtering of routed traffic, by mode, in the order libvirt uses. Networks whose firewall
  // libvirt owns, and mode open and bridged networks, get no rules here.
  std::vector<const Network*> filtered;
  for (const auto& network : networks)
    if (network.VirtnatOwnsFirewall() && network.ServesDhcp()) filtered.push_back(&network);
  Chain forward{"forward", "filter", Hook::kForward, 0, "filter", {}};
  auto& rules = forward.rules;
  // Before the accept of DNATed connections: a guest of an isolated network must not reach
  // another network through a forward on one of the host's addresses either.
  for (const Network* network : filtered)
    if (network->mode == NetworkMode::kIsolated)
      rules.push_back(MakeRule({Interface(MatchKind::kIifname, network->bridge),
                                Interface(MatchKind::kOifname, network->bridge, true)},
                               Verdict(ActionKind::kReject),
                               network->name + ": isolated: not even through forwards"));
  rules.push_back(MakeRule({Simple(MatchKind::kCtStatusDnat)}, Verdict(ActionKind::kAccept),
                           "connections virtnat forwarded"));
  rules.push_back(
      MakeRule({Simple(MatchKind::kCtStateEstablishedRelated)}, Verdict(ActionKind::kAccept), ""));
  for (const Network* network : filtered)
    rules.push_back(MakeRule({Interface(MatchKind::kIifname, network->bridge),
                              Interface(MatchKind::kOifname, network->bridge)},
                             Verdict(ActionKind::kAccept), network->name + ": between guests"));
  auto dual_stack = [&](const Network* network) { return ipv6 && network->DualStack(); };
  for (const Network* network : filtered) {
    if (network->mode == NetworkMode::kRouted)
      rules.push_back(MakeRule({Interface(MatchKind::kOifname, network->bridge),
                                Address(MatchKind::kIpDaddr, network->address.Subnet())},
                               Verdict(ActionKind::kAccept),
                               network->name + ": routed: the outside may reach the guests"));
    // Routed IPv6 (mode routed): the outside reaches the guests' IPv6 addresses too. A nat
    // network's guests are not reachable over IPv6 either (nat6 or not), but for forwards.
    if (network->mode == NetworkMode::kRouted && dual_stack(network))
      rules.push_back(MakeRule({Interface(MatchKind::kOifname, network->bridge),
                                Address6(MatchKind::kIp6Daddr, network->address6->Subnet())},
                               Verdict(ActionKind::kAccept),
                               network->name + ": routed: the outside may reach the guests"));
    rules.push_back(MakeRule({Interface(MatchKind::kOifname, network->bridge)},
                             Verdict(ActionKind::kReject),
                             network->name + ": no new connections into the network"));
  }
  for (const Network* network : filtered) {
    if (network->mode != NetworkMode::kIsolated)
      rules.push_back(MakeRule({Interface(MatchKind::kIifname, network->bridge),
                                Address(MatchKind::kIpSaddr, network->address.Subnet())},
                               Verdict(ActionKind::kAccept),
                               network->name + ": guests to the outside"));
    if (network->mode != NetworkMode::kIsolated && dual_stack(network))
      rules.push_back(MakeRule({Interface(MatchKind::kIifname, network->bridge),
                                Address6(MatchKind::kIp6Saddr, network->address6->Subnet())},
                               Verdict(ActionKind::kAccept),
                               network->name + ": guests to the outside"));
    rules.push_back(
        MakeRule({Interface(MatchKind::kIifname, network->bridge)}, Verdict(ActionKind::kReject),
                 network->name + ": " +
                     (network->mode == NetworkMode::kIsolated ? "isolated: guests stay inside"
                                                              : "spoofed source")));
  }
  chains.push_back(std::move(forward));

  // DNS and DHCP of the networks whose dnsmasq runs on the host: guests reach it, the rest of
  // the world does not.
  std::vector<const Network*> served;
  for (const auto& network : networks)
    if (network.HostServesDhcp() && network.VirtnatOwnsFirewall()) served.push_back(&network);
  if (!served.empty()) {
    Chain input{"input", "filter", Hook::kInput, 0, "filter", {}};
    for (const Network* network : served) {
      input.rules.push_back(
          MakeRule({Interface(MatchKind::kIifname, network->bridge),
                    Values(MatchKind::kL4protoIn, {6, 17}), Values(MatchKind::kThDport, {53})},
                   Verdict(ActionKind::kAccept), network->name + ": DNS for guests"));
      input.rules.push_back(MakeRule(
          {Interface(MatchKind::kIifname, network->bridge), Values(MatchKind::kUdpDport, {67})},
          Verdict(ActionKind::kAccept), network->name + ": DHCP for guests"));
      input.rules.push_back(MakeRule(
          {Interface(MatchKind::kIifname, network->bridge, true),
           Address(MatchKind::kIpDaddr, Ipv4Prefix{network->address.address, 32}),
           Values(MatchKind::kL4protoIn, {6, 17}), Values(MatchKind::kThDportIn, {53, 67})},
          Verdict(ActionKind::kDrop), network->name + ": dnsmasq serves the guests only"));
      if (!dual_stack(network)) continue;
      // IPv6 cannot live without neighbour discovery, router solicitations and the ICMPv6
      // errors (packet too big above all): accepted from the guests, whatever comes later.
      input.rules.push_back(
          MakeRule({Interface(MatchKind::kIifname, network->bridge),
                    Values(MatchKind::kIcmpv6TypeIn, {1, 2, 3, 4, 133, 135, 136})},
                   Verdict(ActionKind::kAccept), network->name + ": ICMPv6 that IPv6 needs"));
      input.rules.push_back(MakeRule(
          {Interface(MatchKind::kIifname, network->bridge), Values(MatchKind::kUdpDport, {547})},
          Verdict(ActionKind::kAccept), network->name + ": DHCPv6 for guests"));
      input.rules.push_back(MakeRule(
          {Interface(MatchKind::kIifname, network->bridge, true),
           Address6(MatchKind::kIp6Daddr, Ipv6Prefix{network->address6->address, 128}),
           Values(MatchKind::kL4protoIn, {6, 17}), Values(MatchKind::kThDportIn, {53, 547})},
          Verdict(ActionKind::kDrop), network->name + ": dnsmasq serves the guests only"));
    }
    chains.push_back(std::move(input));
  }

  // Masquerade guests of NAT networks leaving their subnet, and hairpin connections.
  Chain postrouting{"postrouting", "nat", Hook::kPostrouting, 100, "srcnat", {}};
  for (const auto& network : networks) {
    if (!network.has_address || !network.AcceptsForwards() || network.mode == NetworkMode::kOpen)
      continue;
    Ipv4Prefix subnet = network.address.Subnet();
    postrouting.rules.push_back(
        MakeRule({Simple(MatchKind::kCtStatusDnat), Address(MatchKind::kIpSaddr, subnet),
                  Address(MatchKind::kIpDaddr, subnet)},
                 Verdict(ActionKind::kMasquerade), network.name + ": hairpin"));
    if (!network.VirtnatOwnsFirewall() || network.mode != NetworkMode::kNat) continue;
    Match local_only = Of(MatchKind::kIpDaddrIn);
    local_only.prefixes = {*Ipv4Prefix::Parse("224.0.0.0/24"),
                           *Ipv4Prefix::Parse("255.255.255.255")};
    postrouting.rules.push_back(MakeRule({Address(MatchKind::kIpSaddr, subnet), local_only},
                                         Verdict(ActionKind::kReturn),
                                         network.name + ": multicast and broadcast stay local"));
    Action ports = Verdict(ActionKind::kMasqueradePorts);
    ports.first_port = 1024;
    ports.last_port = 65535;
    postrouting.rules.push_back(
        MakeRule({Address(MatchKind::kIpSaddr, subnet), Address(MatchKind::kIpDaddr, subnet, true),
                  Values(MatchKind::kL4protoIn, {6, 17})},
                 ports, network.name + ": guests to the outside"));
    postrouting.rules.push_back(
        MakeRule({Address(MatchKind::kIpSaddr, subnet), Address(MatchKind::kIpDaddr, subnet, true)},
                 Verdict(ActionKind::kMasquerade), network.name + ": guests to the outside"));
  }
  // The same for IPv6: hairpin of every dual-stack network that takes forwards; NAT66 of nat
  // networks with nat6 (nat6 = false: the guests' addresses are routed as they are).
  for (const auto& network : networks) {
    if (!network.has_address || !network.AcceptsForwards() || network.mode == NetworkMode::kOpen ||
        !dual_stack(&network))
      continue;
    Ipv6Prefix subnet = network.address6->Subnet();
    postrouting.rules.push_back(
        MakeRule({Simple(MatchKind::kCtStatusDnat), Address6(MatchKind::kIp6Saddr, subnet),
                  Address6(MatchKind::kIp6Daddr, subnet)},
                 Verdict(ActionKind::kMasquerade), network.name + ": hairpin"));
    if (!network.VirtnatOwnsFirewall() || network.mode != NetworkMode::kNat || !network.nat6)
      continue;
    Action ports = Verdict(ActionKind::kMasqueradePorts);
    ports.first_port = 1024;
    ports.last_port = 65535;
    postrouting.rules.push_back(MakeRule(
        {Address6(MatchKind::kIp6Saddr, subnet), Address6(MatchKind::kIp6Daddr, subnet, true),
         Values(MatchKind::kL4protoIn, {6, 17})},
        ports, network.name + ": guests to the outside"));
    postrouting.rules.push_back(MakeRule(
        {Address6(MatchKind::kIp6Saddr, subnet), Address6(MatchKind::kIp6Daddr, subnet, true)},
        Verdict(ActionKind::kMasquerade), network.name + ": guests to the outside"));
  }
  chains.push_back(std::move(postrouting));
  return chains;
}

}  // namespace

std::string TypeText(Type type) {
  switch (type) {
    case Type::kIpv4Addr:
      return "ipv4_addr";
    case Type::kInetProto:
      return "inet_proto";
    case Type::kInetService:
      return "inet_service";
    case Type::kIpv6Addr:
      return "ipv6_addr";
  }
  return "";
}

const std::vector<SetSpec>& StandardSets() {
  static const std::vector<SetSpec> sets = MakeSets();
  return sets;
}

const std::vector<SetSpec>& StandardSets6() {
  static const std::vector<SetSpec> sets = MakeSets6();
  return sets;
}

const SetSpec* FindSet(const std::string& name) {
  for (const auto* sets : {&StandardSets(), &StandardSets6()})
    for (const auto& set : *sets)
      if (set.name == name) return &set;
  return nullptr;
}

Layout BuildLayout(const std::vector<Network>& networks, bool ipv6) {
  Layout layout{StandardSets(), Chains(networks, ipv6)};
  if (ipv6) layout.sets.insert(layout.sets.end(), StandardSets6().begin(), StandardSets6().end());
  return layout;
}

std::string RuleText(const Rule& rule) {
  std::string text;
  for (const auto& match : rule.matches) text += (text.empty() ? "" : " ") + MatchText(match);
  std::string action = ActionText(rule.action);
  if (!action.empty()) text += (text.empty() ? "" : " ") + action;
  if (!rule.comment.empty()) text += fmt::format(" comment \"{}\"", rule.comment);
  return text;
}

std::string RenderLayoutBody(const Layout& layout) {
  std::string out;
  auto types = [](const std::vector<Type>& list) {
    std::string text;
    for (Type type : list) text += (text.empty() ? "" : " . ") + TypeText(type);
    return text;
  };
  for (const auto& set : layout.sets) {
    out += fmt::format("\t{} {} {{\n\t\ttype {}{}\n", set.IsMap() ? "map" : "set", set.name,
                       types(set.key), set.IsMap() ? " : " + types(set.data) : "");
    if (set.interval) out += "\t\tflags interval\n";
    if (set.counter) out += "\t\tcounter\n";
    out += "\t\t@ELEMENTS:" + set.name + "@\n\t}\n\n";
  }
  bool first = true;
  for (const auto& chain : layout.chains) {
    if (!first) out += "\n";
    first = false;
    out += fmt::format("\tchain {} {{\n\t\ttype {} hook {} priority {}; policy accept;\n",
                       chain.name, chain.type,
                       chain.hook == Hook::kPrerouting ? "prerouting"
                       : chain.hook == Hook::kInput    ? "input"
                       : chain.hook == Hook::kForward  ? "forward"
                       : chain.hook == Hook::kOutput   ? "output"
                                                       : "postrouting",
                       chain.priority_text);
    for (const auto& rule : chain.rules) out += "\t\t" + RuleText(rule) + "\n";
    out += "\t}\n";
  }
  return out;
}

}  // namespace virtnat::nftlayout
