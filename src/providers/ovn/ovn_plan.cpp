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

std::string ListenOf(const Forward& forward) {
  return forward.listen ? forward.listen->ToString() : "*";
}

bool ListensOnUplink(const Network& network, const Forward& forward) {
  return network.uplink_address && forward.listen &&
         *forward.listen == network.uplink_address->address;
}

std::string TargetName(const Forward& forward) {
  return forward.host.empty() ? forward.target.ToString() : forward.host;
}

// The match of a forward's ACL: from the router, to its backend address and port(s).
std::string ForwardMatch(const NetworkNames& names, const Forward& forward, Protocol protocol) {
  std::string field = ToString(protocol) + ".dst";
  std::string ports = forward.to_port.first == forward.to_port.last
                          ? fmt::format("{} == {}", field, forward.to_port.first)
                          : fmt::format("{0} >= {1} && {0} <= {2}", field, forward.to_port.first,
                                        forward.to_port.last);
  return fmt::format("inport == \"{}\" && ip4.dst == {} && {}", names.switch_router_port,
                     forward.target.ToString(), ports);
}

// The guest ports of a backend that forwards without a source list open, for one ACL.
struct OpenPorts {
  std::set<int> ports;
  std::set<std::pair<int, int>> ranges;
};

// "inport == "NET.int.rp" && ip4.dst == T && (tcp.dst == {80, 443} || (tcp.dst >= 9000 && ...))".
std::string OpenPortsMatch(const NetworkNames& names, Ipv4Address target, Protocol protocol,
                           const OpenPorts& open) {
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
  return fmt::format("inport == \"{}\" && ip4.dst == {} && {}", names.switch_router_port,
                     target.ToString(), ports);
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
  // Adds a row; returns its key for the parents' references.
  std::string Add(const std::string& table, std::map<std::string, Value> columns,
                  std::map<std::string, std::vector<std::string>> refs = {}) {
    Row row{table, std::move(columns), std::move(refs)};
    std::string key = row.Key();
    plan_.rows.push_back(std::move(row));
    return key;
  }
  void AddForward(const Forward& forward, Protocol protocol);

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
  std::map<std::pair<Ipv4Address, Protocol>, OpenPorts> open_;
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
  std::vector<std::string> dns;
  if (!net.hosts.empty()) {
    std::map<std::string, std::string> records;
    for (const auto& host : net.hosts) {
      records[Lower(host.name)] = host.address.ToString();
      if (!net.domain.empty()) records[Lower(net.Fqdn(host))] = host.address.ToString();
    }
    dns.push_back(Add("DNS", {{"records", Value::Map(records)}, {"external_ids", Marks()}}));
  }

  // One port per host, "MAC IP", locked to that address.
  std::vector<std::string> ports;
  for (const auto& host : net.hosts) {
    std::string address = Lower(host.mac.ToString()) + " " + host.address.ToString();
    ports.push_back(Add("Logical_Switch_Port",
                        {{"name", Value::String(names_.Port(host.name))},
                         {"addresses", Value::Set({address})},
                         {"port_security", Value::Set({address})},
                         {"external_ids", Marks({{"virtnat-host", host.name},
                                                 {"virtnat-port", names_.PortLabel(host.name)}})}},
                        {{"dhcpv4_options", {dhcp_key}}}));
  }

  // Forwards; mode nat lets nothing else in from outside the network.
  for (const Forward* forward : ForwardsOf(config_, net))
    for (Protocol protocol : forward->protocols) AddForward(*forward, protocol);
  for (const auto& [backend, open] : open_)
    acls_.push_back(Add(
        "ACL",
        {{"direction", Value::String("to-lport")},
         {"priority", Value::Integer(1001)},
         {"action", Value::String("allow-related")},
         {"match", Value::String(OpenPortsMatch(names_, backend.first, backend.second, open))},
         {"external_ids", Marks({{"virtnat-backend",
                                  ToString(backend.second) + " " + backend.first.ToString()}})}}));
  for (auto& [name, vips] : vips_)
    load_balancers_.push_back(
        Add("Load_Balancer", {{"name", Value::String(name)},
                              {"protocol", Value::String(ToString(vips.first))},
                              {"vips", Value::Map(std::move(vips.second))},
                              {"external_ids", Marks()}}));
  if (net.mode == NetworkMode::kNat)
    acls_.insert(
        acls_.begin(),
        Add("ACL",
            {{"direction", Value::String("to-lport")},
             {"priority", Value::Integer(1000)},
             {"action", Value::String("drop")},
             {"match", Value::String(fmt::format("inport == \"{}\" && ip4 && ip4.src != {}",
                                                 names_.switch_router_port, subnet.ToString()))},
             {"external_ids", Marks()}}));

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
  std::vector<std::string> router_ports{
      Add("Logical_Router_Port", {{"name", Value::String(names_.router_inside)},
                                  {"mac", Value::String(macs.inside)},
                                  {"networks", Value::Set({net.address.ToString()})},
                                  {"external_ids", Marks()}})};
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
    router_ports.push_back(Add("Logical_Router_Port",
                               {{"name", Value::String(names_.router_uplink)},
                                {"mac", Value::String(macs.uplink)},
                                {"networks", Value::Set({net.uplink_address->ToString()})},
                                {"external_ids", Marks()}},
                               {{"gateway_chassis", chassis}}));
    if (net.mode == NetworkMode::kNat)
      nat.push_back(
          Add("NAT", {{"type", Value::String("snat")},
                      {"logical_ip", Value::String(subnet.ToString())},
                      {"external_ip", Value::String(net.uplink_address->address.ToString())},
                      {"external_ids", Marks()}}));
    if (net.uplink_gateway)
      routes.push_back(Add("Logical_Router_Static_Route",
                           {{"ip_prefix", Value::String("0.0.0.0/0")},
                            {"nexthop", Value::String(net.uplink_gateway->ToString())},
                            {"external_ids", Marks()}}));
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

void Planner::AddForward(const Forward& forward, Protocol protocol) {
  const std::string key = ForwardKey(forward, protocol);
  auto& [lb_protocol, vips] = vips_[LoadBalancerName(network_, forward, protocol)];
  lb_protocol = protocol;
  for (auto& [vip, backend] : ForwardVips(forward)) vips[vip] = backend;
  const std::string match = ForwardMatch(names_, forward, protocol);
  auto acl = [&](int priority, const char* action, const std::string& text, Ids extra) {
    extra["virtnat-forward"] = key;
    acls_.push_back(Add("ACL", {{"direction", Value::String("to-lport")},
                                {"priority", Value::Integer(priority)},
                                {"action", Value::String(action)},
                                {"match", Value::String(text)},
                                {"external_ids", Marks(std::move(extra))}}));
  };
  if (forward.sources.empty()) {
    // Mode routed lets everything in already; mode nat needs a way in: one ACL per backend and
    // protocol for all its forwards without a source list.
    if (network_.mode == NetworkMode::kNat) {
      OpenPorts& open = open_[{forward.target, protocol}];
      if (forward.to_port.first == forward.to_port.last)
        open.ports.insert(forward.to_port.first);
      else
        open.ranges.insert({forward.to_port.first, forward.to_port.last});
    }
    return;
  }
  std::set<std::string> sources;
  for (const auto& source : forward.sources) sources.insert(source.ToString());
  std::string set_name = AddressSetName(network_, forward, protocol);
  Add("Address_Set", {{"name", Value::String(set_name)},
                      {"addresses", Value::Set(sources)},
                      {"external_ids", Marks({{"virtnat-forward", key}})}});
  acl(1001, "allow-related", match + " && ip4.src == $" + set_name, {});
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

std::string ForwardKey(const Forward& forward, Protocol protocol) {
  return fmt::format("{} {}:{} -> {}:{}", ToString(protocol), ListenOf(forward),
                     ToString(forward.port), TargetName(forward), ToString(forward.to_port));
}

std::vector<const Forward*> ForwardsOf(const Config& config, const Network& network) {
  std::vector<const Forward*> forwards;
  for (const auto& forward : config.forwards)
    if (forward.network == network.name) forwards.push_back(&forward);
  return forwards;
}

std::map<std::string, std::string> ForwardVips(const Forward& forward) {
  std::map<std::string, std::string> vips;
  for (int offset = 0; offset < forward.port.Size(); ++offset)
    vips[fmt::format("{}:{}", ListenOf(forward), forward.port.first + offset)] =
        fmt::format("{}:{}", forward.target.ToString(), forward.to_port.first + offset);
  return vips;
}

std::string LoadBalancerName(const Network& network, const Forward& forward, Protocol protocol) {
  return fmt::format("{}.fwd.{}{}", network.name, ToString(protocol),
                     ListensOnUplink(network, forward) ? "" : "." + ListenOf(forward));
}

std::string AddressSetName(const Network& network, const Forward& forward, Protocol protocol) {
  std::string net;
  for (char c : network.name) net += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  std::string name = fmt::format("vn_{}_fwd_{}_{}", net, ToString(protocol), forward.port.first);
  if (forward.port.last != forward.port.first) name += fmt::format("_{}", forward.port.last);
  if (!ListensOnUplink(network, forward)) {
    std::string listen = ListenOf(forward);
    std::replace(listen.begin(), listen.end(), '.', '_');
    name += "_" + listen;
  }
  // Two network names that differ only in what became '_' must not share a set.
  if (net != network.name) name += fmt::format("_{:08x}", Hash(network.name, 0));
  return name;
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
