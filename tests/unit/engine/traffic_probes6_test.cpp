// The IPv6 probes of `virtnat doctor` and `status`: forwards on IPv6, dual-stack guests going
// out, DHCPv6, DNS and ICMPv6 neighbour discovery / router advertisements.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/traffic_probes.h"
#include "test_config.h"

namespace virtnat {
namespace {

const char* kDualStack = R"(
[settings]
public_address = "198.51.100.1"
public_address6 = "2001:db8:100::1"

[[network]]
name = "lab"
provider = "standalone"
bridge = "nbr0"
address = "10.77.0.1/24"
address6 = "fd00:77::1/64"
dhcp_range = "10.77.0.100-10.77.0.200"
[[network.host]]
name = "web"
address = "10.77.0.28"

[[network]]
name = "v4only"
provider = "standalone"
bridge = "nbr1"
address = "10.3.3.1/24"

[[forward]]
host = "web"
protocol = "tcp,udp"
port = 2222
to_port = 22
source = ["203.0.113.0/24", "2001:db8:5::/48"]
)";

class TrafficProbes6Test : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics diagnostics;
    config_ = testing::Parse(kDualStack, diagnostics);
    ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
    routes_.address_interface = {{"198.51.100.1", "lan0"},
                                 {"2001:db8:100::1", "lan0"},
                                 {"192.0.2.5", "wan0"},
                                 {"2001:db8:9::5", "wan0"}};
    routes_.default_interface = "wan0";
    routes_.default_address = Ipv4Address::Parse("192.0.2.5");
    routes_.default_interface6 = "wan0";
    routes_.default_address6 = Ipv6Address::Parse("2001:db8:9::5");
  }
  static std::vector<TrafficProbe> Of(TrafficProbe::Kind kind, IpFamily family,
                                      const std::vector<TrafficProbe>& all) {
    std::vector<TrafficProbe> some;
    std::copy_if(all.begin(), all.end(), std::back_inserter(some),
                 [&](const TrafficProbe& p) { return p.kind == kind && p.family == family; });
    return some;
  }
  Config config_;
  HostRoutes routes_;
};

TEST_F(TrafficProbes6Test, AnIpv6ForwardIsProbedBeforeAndAfterDnatAndBack) {
  auto probes = BuildTrafficProbes(BuildDesiredState(config_, {}), routes_);
  auto in = Of(TrafficProbe::Kind::kForwardIn, IpFamily::kIpv6, probes);
  auto through = Of(TrafficProbe::Kind::kForward, IpFamily::kIpv6, probes);
  auto reply = Of(TrafficProbe::Kind::kForwardReply, IpFamily::kIpv6, probes);
  ASSERT_EQ(in.size(), 2u);  // tcp and udp
  ASSERT_EQ(through.size(), 2u);
  ASSERT_EQ(reply.size(), 2u);
  EXPECT_EQ(in[0].hook, "prerouting");
  EXPECT_EQ(in[0].iifname, "lan0");  // the interface holding public_address6
  EXPECT_EQ(in[0].daddr6->ToString(), "2001:db8:100::1");
  EXPECT_EQ(in[0].saddr6->ToString(), "2001:db8:5::1");  // an allowed IPv6 client
  EXPECT_FALSE(in[0].saddr.has_value());
  EXPECT_EQ(in[0].forward, 0u);
  // A client of the source list may be routed anywhere: the reverse path is unknown.
  EXPECT_FALSE(in[0].reverse_path_ok.has_value());
  EXPECT_EQ(reply[0].reverse_path_ok, true);  // the guest is on the bridge's link
  EXPECT_EQ(through[0].hook, "forward");
  EXPECT_EQ(through[0].oifname, "nbr0");
  EXPECT_EQ(through[0].daddr6->ToString(), "fd00:77::1c");  // the derived host address
  EXPECT_EQ(through[0].dport, 22);
  EXPECT_EQ(through[0].dnat, true);
  EXPECT_NE(through[0].label.find("web [fd00:77::1c]:22"), std::string::npos) << through[0].label;
  EXPECT_EQ(reply[0].saddr6->ToString(), "fd00:77::1c");
  EXPECT_EQ(reply[0].ct_state, "established");
  // Control: the IPv4 twins are still there, unchanged, and come first.
  auto in4 = Of(TrafficProbe::Kind::kForwardIn, IpFamily::kIpv4, probes);
  ASSERT_EQ(in4.size(), 2u);
  EXPECT_EQ(in4[0].daddr->ToString(), "198.51.100.1");
  EXPECT_EQ(probes.front().family, IpFamily::kIpv4);
}

TEST_F(TrafficProbes6Test, DualStackNetworksGetIpv6EgressDhcpv6DnsAndNeighbourDiscovery) {
  auto probes = BuildTrafficProbes(BuildDesiredState(config_, {}), routes_);
  auto egress = Of(TrafficProbe::Kind::kEgress, IpFamily::kIpv6, probes);
  ASSERT_EQ(egress.size(), 1u);  // lab only: v4only has no IPv6
  EXPECT_EQ(egress[0].reverse_path_ok, true);
  EXPECT_EQ(egress[0].saddr6->ToString(), "fd00:77::1c");
  EXPECT_EQ(egress[0].oifname, "wan0");
  EXPECT_EQ(egress[0].daddr6->ToString(), "2001:4860:4860::8888");  // somewhere on the internet
  auto dhcp = Of(TrafficProbe::Kind::kDhcp, IpFamily::kIpv6, probes);
  ASSERT_EQ(dhcp.size(), 1u);
  EXPECT_EQ(dhcp[0].dport, 547);
  EXPECT_EQ(dhcp[0].sport, 546);
  EXPECT_EQ(dhcp[0].daddr6->ToString(), "ff02::1:2");
  EXPECT_EQ(dhcp[0].saddr6->ToString(), "fe80::1c");
  auto dns = Of(TrafficProbe::Kind::kDns, IpFamily::kIpv6, probes);
  ASSERT_EQ(dns.size(), 2u);
  EXPECT_EQ(dns[0].daddr6->ToString(), "fd00:77::1");
  auto icmpv6 = Of(TrafficProbe::Kind::kIcmpv6, IpFamily::kIpv6, probes);
  ASSERT_EQ(icmpv6.size(), 4u);
  std::vector<int> types;
  for (const auto& p : icmpv6) {
    types.push_back(*p.icmpv6_type);
    EXPECT_EQ(p.protocol, "icmpv6");
    EXPECT_EQ(p.ct_state, "untracked");
  }
  EXPECT_EQ(types, (std::vector<int>{133, 135, 136, 134}));
  EXPECT_EQ(icmpv6[1].daddr6->ToString(), "ff02::1:ff00:1");  // solicited-node of ::1
  EXPECT_EQ(icmpv6[3].hook, "output");
  EXPECT_EQ(icmpv6[3].oifname, "nbr0");
  // Control: no IPv6 default route, no IPv6 egress probe (IPv4's stays).
  HostRoutes no_default6 = routes_;
  no_default6.default_interface6.clear();
  auto without = BuildTrafficProbes(BuildDesiredState(config_, {}), no_default6);
  EXPECT_TRUE(Of(TrafficProbe::Kind::kEgress, IpFamily::kIpv6, without).empty());
  EXPECT_EQ(Of(TrafficProbe::Kind::kEgress, IpFamily::kIpv4, without).size(), 2u);
}

TEST_F(TrafficProbes6Test, AnyClientOnTheDefaultRouteHasAReversePath) {
  config_.forwards.front().sources.clear();
  config_.forwards.front().sources6.clear();
  auto probes = BuildTrafficProbes(BuildDesiredState(config_, {}), routes_);
  auto in = Of(TrafficProbe::Kind::kForwardIn, IpFamily::kIpv6, probes);
  ASSERT_FALSE(in.empty());
  // public_address6 is on lan0, the default route on wan0: a client may come back elsewhere.
  EXPECT_FALSE(in[0].reverse_path_ok.has_value());
  routes_.default_interface6 = "lan0";  // control: by the default route's interface
  probes = BuildTrafficProbes(BuildDesiredState(config_, {}), routes_);
  in = Of(TrafficProbe::Kind::kForwardIn, IpFamily::kIpv6, probes);
  ASSERT_FALSE(in.empty());
  EXPECT_EQ(in[0].reverse_path_ok, true);
  // IPv4 probes never carry it (IPv4's output stays as it was).
  for (const auto& p : probes) {
    if (p.family == IpFamily::kIpv4) {
      EXPECT_FALSE(p.reverse_path_ok.has_value()) << p.label;
    }
  }
}

TEST_F(TrafficProbes6Test, ControlAnIpv4OnlyConfigGetsNoIpv6Probe) {
  Diagnostics diagnostics;
  Config v4 = testing::Parse(R"(
[settings]
public_address = "198.51.100.1"
[[network]]
name = "lab"
provider = "standalone"
bridge = "nbr0"
address = "10.77.0.1/24"
[[network.host]]
name = "web"
address = "10.77.0.28"
[[forward]]
host = "web"
port = 2222
to_port = 22
)",
                             diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  auto probes = BuildTrafficProbes(BuildDesiredState(v4, {}), routes_);
  ASSERT_FALSE(probes.empty());
  for (const auto& p : probes) EXPECT_EQ(p.family, IpFamily::kIpv4) << p.label;
}

}  // namespace
}  // namespace virtnat
