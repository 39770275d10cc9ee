#include "engine/traffic_probes.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <fstream>
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

}  // namespace

HostRoutes ReadHostRoutes() {
  HostRoutes routes;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
      if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET || !entry->ifa_name) continue;
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
  return routes;
}

std::vector<TrafficProbe> BuildTrafficProbes(const DesiredState& state, const HostRoutes& routes) {
  std::vector<TrafficProbe> probes;
  // Three per forward and protocol: room for them at once (no copies of a growing vector).
  probes.reserve(3 * state.forwards.size() + 4 * state.networks.size() + 8);
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
