// The packets `virtnat doctor` asks the firewall backend about, built from the desired state.
#include "engine/traffic_probes.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_config.h"

namespace virtnat {
namespace {

const char* kConfig = R"(
[settings]
public_address = "198.51.100.1"

[[network]]
name = "lab"
provider = "standalone"
bridge = "nbr0"
address = "10.1.1.1/24"
dhcp_range = "10.1.1.100-10.1.1.200"
[[network.host]]
name = "web"
address = "10.1.1.28"

[[network]]
name = "quiet"
mode = "isolated"
provider = "standalone"
bridge = "nbr1"
address = "10.3.3.1/24"

[[network]]
name = "diy"
mode = "open"
bridge = "nbr2"
address = "10.4.4.1/24"

[[forward]]
host = "web"
protocol = "tcp,udp"
port = "8000-8002"
to_port = "9000-9002"
source = ["203.0.113.0/24"]

[[forward]]
host = "web"
port = 2222
to_port = 22
listen = "*"
)";

class TrafficProbesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Diagnostics diagnostics;
    config_ = testing::Parse(kConfig, diagnostics);
    ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
    routes_.address_interface = {{"198.51.100.1", "lan0"}, {"192.0.2.5", "wan0"}};
    routes_.default_interface = "wan0";
    routes_.default_address = Ipv4Address::Parse("192.0.2.5");
  }
  std::vector<TrafficProbe> Of(TrafficProbe::Kind kind, const std::vector<TrafficProbe>& all) {
    std::vector<TrafficProbe> some;
    std::copy_if(all.begin(), all.end(), std::back_inserter(some),
                 [kind](const TrafficProbe& p) { return p.kind == kind; });
    return some;
  }
  Config config_;
  HostRoutes routes_;
};

TEST_F(TrafficProbesTest, EachForwardIsProbedBeforeAndAfterDnatAndBackPerProtocol) {
  auto probes = BuildTrafficProbes(BuildDesiredState(config_, {}), routes_);
  auto in = Of(TrafficProbe::Kind::kForwardIn, probes);
  auto through = Of(TrafficProbe::Kind::kForward, probes);
  auto reply = Of(TrafficProbe::Kind::kForwardReply, probes);
  // tcp and udp of the range (its first port only), and the "*" forward.
  ASSERT_EQ(in.size(), 3u);
  ASSERT_EQ(through.size(), 3u);
  ASSERT_EQ(reply.size(), 3u);
  // Before DNAT: to the listen address and public port, from the uplink holding it.
  EXPECT_EQ(in[0].hook, "prerouting");
  EXPECT_EQ(in[0].iifname, "lan0");
  EXPECT_EQ(in[0].daddr->ToString(), "198.51.100.1");
  EXPECT_EQ(in[0].dport, 8000);
  EXPECT_EQ(in[0].protocol, "tcp");
  EXPECT_EQ(in[1].protocol, "udp");
  EXPECT_EQ(in[0].saddr->ToString(), "203.0.113.1");  // an allowed client
  EXPECT_EQ(in[0].forward, 0u);
  // After DNAT: the forward hook, to the guest's port, out of the network's bridge.
  EXPECT_EQ(through[0].hook, "forward");
  EXPECT_EQ(through[0].iifname, "lan0");
  EXPECT_EQ(through[0].oifname, "nbr0");
  EXPECT_EQ(through[0].daddr->ToString(), "10.1.1.28");
  EXPECT_EQ(through[0].dport, 9000);
  EXPECT_EQ(through[0].dnat, true);
  EXPECT_EQ(through[0].ct_state, "new");
  EXPECT_NE(through[0].label.find("web 10.1.1.28:9000"), std::string::npos) << through[0].label;
  // The answer: established, from the guest's port back to the uplink.
  EXPECT_EQ(reply[0].iifname, "nbr0");
  EXPECT_EQ(reply[0].oifname, "lan0");
  EXPECT_EQ(reply[0].sport, 9000);
  EXPECT_EQ(reply[0].ct_state, "established");
  // listen "*": the default route's interface and address; nobody in particular as client.
  EXPECT_EQ(in[2].iifname, "wan0");
  EXPECT_EQ(in[2].daddr->ToString(), "192.0.2.5");
  EXPECT_FALSE(in[2].saddr.has_value());
  EXPECT_EQ(through[2].forward, 1u);
}

TEST_F(TrafficProbesTest, ForwardsWaitingForTheirVmAreNotProbed) {
  config_.settings.vm_lifecycle = VmLifecycle::kLibvirt;
  auto probes = BuildTrafficProbes(BuildDesiredState(config_, {}), routes_);
  EXPECT_TRUE(Of(TrafficProbe::Kind::kForward, probes).empty());
  probes = BuildTrafficProbes(BuildDesiredState(config_, {"web"}), routes_);
  EXPECT_EQ(Of(TrafficProbe::Kind::kForward, probes).size(), 3u);
}

TEST_F(TrafficProbesTest, GuestsGoOutByModeAndServedNetworksGetDhcpAndDns) {
  auto probes = BuildTrafficProbes(BuildDesiredState(config_, {}), routes_);
  auto egress = Of(TrafficProbe::Kind::kEgress, probes);
  ASSERT_EQ(egress.size(), 1u);  // nat only: isolated goes nowhere, open is the admin's
  EXPECT_EQ(egress[0].network, "lab");
  EXPECT_EQ(egress[0].iifname, "nbr0");
  EXPECT_EQ(egress[0].oifname, "wan0");
  EXPECT_EQ(egress[0].saddr->ToString(), "10.1.1.28");
  EXPECT_EQ(egress[0].daddr->ToString(), "8.8.8.8");  // somewhere on the internet
  EXPECT_EQ(egress[0].dnat, false);
  // No default route: no way out to probe.
  HostRoutes no_default = routes_;
  no_default.default_interface.clear();
  EXPECT_TRUE(Of(TrafficProbe::Kind::kEgress,
                 BuildTrafficProbes(BuildDesiredState(config_, {}), no_default))
                  .empty());
  auto dhcp = Of(TrafficProbe::Kind::kDhcp, probes);
  ASSERT_EQ(dhcp.size(), 2u);  // lab and quiet (standalone serves both); not the open one
  EXPECT_EQ(dhcp[0].hook, "input");
  EXPECT_EQ(dhcp[0].dport, 67);
  EXPECT_EQ(dhcp[0].daddr_type, "broadcast");
  EXPECT_EQ(dhcp[1].iifname, "nbr1");
  auto dns = Of(TrafficProbe::Kind::kDns, probes);
  ASSERT_EQ(dns.size(), 4u);  // udp and tcp each
  EXPECT_EQ(dns[0].daddr->ToString(), "10.1.1.1");
  EXPECT_EQ(dns[0].dport, 53);
  EXPECT_EQ(dns[1].protocol, "tcp");
}

TEST(TrafficFindings, OneLineSaysWhereWhatAndTheFix) {
  TrafficProbe probe;
  probe.label = "forward tcp 198.51.100.1:2222 -> web 10.1.1.28:22 (after DNAT)";
  TrafficFinding finding;
  finding.ruleset = "inet admin";
  finding.chain = "fwd";
  finding.base_chain = "forward_base forward";
  finding.handle = 7;
  finding.rule = "ip daddr 10.1.1.28 drop";
  finding.fix = "remove it";
  EXPECT_EQ(FormatTrafficFinding(probe, finding),
            "blocked: forward tcp 198.51.100.1:2222 -> web 10.1.1.28:22 (after DNAT): inet admin "
            "fwd (from forward_base forward): rule handle 7: ip daddr 10.1.1.28 drop; fix: remove "
            "it");
  finding.sure = false;
  finding.handle.reset();
  finding.rule = "policy drop";
  finding.reason = "meta mark";
  finding.base_chain.clear();
  EXPECT_EQ(FormatTrafficFinding(probe, finding),
            "may block: forward tcp 198.51.100.1:2222 -> web 10.1.1.28:22 (after DNAT): inet admin "
            "fwd: policy drop (cannot evaluate: meta mark); fix: remove it");
}

}  // namespace
}  // namespace virtnat
