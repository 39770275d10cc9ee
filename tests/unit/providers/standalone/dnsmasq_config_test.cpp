#include "providers/standalone/dnsmasq_config.h"

#include <gtest/gtest.h>

#include "test_config.h"
#include "config/diagnostics.h"

namespace virtnat {
namespace {

// The shared base config's network, which has two hosts (one with a derived MAC).
Network BaseNetwork() {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics);
  Network network = config.networks.at(0);
  network.provider = NetworkProvider::kStandalone;
  return network;
}

StandalonePaths TestPaths() {
  return {"/var/lib/virtnat", "/run/virtnat"};
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const auto& each : Lines(text))
    if (each == line) return true;
  return false;
}

TEST(StandalonePaths, PerNetworkFilesAndPidFile) {
  StandalonePaths paths{"/tmp/lib", "/tmp/run"};
  EXPECT_EQ(paths.NetworkDir("lan"), "/tmp/lib/lan");
  EXPECT_EQ(paths.ConfFile("lan"), "/tmp/lib/lan/dnsmasq.conf");
  EXPECT_EQ(paths.HostsFile("lan"), "/tmp/lib/lan/hostsfile");
  EXPECT_EQ(paths.AddnHostsFile("lan"), "/tmp/lib/lan/addnhosts");
  EXPECT_EQ(paths.LeaseFile("lan"), "/tmp/lib/lan/leases");
  EXPECT_EQ(paths.PidFile("lan"), "/tmp/run/dnsmasq-lan.pid");
}

TEST(StandalonePaths, RejectsNamesThatAreNotPlainFileNames) {
  StandalonePaths paths;
  for (const char* bad : {"", ".", "..", "a/b"}) {
    EXPECT_THROW(paths.NetworkDir(bad), BadInput) << bad;
    EXPECT_THROW(paths.PidFile(bad), BadInput) << bad;
  }
  EXPECT_NO_THROW(paths.NetworkDir("..a"));
}

TEST(DnsmasqConfig, BindsToTheBridgeAndServesTheRangeAndDomain) {
  DnsmasqFiles files = RenderDnsmasqFiles(BaseNetwork(), TestPaths());
  for (const char* expected : {
           "interface=nbr0",
           "except-interface=lo",
           "bind-dynamic",
           "strict-order",
           "pid-file=/run/virtnat/dnsmasq-nat_bridge.pid",
           "user=dnsmasq",
           "group=nogroup",
           "domain=devops.test",
           "local=/devops.test/",
           "expand-hosts",
           "dhcp-range=10.1.1.100,10.1.1.254,255.255.255.0",
           "dhcp-no-override",
           "dhcp-authoritative",
           // The /24's usable addresses but the host's.
           "dhcp-lease-max=253",
           "dhcp-hostsfile=/var/lib/virtnat/nat_bridge/hostsfile",
           "addn-hosts=/var/lib/virtnat/nat_bridge/addnhosts",
           "dhcp-leasefile=/var/lib/virtnat/nat_bridge/leases",
       })
    EXPECT_TRUE(HasLine(files.conf, expected)) << expected << "\n" << files.conf;
  // Upstream resolution stays on; nat guests get the default route.
  EXPECT_EQ(files.conf.find("no-resolv"), std::string::npos);
  EXPECT_EQ(files.conf.find("dhcp-option=3"), std::string::npos);
}

TEST(DnsmasqConfig, HostsFileHasMacAddressNameAndAddnHostsTheFqdn) {
  DnsmasqFiles files = RenderDnsmasqFiles(BaseNetwork(), TestPaths());
  // lxdev02's MAC is derived from mac_prefix and its address.
  EXPECT_EQ(files.hostsfile,
            "02:ff:0a:0a:06:1c,10.1.1.28,lxdev01\n"
            "02:ff:0a:0a:06:1d,10.1.1.29,lxdev02\n");
  EXPECT_EQ(files.addnhosts,
            "10.1.1.28 lxdev01.devops.test lxdev01\n"
            "10.1.1.29 lxdev02.devops.test lxdev02\n");
}

TEST(DnsmasqConfig, HostWithoutMacGetsANameButNoDhcpEntry) {
  Network network = BaseNetwork();
  network.hosts[1].mac = {};
  network.domain.clear();
  DnsmasqFiles files = RenderDnsmasqFiles(network, TestPaths());
  EXPECT_EQ(files.hostsfile, "02:ff:0a:0a:06:1c,10.1.1.28,lxdev01\n");
  EXPECT_EQ(files.addnhosts, "10.1.1.28 lxdev01\n10.1.1.29 lxdev02\n");
  EXPECT_EQ(files.conf.find("domain="), std::string::npos);
  EXPECT_EQ(files.conf.find("local=/"), std::string::npos);
  EXPECT_EQ(files.conf.find("expand-hosts"), std::string::npos);
}

TEST(DnsmasqConfig, WithoutRangeOnlyStaticHostsGetLeases) {
  Network network = BaseNetwork();
  network.dhcp_range.reset();
  network.address = *Ipv4Interface::Parse("10.1.1.1/16");
  DnsmasqFiles files = RenderDnsmasqFiles(network, TestPaths());
  EXPECT_TRUE(HasLine(files.conf, "dhcp-range=10.1.0.0,static,255.255.0.0")) << files.conf;
  EXPECT_TRUE(HasLine(files.conf, "dhcp-lease-max=65533"));
  network.address = *Ipv4Interface::Parse("10.1.1.1/30");
  EXPECT_EQ(DhcpLeaseMax(network), 1);
}

TEST(DnsmasqConfig, IsolatedGuestsGetNoDefaultRoute) {
  Network network = BaseNetwork();
  network.mode = NetworkMode::kIsolated;
  EXPECT_TRUE(HasLine(RenderDnsmasqFiles(network, TestPaths()).conf, "dhcp-option=3"));
}

TEST(DnsmasqConfig, OnlyHostChangesLeaveTheConfUntouched) {
  Network network = BaseNetwork();
  DnsmasqFiles before = RenderDnsmasqFiles(network, TestPaths());
  Host extra = network.hosts[0];
  extra.name = "lxdev03";
  extra.address = *Ipv4Address::Parse("10.1.1.30");
  extra.mac = *MacAddress::Parse("02:FF:0A:0A:06:1E");
  network.hosts.push_back(extra);
  DnsmasqFiles after = RenderDnsmasqFiles(network, TestPaths());
  EXPECT_NE(before.hostsfile, after.hostsfile);
  EXPECT_NE(before.addnhosts, after.addnhosts);
  // So dnsmasq only needs SIGHUP, never a restart, and keeps its leases.
  EXPECT_EQ(before.conf, after.conf);
}

// The base network made dual-stack as the config would: fd00:1::1/64, each host the prefix
// plus its IPv4 address's last octet (the first one written, the second derived).
Network DualStackNetwork() {
  Network network = BaseNetwork();
  network.address6 = *Ipv6Interface::Parse("fd00:1::1/64");
  network.dhcp_range6 = *Ipv6Range::Parse("fd00:1::100-fd00:1::1ff");
  network.hosts[0].address6 = *Ipv6Address::Parse("fd00:1::1c");
  network.hosts[1].address6 = HostAddress6(network.address6->Subnet(), network.hosts[1].address);
  network.hosts[1].address6_derived = true;
  return network;
}

TEST(DnsmasqConfig, DualStackAdvertisesTheRouterAndServesTheDhcpv6Range) {
  DnsmasqFiles files = RenderDnsmasqFiles(DualStackNetwork(), TestPaths());
  for (const char* expected : {"dhcp-range=10.1.1.100,10.1.1.254,255.255.255.0",
                               "dhcp-range=fd00:1::100,fd00:1::1ff,64", "enable-ra"})
    EXPECT_TRUE(HasLine(files.conf, expected)) << expected << "\n" << files.conf;
  // nat guests get the default route in the RA too.
  EXPECT_EQ(files.conf.find("ra-param"), std::string::npos) << files.conf;
  // The IPv4 lines are those of the IPv4-only network, in the same order; IPv6 adds lines.
  std::string ipv4_only = RenderDnsmasqFiles(BaseNetwork(), TestPaths()).conf;
  std::vector<std::string> kept;
  for (const auto& line : Lines(files.conf))
    if (line != "dhcp-range=fd00:1::100,fd00:1::1ff,64" && line != "enable-ra" &&
        !line.starts_with("dhcp-lease-max="))
      kept.push_back(line);
  std::vector<std::string> single;
  for (const auto& line : Lines(ipv4_only))
    if (!line.starts_with("dhcp-lease-max=")) single.push_back(line);
  EXPECT_EQ(kept, single);
}

TEST(DnsmasqConfig, DualStackHostLinesCarryBothAddressesAndAaaaRecords) {
  DnsmasqFiles files = RenderDnsmasqFiles(DualStackNetwork(), TestPaths());
  EXPECT_EQ(files.hostsfile,
            "02:ff:0a:0a:06:1c,10.1.1.28,[fd00:1::1c],lxdev01\n"
            "02:ff:0a:0a:06:1d,10.1.1.29,[fd00:1::1d],lxdev02\n");
  EXPECT_EQ(files.addnhosts,
            "10.1.1.28 lxdev01.devops.test lxdev01\n"
            "fd00:1::1c lxdev01.devops.test lxdev01\n"
            "10.1.1.29 lxdev02.devops.test lxdev02\n"
            "fd00:1::1d lxdev02.devops.test lxdev02\n");
  // A host without a MAC still gets its AAAA record, and no DHCP entry.
  Network network = DualStackNetwork();
  network.hosts[1].mac = {};
  files = RenderDnsmasqFiles(network, TestPaths());
  EXPECT_EQ(files.hostsfile, "02:ff:0a:0a:06:1c,10.1.1.28,[fd00:1::1c],lxdev01\n");
  EXPECT_NE(files.addnhosts.find("fd00:1::1d lxdev02.devops.test lxdev02\n"), std::string::npos);
}

TEST(DnsmasqConfig, Ipv6AddressesOfAnIpv4OnlyNetworkAreIgnored) {
  // Control for the test above: without address6 the same hosts render as IPv4 only.
  Network network = DualStackNetwork();
  network.address6.reset();
  network.dhcp_range6.reset();
  DnsmasqFiles files = RenderDnsmasqFiles(network, TestPaths());
  DnsmasqFiles ipv4_only = RenderDnsmasqFiles(BaseNetwork(), TestPaths());
  EXPECT_EQ(files.conf, ipv4_only.conf);
  EXPECT_EQ(files.hostsfile, ipv4_only.hostsfile);
  EXPECT_EQ(files.addnhosts, ipv4_only.addnhosts);
  EXPECT_EQ(files.conf.find("enable-ra"), std::string::npos);
}

TEST(DnsmasqConfig, DualStackWithoutRangeServesStaticHostsOrSlaac) {
  Network network = DualStackNetwork();
  network.dhcp_range6.reset();
  EXPECT_TRUE(
      HasLine(RenderDnsmasqFiles(network, TestPaths()).conf, "dhcp-range=fd00:1::,static,64"));
  // No host to give a DHCPv6 address to: SLAAC on a /64 (with names guessed from DHCPv4)...
  for (auto& host : network.hosts) host.mac = {};
  EXPECT_TRUE(HasLine(RenderDnsmasqFiles(network, TestPaths()).conf,
                      "dhcp-range=fd00:1::,ra-stateless,ra-names,64"));
  // ...and static (the route only) on a longer prefix, where dnsmasq refuses SLAAC modes.
  network.address6 = *Ipv6Interface::Parse("fd00:1::1/80");
  EXPECT_TRUE(
      HasLine(RenderDnsmasqFiles(network, TestPaths()).conf, "dhcp-range=fd00:1::,static,80"));
}

TEST(DnsmasqConfig, IsolatedDualStackGuestsGetNoIpv6DefaultRoute) {
  Network network = DualStackNetwork();
  network.mode = NetworkMode::kIsolated;
  std::string conf = RenderDnsmasqFiles(network, TestPaths()).conf;
  EXPECT_TRUE(HasLine(conf, "dhcp-option=3")) << conf;
  EXPECT_TRUE(HasLine(conf, "ra-param=nbr0,0,0")) << conf;
}

TEST(DnsmasqConfig, DualStackLeaseLimitLeavesRoomForBothFamilies) {
  Network network = DualStackNetwork();
  // 253 IPv4 leases, as many IPv6 ones for hosts, and the 256 addresses of the IPv6 range.
  EXPECT_EQ(DhcpLeaseMax(network), 253 + 253 + 256);
  network.dhcp_range6 = *Ipv6Range::Parse("fd00:1::1ff-fd00:1::200");
  EXPECT_EQ(DhcpLeaseMax(network), 253 + 253 + 2);
  // A range as large as the /64 is capped, where dnsmasq's int would overflow.
  network.dhcp_range6 = *Ipv6Range::Parse("fd00:1::-fd00:1::ffff:ffff:ffff:ffff");
  EXPECT_EQ(DhcpLeaseMax(network), 1 << 24);
  network.dhcp_range6.reset();
  EXPECT_EQ(DhcpLeaseMax(network), 253 + 253);
}

TEST(DnsmasqLeases, ParsesIpv4LeasesAndSkipsIpv6AndJunk) {
  std::string text =
      "1717171717 02:ff:0a:0a:06:1c 10.1.1.28 lxdev01 01:02:ff:0a:0a:06:1c\n"
      "0 52:54:00:12:34:56 10.1.1.150 * *\n"
      "1717171800 52:54:00:aa:bb:cc 10.1.1.151 guest\n"
      "duid 00:01:00:01:2c:8a:1b:2f:52:54:00:12:34:56\n"
      "1717171717 1234 fd00::10 * 00:01:00:01\n"
      "garbage\n"
      "\n";
  auto leases = ParseDnsmasqLeases(text);
  ASSERT_EQ(leases.size(), 3u);
  EXPECT_EQ(leases[0], (DhcpLease{1717171717, "02:ff:0a:0a:06:1c", *Ipv4Address::Parse("10.1.1.28"),
                                  "lxdev01", "01:02:ff:0a:0a:06:1c"}));
  EXPECT_EQ(leases[1].expiry, 0);
  EXPECT_EQ(leases[1].hostname, "");
  EXPECT_EQ(leases[1].client_id, "");
  EXPECT_EQ(leases[2].hostname, "guest");
  EXPECT_EQ(leases[2].client_id, "");
  EXPECT_TRUE(ParseDnsmasqLeases("").empty());
}

TEST(DnsmasqLeases, ParsesIpv6LeasesWithTheMacOfTheirDuid) {
  std::string text =
      "1717171717 02:ff:0a:0a:06:1c 10.1.1.28 lxdev01 01:02:ff:0a:0a:06:1c\n"
      "duid 00:01:00:01:2c:8a:1b:2f:52:54:00:12:34:56\n"
      "1717171717 1234 fd00:1::1c lxdev01 00:01:00:01:2c:8a:1b:2f:02:FF:0A:0A:06:1C\n"
      "0 99 fd00:1::150 * 00:03:00:01:52:54:00:aa:bb:cc\n"
      "1717171800 7 fd00:1::151 guest 00:02:00:00:ab:11:01:02:03:04\n"
      "garbage\n";
  auto leases = ParseDnsmasqLeases6(text);
  ASSERT_EQ(leases.size(), 3u);
  EXPECT_EQ(leases[0],
            (DhcpLease6{1717171717, *Ipv6Address::Parse("fd00:1::1c"), "lxdev01",
                        "00:01:00:01:2c:8a:1b:2f:02:FF:0A:0A:06:1C", "02:ff:0a:0a:06:1c"}));
  EXPECT_EQ(leases[1].mac, "52:54:00:aa:bb:cc");  // DUID-LL
  EXPECT_EQ(leases[1].hostname, "");
  EXPECT_EQ(leases[2].mac, "");  // DUID-EN: no MAC in it
  // Control: IPv4 leases stay out, and a file without IPv6 leases has none.
  EXPECT_EQ(ParseDnsmasqLeases(text).size(), 1u);
  EXPECT_TRUE(ParseDnsmasqLeases6("1717171717 02:ff:0a:0a:06:1c 10.1.1.28 a *\n").empty());
  EXPECT_TRUE(
      ParseDnsmasqLeases6("duid 00:01\n1 7 10.1.1.5 a 00:03:00:01:52:54:00:aa:bb:cc\n").empty());
}

}  // namespace
}  // namespace virtnat
