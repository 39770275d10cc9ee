#include "providers/ovn/ovn_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>

namespace virtnat::ovn {
namespace {

using Ids = std::map<std::string, std::string>;

std::uint32_t Hash(std::string_view text, std::uint32_t salt) {
  std::uint32_t hash = 2166136261u ^ (salt * 16777619u);  // FNV-1a
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

std::string MacFromHash(std::uint32_t hash) {
  return fmt::format("02:76:6e:{:02x}:{:02x}:{:02x}", (hash >> 16) & 255, (hash >> 8) & 255,
                     hash & 255);
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string TargetName(const Forward& forward) {
  return forward.host.empty() ? forward.target.ToString() : forward.host;
}

// One family a forward opens on, in OVN's words: a load balancer's VIPs are "A:PORT" or
// "[A6]:PORT", matches say ip4 or ip6. With a source list a family opens only with sources of
// its own (as in the nftables backend).
struct Side {
  bool v6 = false;
  std::string listen;      // the address ("*" for none)
  std::string target;      // the backend's address
  bool on_uplink = false;  // listens on the network's uplink_address(6)
  std::vector<std::string> sources;

  std::string Family() const { return v6 ? "ip6" : "ip4"; }
  std::string Endpoint(const std::string& address, int port) const {
    return v6 ? fmt::format("[{}]:{}", address, port) : fmt::format("{}:{}", address, port);
  }
};

std::vector<Side> SidesOf(const Network& network, const Forward& forward) {
  std::vector<Side> sides;
  const bool listed = !forward.sources.empty() || !forward.sources6.empty();
  if (forward.open4 && (!listed || !forward.sources.empty())) {
    Side side{false,
              forward.listen ? forward.listen->ToString() : "*",
              forward.target.ToString(),
              network.uplink_address && forward.listen &&
                  *forward.listen == network.uplink_address->address,
              {}};
    for (const auto& source : forward.sources) side.sources.push_back(source.ToString());
    sides.push_back(std::move(side));
  }
  if (forward.open6 && forward.target6 && (!listed || !forward.sources6.empty())) {
    Side side{true,
              forward.listen6 ? forward.listen6->ToString() : "*",
              forward.target6->ToString(),
              network.uplink_address6 && forward.listen6 &&
                  *forward.listen6 == network.uplink_address6->address,
              {}};
    for (const auto& source : forward.sources6) side.sources.push_back(source.ToString());
    sides.push_back(std::move(side));
  }
  return sides;
}

// "tcp 198.51.100.50:8080 -> web1:80", "tcp [2001:db8:100::50]:8080 -> web1:80".
std::string SideKey(const Forward& forward, const Side& side, Protocol protocol) {
  return fmt::format("{} {}:{} -> {}:{}", ToString(protocol),
                     side.v6 ? "[" + side.listen + "]" : side.listen, ToString(forward.port),
                     TargetName(forward), ToString(forward.to_port));
}

std::string SideLoadBalancer(const Network& network, const Side& side, Protocol protocol) {
  return fmt::format("{}.fwd.{}{}", network.name, ToString(protocol),
                     side.on_uplink ? "" : "." + side.listen);
}

std::map<std::string, std::string> SideVips(const Forward& forward, const Side& side) {
  std::map<std::string, std::string> vips;
  for (int offset = 0; offset < forward.port.Size(); ++offset)
    vips[side.Endpoint(side.listen, forward.port.first + offset)] =
        side.Endpoint(side.target, forward.to_port.first + offset);
  return vips;
}

std::string SideAddressSet(const Network& network, const Forward& forward, const Side& side,
                           Protocol protocol) {
  std::string net;
  for (char c : network.name) net += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  std::string name = fmt::format("vn_{}_fwd_{}_{}", net, ToString(protocol), forward.port.first);
  if (forward.port.last != forward.port.first) name += fmt::format("_{}", forward.port.last);
  if (!side.on_uplink) {
    name += "_";
    for (char c : side.listen) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  if (side.v6) name += "_ip6";
  // Two network names that differ only in what became '_' must not share a set.
  if (net != network.name) name += fmt::format("_{:08x}", Hash(network.name, 0));
  return name;
}

// The match of a forward's ACL: from the router, to its backend address and port(s).
std::string ForwardMatch(const NetworkNames& names, const Forward& forward, const Side& side,
                         Protocol protocol) {
  std::string field = ToString(protocol) + ".dst";
  std::string ports = forward.to_port.first == forward.to_port.last
                          ? fmt::format("{} == {}", field, forward.to_port.first)
                          : fmt::format("{0} >= {1} && {0} <= {2}", field, forward.to_port.first,
                                        forward.to_port.last);
  return fmt::format("inport == \"{}\" && {}.dst == {} && {}", names.switch_router_port,
                     side.Family(), side.target, ports);
}

// The guest ports of a backend that forwards without a source list open, for one ACL.
struct OpenPorts {
  std::set<int> ports;
  std::set<std::pair<int, int>> ranges;
};

// A backend: its family ("ip4", "ip6"), its address and a protocol.
using Backend = std::tuple<std::string, std::string, Protocol>;

// "inport == "NET.int.rp" && ip4.dst == T && (tcp.dst == {80, 443} || (tcp.dst >= 9000 && ...))".
std::string OpenPortsMatch(const NetworkNames& names, const Backend& backend,
                           const OpenPorts& open) {
  const auto& [family, target, protocol] = backend;
  std::string field = ToString(protocol) + ".dst";
  std::vector<std::string> terms;
  if (open.ports.size() == 1) {
    terms.push_back(fmt::format("{} == {}", field, *open.ports.begin()));
  } else if (!open.ports.empty()) {
    std::string list;
    for (int port : open.ports) list += (list.empty() ? "" : ", ") + std::to_string(port);
    terms.push_back(fmt::format("{} == {{{}}}", field, list));
  }
  for (auto [first, last] : open.ranges)
    terms.push_back(fmt::format("{0} >= {1} && {0} <= {2}", field, first, last));
  std::string ports = terms.front();
  if (terms.size() > 1) {
    ports = "(";
    for (std::size_t i = 0; i < terms.size(); ++i)
      ports += (i ? " || " : "") +
               (terms[i].find("&&") == std::string::npos ? terms[i] : "(" + terms[i] + ")");
    ports += ")";
  }
  return fmt::format("inport == \"{}\" && {}.dst == {} && {}", names.switch_router_port, family,
                     target, ports);
}

// A shell word for display: single-quoted unless it is plain.
std::string ShellWord(const std::string& word) {
  bool plain = !word.empty();
  for (char c : word)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) ||
                      std::string_view("@%+,-./:=_").find(c) != std::string_view::npos);
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

class Planner {
 public:
  Planner(const Config& config, const Network& network, Plan& plan)
      : config_(config), network_(network), names_(network.name), plan_(plan) {}

  void Run();

 private:
  Value Marks(Ids extra = {}) const {
    extra["virtnat"] = "1";
    extra["virtnat-network"] = network_.name;
    return Value::Map(std::move(extra));
  }
  // The IPv6 twin of a row that has no name (DHCP options, SNAT, default route, drop ACL):
  // its own key.
  Value Marks6() const { return Marks({{"virtnat-family", "ipv6"}}); }
  // Adds a row; returns its key for the parents' references.
  std::string Add(const std::string& table, std::map<std::string, Value> columns,
                  std::map<std::string, std::vector<std::string>> refs = {}) {
    Row row{table, std::move(columns), std::move(refs)};
    std::string key = row.Key();
    plan_.rows.push_back(std::move(row));
    return key;
  }
  void AddForward(const Forward& forward, const Side& side, Protocol protocol);

  const Config& config_;
  const Network& network_;
  NetworkNames names_;
  Plan& plan_;
  std::vector<std::string> load_balancers_, acls_;
  // One load balancer per listen address and protocol (as Incus has it): load balancer name ->
  // protocol and VIPs.
  std::map<std::string, std::pair<Protocol, std::map<std::string, std::string>>> vips_;
  // Mode nat: the ports forwards without a source list open, per backend and protocol (one
  // ACL each).
  std::map<Backend, OpenPorts> open_;
};

void Planner::Run() {
  const Network& net = network_;
  const bool uplink = net.mode != NetworkMode::kIsolated && net.uplink_address.has_value();
  const Ipv4Prefix subnet = net.address.Subnet();
  const std::string router_ip = net.address.address.ToString();
  const RouterMacs macs = MacsOf(config_, net.name);

  // Native DHCP: the router's address serves, routes (unless isolated) and answers DNS.
  std::map<std::string, std::string> dhcp{{"server_id", router_ip},
                                          {"server_mac", macs.inside},
                                          {"lease_time", "3600"},
                                          {"mtu", std::to_string(kGuestMtu)},
                                          {"dns_server", "{" + router_ip + "}"}};
  if (uplink) dhcp["router"] = router_ip;
  if (!net.domain.empty()) dhcp["domain_name"] = "\"" + net.domain + "\"";
  std::string dhcp_key = Add("DHCP_Options", {{"cidr", Value::String(subnet.ToString())},
                                              {"options", Value::Map(dhcp)},
                                              {"external_ids", Marks()}});
  // Dual-stack: stateful DHCPv6 gives each port its own address (server_id: the router's MAC);
  // the router's advertisements (ipv6_ra_configs below) send guests to DHCPv6 and give them
  // their default route.
  std::string dhcp6_key;
  if (net.address6) {
    std::map<std::string, std::string> dhcp6{
        {"server_id", macs.inside}, {"dns_server", "{" + net.address6->address.ToString() + "}"}};
    if (!net.domain.empty()) dhcp6["domain_search"] = "\"" + net.domain + "\"";
    dhcp6_key = Add("DHCP_Options", {{"cidr", Value::String(net.address6->Subnet().ToString())},
                                     {"options", Value::Map(dhcp6)},
                                     {"external_ids", Marks6()}});
  }
  std::vector<std::string> dns;
  if (!net.hosts.empty()) {
    // OVN answers A and AAAA from one record: "IPV4 IPV6".
    std::map<std::string, std::string> records;
    for (const auto& host : net.hosts) {
      std::string addresses = host.address.ToString();
      if (net.address6 && host.address6) addresses += " " + host.address6->ToString();
      records[Lower(host.name)] = addresses;
      if (!net.domain.empty()) records[Lower(net.Fqdn(host))] = addresses;
    }
    dns.push_back(Add("DNS", {{"records", Value::Map(records)}, {"external_ids", Marks()}}));
  }

  // One port per host, "MAC IP [IP6]", locked to those addresses.
  std::vector<std::string> ports;
  for (const auto& host : net.hosts) {
    std::string address = Lower(host.mac.ToString()) + " " + host.address.ToString();
    std::map<std::string, std::vector<std::string>> refs{{"dhcpv4_options", {dhcp_key}}};
    if (net.address6 && host.address6) {
      address += " " + host.address6->ToString();
      refs["dhcpv6_options"] = {dhcp6_key};
    }
    ports.push_back(Add("Logical_Switch_Port",
                        {{"name", Value::String(names_.Port(host.name))},
                         {"addresses", Value::Set({address})},
                         {"port_security", Value::Set({address})},
                         {"external_ids", Marks({{"virtnat-host", host.name},
                                                 {"virtnat-port", names_.PortLabel(host.name)}})}},
                        std::move(refs)));
  }

  // Forwards; mode nat lets nothing else in from outside the network.
  for (const Forward* forward : ForwardsOf(config_, net))
    for (const Side& side : SidesOf(net, *forward))
      for (Protocol protocol : forward->protocols) AddForward(*forward, side, protocol);
  for (const auto& [backend, open] : open_)
    acls_.push_back(Add(
        "ACL", {{"direction", Value::String("to-lport")},
                {"priority", Value::Integer(1001)},
                {"action", Value::String("allow-related")},
                {"match", Value::String(OpenPortsMatch(names_, backend, open))},
                {"external_ids", Marks({{"virtnat-backend", ToString(std::get<2>(backend)) + " " +
                                                                std::get<1>(backend)}})}}));
  for (auto& [name, vips] : vips_)
    load_balancers_.push_back(
        Add("Load_Balancer", {{"name", Value::String(name)},
                              {"protocol", Value::String(ToString(vips.first))},
                              {"vips", Value::Map(std::move(vips.second))},
                              {"external_ids", Marks()}}));
  if (net.mode == NetworkMode::kNat) {
    // Nothing from outside the network gets in but the forwards (nat6 = false routes the
    // guests' IPv6 out, and still lets nothing new in). The router's own link-local packets
    // (neighbour discovery, advertisements) pass.
    if (net.address6)
      acls_.insert(
          acls_.begin(),
          Add("ACL", {{"direction", Value::String("to-lport")},
                      {"priority", Value::Integer(1000)},
                      {"action", Value::String("drop")},
                      {"match", Value::String(fmt::format(
                                    "inport == \"{}\" && ip6 && ip6.src != {{{}, fe80::/10}}",
                                    names_.switch_router_port, net.address6->Subnet().ToString()))},
                      {"external_ids", Marks6()}}));
    acls_.insert(
        acls_.begin(),
        Add("ACL",
            {{"direction", Value::String("to-lport")},
             {"priority", Value::Integer(1000)},
             {"action", Value::String("drop")},
             {"match", Value::String(fmt::format("inport == \"{}\" && ip4 && ip4.src != {}",
                                                 names_.switch_router_port, subnet.ToString()))},
             {"external_ids", Marks()}}));
  }

  // The guests' switch with the router's port on it.
  ports.push_back(
      Add("Logical_Switch_Port", {{"name", Value::String(names_.switch_router_port)},
                                  {"type", Value::String("router")},
                                  {"addresses", Value::Set({"router"})},
                                  {"options", Value::Map({{"router-port", names_.router_inside}})},
                                  {"external_ids", Marks()}}));
  std::map<std::string, std::string> other_config;
  if (net.dhcp_range) {
    // OVN's IPAM hands out the range to ports with dynamic addresses.
    std::uint32_t first = subnet.network.value + 1,
                  last = (subnet.network.value | ~subnet.Mask()) - 1;
    std::vector<std::string> excluded;
    if (net.dhcp_range->first.value > first)
      excluded.push_back(Ipv4Address{first}.ToString() + ".." +
                         Ipv4Address{net.dhcp_range->first.value - 1}.ToString());
    if (net.dhcp_range->last.value < last)
      excluded.push_back(Ipv4Address{net.dhcp_range->last.value + 1}.ToString() + ".." +
                         Ipv4Address{last}.ToString());
    other_config["subnet"] = subnet.ToString();
    std::string text;
    for (const auto& range : excluded) text += (text.empty() ? "" : " ") + range;
    if (!text.empty()) other_config["exclude_ips"] = text;
  }
  Add("Logical_Switch",
      {{"name", Value::String(names_.switch_name)},
       {"other_config", Value::Map(other_config)},
       {"external_ids", Marks()}},
      {{"ports", ports},
       {"acls", acls_},
       {"load_balancer", load_balancers_},
       {"dns_records", dns}});

  // The router: its port on the network and, with an uplink, its gateway port.
  std::map<std::string, Value> inside{{"name", Value::String(names_.router_inside)},
                                      {"mac", Value::String(macs.inside)},
                                      {"networks", Value::Set({net.address.ToString()})},
                                      {"external_ids", Marks()}};
  if (net.address6) {
    inside["networks"] = Value::Set({net.address.ToString(), net.address6->ToString()});
    // Managed (M flag): addresses come from DHCPv6; periodic advertisements, so a guest that
    // missed the answer to its solicitation still learns its default route.
    inside["ipv6_ra_configs"] = Value::Map({{"address_mode", "dhcpv6_stateful"},
                                            {"send_periodic", "true"},
                                            {"max_interval", "30"},
                                            {"min_interval", "10"},
                                            {"mtu", std::to_string(kGuestMtu)}});
  }
  std::vector<std::string> router_ports{Add("Logical_Router_Port", std::move(inside))};
  std::vector<std::string> nat, routes;
  if (uplink) {
    std::vector<std::string> chassis;
    int count = static_cast<int>(net.gateway_chassis.size());
    for (int i = 0; i < count; ++i)
      chassis.push_back(Add("Gateway_Chassis",
                            {{"name", Value::String(names_.GatewayChassis(net.gateway_chassis[i]))},
                             {"chassis_name", Value::String(net.gateway_chassis[i])},
                             {"priority", Value::Integer(10 * (count - i))},
                             {"external_ids", Marks()}}));
    std::set<std::string> uplink_networks{net.uplink_address->ToString()};
    if (net.uplink_address6) uplink_networks.insert(net.uplink_address6->ToString());
    router_ports.push_back(Add("Logical_Router_Port",
                               {{"name", Value::String(names_.router_uplink)},
                                {"mac", Value::String(macs.uplink)},
                                {"networks", Value::Set(uplink_networks)},
                                {"external_ids", Marks()}},
                               {{"gateway_chassis", chassis}}));
    if (net.mode == NetworkMode::kNat)
      nat.push_back(
          Add("NAT", {{"type", Value::String("snat")},
                      {"logical_ip", Value::String(subnet.ToString())},
                      {"external_ip", Value::String(net.uplink_address->address.ToString())},
                      {"external_ids", Marks()}}));
    // NAT66 (nat6, for ULA prefixes); with nat6 = false the LAN routes the prefix to
    // uplink_address6.
    if (net.mode == NetworkMode::kNat && net.address6 && net.uplink_address6 && net.nat6)
      nat.push_back(
          Add("NAT", {{"type", Value::String("snat")},
                      {"logical_ip", Value::String(net.address6->Subnet().ToString())},
                      {"external_ip", Value::String(net.uplink_address6->address.ToString())},
                      {"external_ids", Marks6()}}));
    if (net.uplink_gateway)
      routes.push_back(Add("Logical_Router_Static_Route",
                           {{"ip_prefix", Value::String("0.0.0.0/0")},
                            {"nexthop", Value::String(net.uplink_gateway->ToString())},
                            {"external_ids", Marks()}}));
    if (net.uplink_gateway6)
      routes.push_back(Add("Logical_Router_Static_Route",
                           {{"ip_prefix", Value::String("::/0")},
                            {"nexthop", Value::String(net.uplink_gateway6->ToString())},
                            {"external_ids", Marks6()}}));
  }
  Add("Logical_Router", {{"name", Value::String(names_.router)}, {"external_ids", Marks()}},
      {{"ports", router_ports},
       {"nat", nat},
       {"static_routes", routes},
       {"load_balancer", load_balancers_}});
  if (!uplink) return;

  // The provider network: the router's gateway port (its gratuitous ARPs tell the LAN where
  // the active gateway is) and the localnet port that is the uplink.
  std::vector<std::string> uplink_ports{
      Add("Logical_Switch_Port", {{"name", Value::String(names_.uplink_router_port)},
                                  {"type", Value::String("router")},
                                  {"addresses", Value::Set({"router"})},
                                  {"options", Value::Map({{"router-port", names_.router_uplink},
                                                          {"nat-addresses", "router"}})},
                                  {"external_ids", Marks()}}),
      Add("Logical_Switch_Port", {{"name", Value::String(names_.localnet)},
                                  {"type", Value::String("localnet")},
                                  {"addresses", Value::Set({"unknown"})},
                                  {"options", Value::Map({{"network_name", net.uplink}})},
                                  {"external_ids", Marks()}})};
  Add("Logical_Switch", {{"name", Value::String(names_.uplink_switch)}, {"external_ids", Marks()}},
      {{"ports", uplink_ports}});
}

void Planner::AddForward(const Forward& forward, const Side& side, Protocol protocol) {
  const std::string key = SideKey(forward, side, protocol);
  auto& [lb_protocol, vips] = vips_[SideLoadBalancer(network_, side, protocol)];
  lb_protocol = protocol;
  for (auto& [vip, backend] : SideVips(forward, side)) vips[vip] = backend;
  const std::string match = ForwardMatch(names_, forward, side, protocol);
  auto acl = [&](int priority, const char* action, const std::string& text, Ids extra) {
    extra["virtnat-forward"] = key;
    acls_.push_back(Add("ACL", {{"direction", Value::String("to-lport")},
                                {"priority", Value::Integer(priority)},
                                {"action", Value::String(action)},
                                {"match", Value::String(text)},
                                {"external_ids", Marks(std::move(extra))}}));
  };
  if (side.sources.empty()) {
    // Mode routed lets everything in already; mode nat needs a way in: one ACL per backend and
    // protocol for all its forwards without a source list.
    if (network_.mode == NetworkMode::kNat) {
      OpenPorts& open = open_[{side.Family(), side.target, protocol}];
      if (forward.to_port.first == forward.to_port.last)
        open.ports.insert(forward.to_port.first);
      else
        open.ranges.insert({forward.to_port.first, forward.to_port.last});
    }
    return;
  }
  std::set<std::string> sources(side.sources.begin(), side.sources.end());
  std::string set_name = SideAddressSet(network_, forward, side, protocol);
  Add("Address_Set", {{"name", Value::String(set_name)},
                      {"addresses", Value::Set(sources)},
                      {"external_ids", Marks({{"virtnat-forward", key}})}});
  acl(1001, "allow-related", match + " && " + side.Family() + ".src == $" + set_name, {});
  // Mode routed drops the others itself (mode nat's network-wide drop does it there).
  if (network_.mode == NetworkMode::kRouted) acl(1000, "drop", match, {{"virtnat-acl", "drop"}});
}

}  // namespace

std::string PortId(const std::string& network, const std::string& host) {
  auto fnv64 = [](std::string_view text, std::uint64_t basis) {
    std::uint64_t hash = basis;
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
    // MurmurHash3's finaliser: names that differ in their last letter differ in every digit.
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ull;
    return hash ^ (hash >> 33);
  };
  std::string label = network + "/" + host;  // '/' is in neither name: no two pairs collide
  std::uint64_t high = fnv64(label, 14695981039346656037ull);
  std::uint64_t low = fnv64(label, high ^ 0x76697274'6e617421ull);  // "virtnat!"
  high = (high & ~0xf000ull) | 0x8000ull;                           // version 8
  low = (low & ~(3ull << 62)) | (2ull << 62);                       // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff,
                     high & 0xffff, low >> 48, low & 0xffffffffffffull);
}

NetworkNames::NetworkNames(const std::string& name)
    : network(name),
      switch_name(name),
      router(name + ".lr"),
      router_inside(name + ".lr.int"),
      router_uplink(name + ".lr.ext"),
      switch_router_port(name + ".int.rp"),
      uplink_switch(name + ".ext"),
      uplink_router_port(name + ".ext.rp"),
      localnet(name + ".ext.localnet") {}

RouterMacs MacsOf(const Config& config, const std::string& network) {
  std::set<std::string> taken;
  auto macs_for = [&](const std::string& name) {
    for (std::uint32_t salt = 0;; ++salt) {
      RouterMacs macs{MacFromHash(Hash(name + "/inside", salt)),
                      MacFromHash(Hash(name + "/uplink", salt))};
      if (macs.inside != macs.uplink && !taken.contains(macs.inside) &&
          !taken.contains(macs.uplink)) {
        taken.insert(macs.inside);
        taken.insert(macs.uplink);
        return macs;
      }
    }
  };
  for (const auto& candidate : config.networks) {
    if (candidate.provider != NetworkProvider::kOvn) continue;
    RouterMacs macs = macs_for(candidate.name);
    if (candidate.name == network) return macs;
  }
  return macs_for(network);
}

std::vector<const Forward*> ForwardsOf(const Config& config, const Network& network) {
  std::vector<const Forward*> forwards;
  for (const auto& forward : config.forwards)
    if (forward.network == network.name) forwards.push_back(&forward);
  return forwards;
}

std::map<std::string, std::map<std::string, std::string>> ForwardLoadBalancers(
    const Network& network, const Forward& forward, Protocol protocol) {
  std::map<std::string, std::map<std::string, std::string>> balancers;
  for (const Side& side : SidesOf(network, forward))
    balancers[SideLoadBalancer(network, side, protocol)].merge(SideVips(forward, side));
  return balancers;
}

std::vector<std::string> AddressSetNames(const Network& network, const Forward& forward,
                                         Protocol protocol) {
  std::vector<std::string> names;
  for (const Side& side : SidesOf(network, forward))
    if (!side.sources.empty()) names.push_back(SideAddressSet(network, forward, side, protocol));
  return names;
}

Plan PlanNetworks(const Config& config, const std::vector<const Network*>& networks) {
  Plan plan;
  for (const Network* network : networks) Planner(config, *network, plan).Run();
  return plan;
}

std::string RenderPlan(const Plan& plan) {
  Change change = Diff(plan, {});
  std::string out = "ovn-nbctl --wait=hv";
  for (const auto& command : change.commands) {
    out += " \\\n  --";
    for (const auto& word : command) out += " " + ShellWord(word);
  }
  return out + "\n";
}

std::string InterfaceXml(const Network& network, const Host& host) {
  return fmt::format(
      "<interface type='bridge'>\n"
      "  <mac address='{}'/>\n"
      "  <source bridge='br-int'/>\n"
      "  <virtualport type='openvswitch'>\n"
      "    <parameters interfaceid='{}'/>\n"
      "  </virtualport>\n"
      "  <model type='virtio'/>\n"
      "  <mtu size='{}'/>\n"
      "</interface>\n",
      Lower(host.mac.ToString()), NetworkNames(network.name).Port(host.name), kGuestMtu);
}

}  // namespace virtnat::ovn
