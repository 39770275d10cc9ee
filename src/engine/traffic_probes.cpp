#include "engine/traffic_probes.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

namespace virtnat {
namespace {

const Network* FindNetwork(const DesiredState& state, const std::string& name) {
  for (const auto& network : state.networks)
    if (network.name == name) return &network;
  return nullptr;
}

// A guest of the network, for the probes of its guests' traffic: its first host, else the
// start of the DHCP range, else the address after the gateway.
Ipv4Address SomeGuest(const Network& network) {
  if (!network.hosts.empty()) return network.hosts.front().address;
  if (network.dhcp_range) return network.dhcp_range->first;
  return Ipv4Address{network.address.address.value + 1};
}

std::string Uplink(const HostRoutes& routes, const std::optional<Ipv4Address>& listen) {
  if (listen)
    if (auto it = routes.address_interface.find(listen->ToString());
        it != routes.address_interface.end())
      return it->second;
  return routes.default_interface;
}

std::string Uplink6(const HostRoutes& routes, const std::optional<Ipv6Address>& listen) {
  if (listen)
    if (auto it = routes.address_interface.find(listen->ToString());
        it != routes.address_interface.end())
      return it->second;
  return routes.default_interface6;
}

// `address` plus a small number (in its last 32 bits): an address inside a prefix.
Ipv6Address Plus(Ipv6Address address, std::uint32_t add) {
  for (int i = 15; i >= 0 && add; --i) {
    std::uint32_t sum = address.bytes[i] + (add & 0xffu);
    address.bytes[i] = static_cast<std::uint8_t>(sum);
    add = (add >> 8) + (sum >> 8);
  }
  return address;
}

// An IPv6 guest of a dual-stack network: its first host with an IPv6 address, else the start
// of the DHCPv6 range, else the address after the gateway.
Ipv6Address SomeGuest6(const Network& network) {
  for (const auto& host : network.hosts)
    if (host.address6) return *host.address6;
  if (network.dhcp_range6) return network.dhcp_range6->first;
  return Plus(network.address6->address, 1);
}

// The link-local address a guest uses for DHCPv6 and neighbour discovery: fe80:: with the
// interface identifier (last 64 bits) of `address`.
Ipv6Address LinkLocal(const Ipv6Address& address) {
  Ipv6Address local = address;
  local.bytes = {0xfe, 0x80};
  for (int i = 8; i < 16; ++i) local.bytes[i] = address.bytes[i];
  return local;
}

// ff02::1:ffXX:XXXX, where a neighbour solicitation for `address` goes.
Ipv6Address SolicitedNode(const Ipv6Address& address) {
  Ipv6Address group = *Ipv6Address::Parse("ff02::1:ff00:0");
  for (int i = 13; i < 16; ++i) group.bytes[i] = address.bytes[i];
  return group;
}

// The IPv6 twins of one forward's probes (before DNAT, after DNAT, the answer), per protocol.
void AddForward6Probes(const DesiredState& state, const HostRoutes& routes, std::size_t index,
                       std::vector<TrafficProbe>& probes) {
  const ForwardState& forward = state.forwards[index];
  const Network* network = FindNetwork(state, forward.forward.network);
  std::optional<Ipv6Address> client;
  if (!forward.forward.sources6.empty()) {
    const Ipv6Prefix& source = forward.forward.sources6.front();
    client = source.length < 128 ? Plus(source.network, 1) : source.network;
  }
  std::set<Protocol> seen;
  for (const auto& mapping : forward.mappings6) {
    if (!seen.insert(mapping.protocol).second) continue;  // a range: its first port
    std::string uplink = Uplink6(routes, mapping.listen);
    std::optional<Ipv6Address> listen = mapping.listen;
    if (!listen && routes.default_address6) listen = routes.default_address6;
    std::string protocol = ToString(mapping.protocol);
    std::string target = forward.host.empty()
                             ? fmt::format("[{}]", mapping.target.ToString())
                             : fmt::format("{} [{}]", forward.host, mapping.target.ToString());
    std::string what = fmt::format("{} [{}]:{} -> {}:{}", protocol,
                                   mapping.listen ? mapping.listen->ToString() : std::string("*"),
                                   mapping.port, target, mapping.to_port);
    TrafficProbe in;
    in.kind = TrafficProbe::Kind::kForwardIn;
    in.family = IpFamily::kIpv6;
    in.label = fmt::format("forward {} (the client's packet, before DNAT)", what);
    in.forward = index;
    in.network = forward.forward.network;
    in.hook = "prerouting";
    in.iifname = uplink;
    in.saddr6 = client;
    in.daddr6 = listen;
    in.protocol = protocol;
    in.dport = mapping.port;
    in.dnat = false;
    in.daddr_type = "local";
    // An unknown client comes by the IPv6 default route: a reverse path filter passes it
    // when that is where it enters (firewalld's IPv6_rpfilter). A known one may be routed
    // elsewhere: unknown.
    if (!client && !uplink.empty() && uplink == routes.default_interface6)
      in.reverse_path_ok = true;
    probes.push_back(in);

    TrafficProbe through = in;
    through.kind = TrafficProbe::Kind::kForward;
    through.label = fmt::format("forward {} (after DNAT)", what);
    through.hook = "forward";
    through.oifname = network ? network->bridge : "";
    through.daddr6 = mapping.target;
    through.dport = mapping.to_port;
    through.dnat = true;
    through.daddr_type = "unicast";
    probes.push_back(through);

    TrafficProbe reply;
    reply.kind = TrafficProbe::Kind::kForwardReply;
    reply.family = IpFamily::kIpv6;
    reply.label = fmt::format("forward {} (the guest's answer)", what);
    reply.forward = index;
    reply.network = forward.forward.network;
    reply.hook = "forward";
    reply.iifname = through.oifname;
    reply.oifname = uplink;
    reply.saddr6 = mapping.target;
    reply.daddr6 = client;
    reply.protocol = protocol;
    reply.sport = mapping.to_port;
    reply.ct_state = "established";
    reply.dnat = true;
    reply.reverse_path_ok = true;  // the guest is on the bridge's link
    probes.push_back(reply);
  }
}

// A dual-stack network's IPv6 probes: guests going out; DHCPv6, DNS and neighbour discovery
// where the host serves the network; the host's router advertisements to the guests.
void AddNetwork6Probes(const Network& network, const HostRoutes& routes,
                       std::vector<TrafficProbe>& probes) {
  Ipv6Address guest = SomeGuest6(network);
  Ipv6Address gateway = network.address6->address;
  auto probe = [&](TrafficProbe::Kind kind, std::string label, const char* hook) {
    TrafficProbe p;
    p.kind = kind;
    p.family = IpFamily::kIpv6;
    p.label = std::move(label);
    p.network = network.name;
    p.hook = hook;
    p.dnat = false;
    if (std::string_view(hook) == "output") {
      p.oifname = network.bridge;
    } else {
      p.iifname = network.bridge;
      p.reverse_path_ok = true;  // from a guest on the bridge's link (its subnet or fe80::/64)
    }
    return p;
  };
  if ((network.mode == NetworkMode::kNat || network.mode == NetworkMode::kRouted) &&
      !routes.default_interface6.empty()) {
    TrafficProbe out =
        probe(TrafficProbe::Kind::kEgress,
              fmt::format("guests of {} ({}) going out over IPv6", network.name, network.bridge),
              "forward");
    out.oifname = routes.default_interface6;
    out.saddr6 = guest;
    // Some destination on the internet (Google's public DNS): rules that reject only some
    // destinations (firewalld's IPv4-mapped and 6to4 bogons) do not block going out.
    out.daddr6 = Ipv6Address::Parse("2001:4860:4860::8888");
    out.protocol = "tcp";
    out.dport = 443;
    out.daddr_type = "unicast";
    probes.push_back(out);
  }
  if (!network.HostServesDhcp()) return;
  TrafficProbe dhcp =
      probe(TrafficProbe::Kind::kDhcp,
            fmt::format("DHCPv6 from guests of {} ({})", network.name, network.bridge), "input");
  dhcp.saddr6 = LinkLocal(guest);
  dhcp.daddr6 = Ipv6Address::Parse("ff02::1:2");  // all DHCP relay agents and servers
  dhcp.protocol = "udp";
  dhcp.sport = 546;
  dhcp.dport = 547;
  dhcp.daddr_type = "multicast";
  probes.push_back(dhcp);
  for (const char* protocol : {"udp", "tcp"}) {
    TrafficProbe dns = probe(TrafficProbe::Kind::kDns,
                             fmt::format("DNS ({}) from guests of {} ({}) to {}", protocol,
                                         network.name, network.bridge, gateway.ToString()),
                             "input");
    dns.saddr6 = guest;
    dns.daddr6 = gateway;
    dns.protocol = protocol;
    dns.dport = 53;
    dns.daddr_type = "local";
    probes.push_back(dns);
  }
  // Neighbour discovery and router advertisements: conntrack leaves them untracked.
  struct Icmpv6Probe {
    std::uint8_t type;
    const char* what;
    const char* hook;
    std::optional<Ipv6Address> saddr, daddr;
    const char* daddr_type;
  };
  const Icmpv6Probe icmpv6[] = {
      {133, "router solicitations from guests of", "input", LinkLocal(guest),
       Ipv6Address::Parse("ff02::2"), "multicast"},
      {135, "neighbour solicitations from guests of", "input", guest, SolicitedNode(gateway),
       "multicast"},
      {136, "neighbour advertisements from guests of", "input", guest, gateway, "local"},
      // The host's link-local source address is not known here: left unknown.
      {134, "router advertisements to guests of", "output", std::nullopt,
       Ipv6Address::Parse("ff02::1"), "multicast"},
  };
  for (const auto& item : icmpv6) {
    TrafficProbe p =
        probe(TrafficProbe::Kind::kIcmpv6,
              fmt::format("ICMPv6 {} {} ({})", item.what, network.name, network.bridge), item.hook);
    p.saddr6 = item.saddr;
    p.daddr6 = item.daddr;
    p.protocol = "icmpv6";
    p.icmpv6_type = item.type;
    p.ct_state = "untracked";
    p.daddr_type = item.daddr_type;
    probes.push_back(p);
  }
}

}  // namespace

HostRoutes ReadHostRoutes() {
  HostRoutes routes;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
      if (!entry->ifa_addr || !entry->ifa_name) continue;
      if (entry->ifa_addr->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
        Ipv6Address address;
        std::copy(std::begin(in6->sin6_addr.s6_addr), std::end(in6->sin6_addr.s6_addr),
                  address.bytes.begin());
        routes.address_interface.emplace(address.ToString(), entry->ifa_name);
        continue;
      }
      if (entry->ifa_addr->sa_family != AF_INET) continue;
      auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      Ipv4Address address{ntohl(in->sin_addr.s_addr)};
      routes.address_interface.emplace(address.ToString(), entry->ifa_name);
    }
    freeifaddrs(list);
  }
  // /proc/net/route: Iface Destination Gateway Flags ... Mask; the default route has
  // destination and mask 00000000.
  std::ifstream table("/proc/net/route");
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask))
      continue;
    if (destination == "00000000" && mask == "00000000") {
      routes.default_interface = iface;
      break;
    }
  }
  for (const auto& [address, iface] : routes.address_interface)
    if (iface == routes.default_interface && !routes.default_address)
      routes.default_address = Ipv4Address::Parse(address);
  // /proc/net/ipv6_route: destination, its prefix length, source, its length, next hop,
  // metric, refcnt, use, flags, interface. The default route has destination ::/0 and the
  // flag RTF_UP (the kernel's unreachable ::/0 on lo has not).
  std::ifstream table6("/proc/net/ipv6_route");
  while (std::getline(table6, line)) {
    std::istringstream fields(line);
    std::string destination, length, source, source_length, next_hop, metric, refcnt, use, flags,
        iface;
    if (!(fields >> destination >> length >> source >> source_length >> next_hop >> metric >>
          refcnt >> use >> flags >> iface))
      continue;
    if (destination == std::string(32, '0') && length == "00" && iface != "lo" &&
        (std::stoul(flags, nullptr, 16) & 0x1u)) {
      routes.default_interface6 = iface;
      break;
    }
  }
  for (const auto& [text, iface] : routes.address_interface) {
    if (iface != routes.default_interface6 || routes.default_address6) continue;
    auto address = Ipv6Address::Parse(text);
    if (address && !(address->bytes[0] == 0xfe && (address->bytes[1] & 0xc0) == 0x80))
      routes.default_address6 = address;  // a global (or ULA) address, not link-local
  }
  return routes;
}

std::vector<TrafficProbe> BuildTrafficProbes(const DesiredState& state, const HostRoutes& routes) {
  std::vector<TrafficProbe> probes;
  // Three per forward and protocol: room for them at once (no copies of a growing vector).
  probes.reserve(6 * state.forwards.size() + 12 * state.networks.size() + 8);
  for (std::size_t i = 0; i < state.forwards.size(); ++i) {
    const ForwardState& forward = state.forwards[i];
    if (!forward.active) continue;
    const Network* network = FindNetwork(state, forward.forward.network);
    // The client: one of the allowed sources when the forward has a list, else unknown.
    std::optional<Ipv4Address> client;
    if (!forward.forward.sources.empty())
      client = Ipv4Address{forward.forward.sources.front().network.value +
                           (forward.forward.sources.front().length < 32 ? 1u : 0u)};
    std::set<Protocol> seen;
    for (const auto& mapping : forward.mappings) {
      if (!seen.insert(mapping.protocol).second) continue;  // a range: its first port
      std::string uplink = Uplink(routes, mapping.listen);
      std::optional<Ipv4Address> listen = mapping.listen;
      if (!listen && routes.default_address) listen = routes.default_address;
      std::string protocol = ToString(mapping.protocol);
      std::string target = forward.host.empty()
                               ? mapping.target.ToString()
                               : fmt::format("{} {}", forward.host, mapping.target.ToString());
      std::string what = fmt::format("{} {}:{} -> {}:{}", protocol,
                                     mapping.listen ? mapping.listen->ToString() : std::string("*"),
                                     mapping.port, target, mapping.to_port);
      TrafficProbe in;
      in.kind = TrafficProbe::Kind::kForwardIn;
      in.label = fmt::format("forward {} (the client's packet, before DNAT)", what);
      in.forward = i;
      in.network = forward.forward.network;
      in.hook = "prerouting";
      in.iifname = uplink;
      in.saddr = client;
      in.daddr = listen;
      in.protocol = protocol;
      in.dport = mapping.port;
      in.dnat = false;
      in.daddr_type = "local";
      probes.push_back(in);

      TrafficProbe through = in;
      through.kind = TrafficProbe::Kind::kForward;
      through.label = fmt::format("forward {} (after DNAT)", what);
      through.hook = "forward";
      through.oifname = network ? network->bridge : "";
      through.daddr = mapping.target;
      through.dport = mapping.to_port;
      through.dnat = true;
      through.daddr_type = "unicast";
      probes.push_back(through);

      TrafficProbe reply;
      reply.kind = TrafficProbe::Kind::kForwardReply;
      reply.label = fmt::format("forward {} (the guest's answer)", what);
      reply.forward = i;
      reply.network = forward.forward.network;
      reply.hook = "forward";
      reply.iifname = through.oifname;
      reply.oifname = uplink;
      reply.saddr = mapping.target;
      reply.daddr = client;
      reply.protocol = protocol;
      reply.sport = mapping.to_port;
      reply.ct_state = "established";
      reply.dnat = true;
      probes.push_back(reply);
    }
    AddForward6Probes(state, routes, i, probes);
  }
  for (const auto& network : state.networks) {
    if (!network.has_address || network.bridge.empty()) continue;
    Ipv4Address guest = SomeGuest(network);
    // Guests going out: only where there is a way out (a default route); without one no
    // firewall is to blame, and an unknown output interface would only make findings up.
    if ((network.mode == NetworkMode::kNat || network.mode == NetworkMode::kRouted) &&
        !routes.default_interface.empty()) {
      TrafficProbe out;
      out.kind = TrafficProbe::Kind::kEgress;
      out.label = fmt::format("guests of {} ({}) going out", network.name, network.bridge);
      out.network = network.name;
      out.hook = "forward";
      out.iifname = network.bridge;
      out.oifname = routes.default_interface;
      out.saddr = guest;
      // Some destination on the internet (Google's public DNS): a rule that drops only some
      // destinations (the guests' subnet, private ranges) does not block going out.
      out.daddr = Ipv4Address::Parse("8.8.8.8");
      out.protocol = "tcp";
      out.dport = 443;
      out.dnat = false;
      out.daddr_type = "unicast";
      probes.push_back(out);
    }
    if (network.HostServesDhcp()) {
      TrafficProbe dhcp;
      dhcp.kind = TrafficProbe::Kind::kDhcp;
      dhcp.label = fmt::format("DHCP from guests of {} ({})", network.name, network.bridge);
      dhcp.network = network.name;
      dhcp.hook = "input";
      dhcp.iifname = network.bridge;
      dhcp.saddr = Ipv4Address{0};
      dhcp.daddr = Ipv4Address{0xffffffffu};
      dhcp.protocol = "udp";
      dhcp.sport = 68;
      dhcp.dport = 67;
      dhcp.dnat = false;
      dhcp.daddr_type = "broadcast";
      probes.push_back(dhcp);
      for (const char* protocol : {"udp", "tcp"}) {
        TrafficProbe dns;
        dns.kind = TrafficProbe::Kind::kDns;
        dns.label = fmt::format("DNS ({}) from guests of {} ({}) to {}", protocol, network.name,
                                network.bridge, network.address.address.ToString());
        dns.network = network.name;
        dns.hook = "input";
        dns.iifname = network.bridge;
        dns.saddr = guest;
        dns.daddr = network.address.address;
        dns.protocol = protocol;
        dns.dport = 53;
        dns.dnat = false;
        dns.daddr_type = "local";
        probes.push_back(dns);
      }
    }
    if (network.DualStack()) AddNetwork6Probes(network, routes, probes);
  }
  return probes;
}

const char* FindingVerdict(const TrafficFinding& finding) {
  return finding.sure ? "blocked" : "may block";
}

std::string FormatTrafficFinding(const TrafficProbe& probe, const TrafficFinding& finding) {
  std::string where = fmt::format("{} {}", finding.ruleset, finding.chain);
  if (!finding.base_chain.empty() && finding.base_chain != finding.chain)
    where += fmt::format(" (from {})", finding.base_chain);
  std::string rule = finding.handle
                         ? fmt::format("rule handle {}: {}", *finding.handle, finding.rule)
                         : finding.rule;
  std::string reason =
      finding.reason.empty() ? "" : fmt::format(" (cannot evaluate: {})", finding.reason);
  return fmt::format("{}: {}: {}: {}{}; fix: {}", FindingVerdict(finding), probe.label, where, rule,
                     reason, finding.fix);
}

}  // namespace virtnat
