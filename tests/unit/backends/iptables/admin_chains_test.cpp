// What virtnat keeps on top of Docker's DOCKER-USER, and how it reads
// `iptables -S` to tell whether they are still on top.
#include "backends/iptables/admin_chains.h"

#include <gtest/gtest.h>

#include "test_config.h"

namespace virtnat {
namespace {

DesiredState State() {
  Diagnostics diagnostics;
  Config config = testing::Parse(R"(
[[network]]
name = "lab"
provider = "standalone"
bridge = "nbr0"
address = "10.1.1.1/24"
[[network]]
name = "ext"
bridge = "nbr1"
address = "10.2.2.1/24"
[[network]]
name = "diy"
mode = "open"
bridge = "nbr2"
address = "10.4.4.1/24"
[[network]]
name = "libvirts"
provider = "libvirt"
define = false
bridge = "virbr0"
address = "192.168.122.1/24"
)",
                                 diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  return BuildDesiredState(config, {});
}

using Args = std::vector<std::string>;

// Not the open network's (the admin's), not libvirt's own (libvirt's rejects in the same FORWARD
// chain must not be skipped).
TEST(AdminChains, DockerUserAcceptsTrafficOfVirtnatsBridgesOnly) {
  auto chains = BuildAdminChainRules(AdminChainTool::kDocker, State());
  ASSERT_EQ(chains.size(), 2u);
  EXPECT_EQ(chains[0].chain, "DOCKER-USER");
  EXPECT_EQ(chains[0].family, IpFamily::kIpv4);
  // No dual-stack network: nothing in ip6tables' DOCKER-USER (and stale rules go).
  EXPECT_EQ(chains[1].family, IpFamily::kIpv6);
  EXPECT_TRUE(chains[1].rules.empty());
  EXPECT_EQ(
      chains[0].rules,
      (std::vector<Args>{{"-i", "nbr0", "-m", "comment", "--comment", "virtnat", "-j", "ACCEPT"},
                         {"-o", "nbr0", "-m", "comment", "--comment", "virtnat", "-j", "ACCEPT"},
                         {"-i", "nbr1", "-m", "comment", "--comment", "virtnat", "-j", "ACCEPT"},
                         {"-o", "nbr1", "-m", "comment", "--comment", "virtnat", "-j", "ACCEPT"}}));
}

// Docker with IPv6 sets ip6tables' FORWARD policy DROP too: the dual-stack bridges get the same
// accepts there; an IPv4-only bridge (the control) does not.
TEST(AdminChains, Ip6tablesDockerUserAcceptsDualStackBridges) {
  Diagnostics diagnostics;
  Config config = testing::Parse(R"(
[[network]]
name = "lab"
provider = "standalone"
bridge = "nbr0"
address = "10.1.1.1/24"
address6 = "fd00:1::1/64"
[[network]]
name = "ext"
bridge = "nbr1"
address = "10.2.2.1/24"
)",
                                 diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  auto chains = BuildAdminChainRules(AdminChainTool::kDocker, BuildDesiredState(config, {}));
  ASSERT_EQ(chains.size(), 2u);
  EXPECT_EQ(chains[0].rules.size(), 4u);
  EXPECT_EQ(chains[1].family, IpFamily::kIpv6);
  EXPECT_EQ(
      chains[1].rules,
      (std::vector<Args>{{"-i", "nbr0", "-m", "comment", "--comment", "virtnat", "-j", "ACCEPT"},
                         {"-o", "nbr0", "-m", "comment", "--comment", "virtnat", "-j", "ACCEPT"}}));
}

TEST(AdminChains, OnTopMeansFirstInOrderWithNoOtherCopy) {
  AdminChainRules wanted{"ufw-user-input",
                         {{"-i", "nbr0", "-p", "udp", "--dport", "67", "-m", "comment", "--comment",
                           "virtnat", "-j", "ACCEPT"}}};
  // iptables -S adds `-m udp`.
  std::string on_top =
      "-N ufw-user-input\n"
      "-A ufw-user-input -i nbr0 -p udp -m udp --dport 67 -m comment --comment virtnat -j "
      "ACCEPT\n"
      "-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT\n";
  EXPECT_TRUE(AdminRulesOnTop(on_top, wanted));
  std::string below =
      "-N ufw-user-input\n"
      "-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "-A ufw-user-input -i nbr0 -p udp -m udp --dport 67 -m comment --comment virtnat -j "
      "ACCEPT\n";
  EXPECT_FALSE(AdminRulesOnTop(below, wanted));
  EXPECT_EQ(OurRulesIn(below, "ufw-user-input"),
            (std::vector<Args>{{"-i", "nbr0", "-p", "udp", "-m", "udp", "--dport", "67", "-m",
                                "comment", "--comment", "virtnat", "-j", "ACCEPT"}}));
  // A stale rule of ours (a bridge no longer in the config) further down.
  std::string stale = on_top +
                      "-A ufw-user-input -i old0 -p udp -m udp --dport 67 -m comment --comment "
                      "virtnat -j ACCEPT\n";
  EXPECT_FALSE(AdminRulesOnTop(stale, wanted));
  // Nothing wanted and nothing there: in place.
  EXPECT_TRUE(AdminRulesOnTop("-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n", {"DOCKER-USER", {}}));
}

TEST(AdminChains, Docker2010Ip6tablesWithoutDockerUserIsRecognised) {
  // What Docker 20.10 --experimental --ip6tables leaves in ip6tables (seen in the lab).
  const std::string forward = "-P FORWARD DROP\n";
  EXPECT_TRUE(DockerDropsWithoutUserChain(false, true, forward));
  // Controls: a DOCKER-USER to use, no Docker at all, a FORWARD policy that accepts.
  EXPECT_FALSE(DockerDropsWithoutUserChain(true, true, forward));
  EXPECT_FALSE(DockerDropsWithoutUserChain(false, false, forward));
  EXPECT_FALSE(DockerDropsWithoutUserChain(false, true, "-P FORWARD ACCEPT\n"));
}

}  // namespace
}  // namespace virtnat
