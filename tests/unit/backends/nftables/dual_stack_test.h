// A dual-stack desired state built from the model directly (the config keys of IPv6 are parsed
// by the config layer): a nat network with address6 and nat6, a routed network with nat6 =
// false, static hosts, forwards on both families, an IPv6-only listen forward, and allowlists
// of both families. The same as tests/golden/dual-stack-standalone/virtnat.toml.
#pragma once

#include "plan/desired_state.h"

namespace virtnat::testing {

inline Ipv6Address V6(const char* text) {
  return *Ipv6Address::Parse(text);
}
inline Ipv4Address V4(const char* text) {
  return *Ipv4Address::Parse(text);
}

inline Forward MakeForward(const Network& network, const Host& host, std::uint16_t port,
                           std::uint16_t to_port) {
  Forward forward;
  forward.host = host.name;
  forward.target = host.address;
  forward.target6 = host.address6;
  forward.network = network.name;
  forward.protocols = {Protocol::kTcp};
  forward.port = {port, port};
  forward.to_port = {to_port, to_port};
  return forward;
}

inline DesiredState DualStackState() {
  DesiredState state;
  state.settings.public_address = V4("198.51.100.1");
  state.settings.has_public_address = true;
  state.settings.public_address6 = V6("2001:db8:100::1");
  state.settings.has_public_address6 = true;

  Network lan;
  lan.name = "lan";
  lan.mode = NetworkMode::kNat;
  lan.provider = NetworkProvider::kStandalone;
  lan.bridge = "nbr0";
  lan.address = *Ipv4Interface::Parse("10.77.0.1/24");
  lan.has_address = true;
  lan.dhcp_range = Ipv4Range::Parse("10.77.0.100-10.77.0.199");
  lan.address6 = Ipv6Interface::Parse("fd00:77::1/64");
  lan.dhcp_range6 = Ipv6Range::Parse("fd00:77::100-fd00:77::1ff");
  lan.nat6 = true;
  lan.domain = "lan.test";
  lan.hosts.push_back({"web",
                       V4("10.77.0.28"),
                       V6("fd00:77::1c"),
                       true,
                       *MacAddress::Parse("02:ff:0a:4d:00:1c"),
                       false,
                       {}});
  lan.hosts.push_back({"db",
                       V4("10.77.0.29"),
                       V6("fd00:77::29"),
                       false,
                       *MacAddress::Parse("02:ff:0a:4d:00:1d"),
                       false,
                       {}});

  Network dmz;
  dmz.name = "dmz";
  dmz.mode = NetworkMode::kRouted;
  dmz.provider = NetworkProvider::kStandalone;
  dmz.bridge = "nbr1";
  dmz.address = *Ipv4Interface::Parse("10.78.0.1/24");
  dmz.has_address = true;
  dmz.address6 = Ipv6Interface::Parse("2001:db8:78::1/64");
  dmz.nat6 = false;
  dmz.hosts.push_back({"mail",
                       V4("10.78.0.25"),
                       V6("2001:db8:78::19"),
                       true,
                       *MacAddress::Parse("02:ff:0a:4e:00:19"),
                       false,
                       {}});
  state.networks = {lan, dmz};

  // web: tcp 443 on both families (public_address and public_address6).
  Forward both = MakeForward(lan, lan.hosts[0], 443, 8443);
  both.listen = state.settings.public_address;
  both.listen_defaulted = true;
  both.open6 = true;
  both.listen6 = state.settings.public_address6;
  // db: IPv6 only, on one address, from one IPv6 network.
  Forward only6 = MakeForward(lan, lan.hosts[1], 5432, 5432);
  only6.open4 = false;
  only6.open6 = true;
  only6.listen6 = V6("2001:db8:100::2");
  only6.sources6 = {*Ipv6Prefix::Parse("2001:db8:200::/48")};
  // web: ssh on every local address of both families, from an IPv4 network only: closed on
  // IPv6 (a source list without IPv6 entries).
  Forward any = MakeForward(lan, lan.hosts[0], 2222, 22);
  any.listen = std::nullopt;
  any.open6 = true;
  any.listen6 = std::nullopt;
  any.sources = {*Ipv4Prefix::Parse("192.0.2.0/24")};
  // mail: smtp on both families with allowlists of both.
  Forward smtp = MakeForward(dmz, dmz.hosts[0], 25, 25);
  smtp.listen = state.settings.public_address;
  smtp.open6 = true;
  smtp.listen6 = state.settings.public_address6;
  smtp.sources = {*Ipv4Prefix::Parse("203.0.113.0/24")};
  smtp.sources6 = {*Ipv6Prefix::Parse("2001:db8:300::/56"), *Ipv6Prefix::Parse("2001:db8:400::7")};
  for (const auto& [forward, host] :
       {std::pair{both, "web"}, {only6, "db"}, {any, "web"}, {smtp, "mail"}})
    state.forwards.push_back(
        {forward, host, true, ExpandForward(forward), ExpandForward6(forward)});
  return state;
}

}  // namespace virtnat::testing
