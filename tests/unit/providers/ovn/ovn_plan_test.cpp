#include "providers/ovn/ovn_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "plan/desired_state.h"
#include "providers/ovn/ovn_test_config.h"

namespace virtnat::ovn {
namespace {

using virtnat::testing::kFleetConfig;
using virtnat::testing::ParseFleet;

Config Fleet(const std::string& text = kFleetConfig) {
  Diagnostics diagnostics;
  Config config = ParseFleet(text, diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  return config;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

Plan PlanOf(const Config& config, const std::string& network = "fleet") {
  return PlanNetworks(config, {config.FindNetwork(network)});
}

const Row* Find(const Plan& plan, const std::string& table, const std::string& name) {
  for (const auto& row : plan.rows)
    if (row.table == table && row.Name() == name) return &row;
  return nullptr;
}

std::vector<const Row*> All(const Plan& plan, const std::string& table) {
  std::vector<const Row*> rows;
  for (const auto& row : plan.rows)
    if (row.table == table) rows.push_back(&row);
  return rows;
}

std::string Column(const Row& row, const std::string& column) {
  return row.columns.at(column).ToNbctl();
}

TEST(OvnPlan, EveryRowIsMarkedAndNamedAfterItsNetwork) {
  Plan plan = PlanOf(Fleet());
  ASSERT_FALSE(plan.rows.empty());
  std::set<std::string> keys;
  for (const auto& row : plan.rows) {
    EXPECT_EQ(row.ExternalId("virtnat"), "1") << row.Key();
    EXPECT_EQ(row.ExternalId("virtnat-network"), "fleet") << row.Key();
    EXPECT_TRUE(keys.insert(row.Key()).second) << "two rows share " << row.Key();
    std::string name = row.Name();
    if (row.table == "Logical_Switch_Port" && !row.ExternalId("virtnat-port").empty()) {
      // A host's port: named by its UUID, NETWORK-HOST in external_ids.
      EXPECT_TRUE(row.ExternalId("virtnat-port").starts_with("fleet-")) << name;
      EXPECT_EQ(name, PortId("fleet", row.ExternalId("virtnat-host"))) << name;
    } else if (!name.empty() && row.table != "Address_Set") {
      EXPECT_TRUE(name.starts_with("fleet.") || name.starts_with("fleet-") || name == "fleet")
          << name;
    }
  }
}

TEST(OvnPlan, ChildrenComeBeforeTheParentsThatHoldThem) {
  Plan plan = PlanOf(Fleet());
  std::set<std::string> seen;
  for (const auto& row : plan.rows) {
    for (const auto& [column, keys] : row.refs)
      for (const auto& key : keys)
        EXPECT_TRUE(seen.contains(key)) << row.Name() << "." << column << " holds a later row";
    seen.insert(row.Key());
  }
}

TEST(OvnPlan, HostsArePortsWithMacAndAddressAndNativeDhcp) {
  Plan plan = PlanOf(Fleet());
  const Row* web1 = Find(plan, "Logical_Switch_Port", PortId("fleet", "web1"));
  const Row* web2 = Find(plan, "Logical_Switch_Port", PortId("fleet", "Web2"));
  ASSERT_TRUE(web1 && web2);
  EXPECT_EQ(Column(*web1, "addresses"), R"(["02:76:6e:0a:00:0b 10.99.0.11"])");
  EXPECT_EQ(Column(*web1, "port_security"), R"(["02:76:6e:0a:00:0b 10.99.0.11"])");
  EXPECT_EQ(Column(*web2, "addresses"), R"(["02:76:6e:0a:00:0c 10.99.0.12"])");  // lower case
  EXPECT_EQ(web1->ExternalId("virtnat-host"), "web1");
  EXPECT_EQ(web1->ExternalId("virtnat-port"), "fleet-web1");
  EXPECT_EQ(web2->ExternalId("virtnat-port"), "fleet-Web2");
  auto dhcp = All(plan, "DHCP_Options");
  ASSERT_EQ(dhcp.size(), 1u);
  EXPECT_EQ(web1->refs.at("dhcpv4_options"), std::vector{dhcp[0]->Key()});
  const auto& options = dhcp[0]->columns.at("options").map;
  EXPECT_EQ(dhcp[0]->columns.at("cidr").text, "10.99.0.0/24");
  EXPECT_EQ(options.at("router"), "10.99.0.1");
  EXPECT_EQ(options.at("server_id"), "10.99.0.1");
  EXPECT_EQ(options.at("dns_server"), "{10.99.0.1}");
  EXPECT_EQ(options.at("domain_name"), "\"fleet.test\"");
  EXPECT_EQ(options.at("mtu"), "1400");
  // The DHCP server's MAC is the router's on the network.
  EXPECT_EQ(options.at("server_mac"),
            Find(plan, "Logical_Router_Port", "fleet.lr.int")->columns.at("mac").text);
  auto dns = All(plan, "DNS");
  ASSERT_EQ(dns.size(), 1u);
  EXPECT_EQ(Column(*dns[0], "records"),
            R"({"web1"="10.99.0.11", "web1.fleet.test"="10.99.0.11", "web2"="10.99.0.12", )"
            R"("web2.fleet.test"="10.99.0.12"})");
}

TEST(OvnPlan, TheSwitchHoldsPortsAclsLoadBalancersAndDnsAndServesTheDhcpRange) {
  Plan plan = PlanOf(Fleet());
  const Row* ls = Find(plan, "Logical_Switch", "fleet");
  ASSERT_TRUE(ls);
  EXPECT_EQ(ls->refs.at("ports").size(), 3u);          // two hosts and the router's port
  EXPECT_EQ(ls->refs.at("load_balancer").size(), 2u);  // one per listen address and protocol
  EXPECT_EQ(ls->refs.at("dns_records").size(), 1u);
  EXPECT_EQ(Column(*ls, "other_config"),
            R"({"exclude_ips"="10.99.0.1..10.99.0.99 10.99.0.201..10.99.0.254", )"
            R"("subnet"="10.99.0.0/24"})");
  const Row* rp = Find(plan, "Logical_Switch_Port", "fleet.int.rp");
  ASSERT_TRUE(rp);
  EXPECT_EQ(Column(*rp, "type"), "\"router\"");
  EXPECT_EQ(Column(*rp, "options"), R"({"router-port"="fleet.lr.int"})");
}

TEST(OvnPlan, ModeNatHasTheRouterWithGatewayChassisSnatRouteAndTheProviderSwitch) {
  Plan plan = PlanOf(Fleet());
  const Row* lr = Find(plan, "Logical_Router", "fleet.lr");
  const Row* ext = Find(plan, "Logical_Router_Port", "fleet.lr.ext");
  ASSERT_TRUE(lr && ext);
  EXPECT_EQ(lr->refs.at("ports").size(), 2u);
  EXPECT_EQ(lr->refs.at("load_balancer"),
            Find(plan, "Logical_Switch", "fleet")->refs.at("load_balancer"));
  EXPECT_EQ(Column(*ext, "networks"), R"(["198.51.100.50/24"])");
  const Row* hv1 = Find(plan, "Gateway_Chassis", "fleet.lr.ext-hv1");
  const Row* hv2 = Find(plan, "Gateway_Chassis", "fleet.lr.ext-hv2");
  ASSERT_TRUE(hv1 && hv2);
  EXPECT_EQ(Column(*hv1, "priority"), "20");  // the list's order: falling priorities
  EXPECT_EQ(Column(*hv2, "priority"), "10");
  EXPECT_EQ(ext->refs.at("gateway_chassis"), (std::vector{hv1->Key(), hv2->Key()}));
  auto nat = All(plan, "NAT");
  ASSERT_EQ(nat.size(), 1u);
  EXPECT_EQ(Column(*nat[0], "type"), "\"snat\"");
  EXPECT_EQ(Column(*nat[0], "logical_ip"), "\"10.99.0.0/24\"");
  EXPECT_EQ(Column(*nat[0], "external_ip"), "\"198.51.100.50\"");
  auto routes = All(plan, "Logical_Router_Static_Route");
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(Column(*routes[0], "nexthop"), "\"198.51.100.254\"");
  const Row* localnet = Find(plan, "Logical_Switch_Port", "fleet.ext.localnet");
  const Row* ext_rp = Find(plan, "Logical_Switch_Port", "fleet.ext.rp");
  ASSERT_TRUE(localnet && ext_rp && Find(plan, "Logical_Switch", "fleet.ext"));
  EXPECT_EQ(Column(*localnet, "options"), R"({"network_name"="physnet1"})");
  // Gratuitous ARPs from the active gateway: the LAN learns a failover.
  EXPECT_EQ(ext_rp->columns.at("options").map.at("nat-addresses"), "router");
  // Mode nat: nothing from outside the subnet gets in but through forwards.
  bool drop = false;
  for (const Row* acl : All(plan, "ACL"))
    if (acl->columns.at("action").text == "drop") {
      drop = true;
      EXPECT_EQ(acl->columns.at("match").text,
                "inport == \"fleet.int.rp\" && ip4 && ip4.src != 10.99.0.0/24");
      EXPECT_EQ(Column(*acl, "action"), "\"drop\"");
      EXPECT_EQ(Column(*acl, "priority"), "1000");
    }
  EXPECT_TRUE(drop);
}

TEST(OvnPlan, ForwardsAreVipsOfOneLoadBalancerPerProtocolAndAclsThatLetThemIn) {
  Plan plan = PlanOf(Fleet());
  const Row* tcp = Find(plan, "Load_Balancer", "fleet.fwd.tcp");
  const Row* udp = Find(plan, "Load_Balancer", "fleet.fwd.udp");
  ASSERT_TRUE(tcp && udp);
  EXPECT_EQ(All(plan, "Load_Balancer").size(), 2u);
  // One VIP per port (ranges port by port), every forward of the protocol.
  EXPECT_EQ(Column(*tcp, "vips"),
            R"({"198.51.100.50:2222"="10.99.0.11:22", "198.51.100.50:8080"="10.99.0.11:80", )"
            R"("198.51.100.50:9000"="10.99.0.12:9000", "198.51.100.50:9001"="10.99.0.12:9001", )"
            R"("198.51.100.50:9002"="10.99.0.12:9002"})");
  EXPECT_EQ(Column(*tcp, "protocol"), "\"tcp\"");
  EXPECT_EQ(udp->columns.at("vips").map.size(), 3u);
  EXPECT_EQ(udp->columns.at("vips").map.at("198.51.100.50:9001"), "10.99.0.12:9001");
  // Forwards without a source list: one ACL per backend and protocol opens their guest ports.
  std::map<std::string, std::string> matches;
  for (const Row* acl : All(plan, "ACL")) {
    std::string key = acl->ExternalId("virtnat-forward") + acl->ExternalId("virtnat-backend");
    if (!key.empty()) matches[key] = acl->columns.at("match").text;
  }
  EXPECT_EQ(matches.at("tcp 10.99.0.11"),
            "inport == \"fleet.int.rp\" && ip4.dst == 10.99.0.11 && tcp.dst == 80");
  EXPECT_EQ(matches.at("udp 10.99.0.12"),
            "inport == \"fleet.int.rp\" && ip4.dst == 10.99.0.12 && udp.dst >= 9000 && "
            "udp.dst <= 9002");
  // An allowlist: an address set and the forward's ACL narrowed to it.
  const Row* set = Find(plan, "Address_Set", "vn_fleet_fwd_tcp_2222");
  ASSERT_TRUE(set);
  EXPECT_EQ(Column(*set, "addresses"), R"(["198.51.100.10", "203.0.113.0/24"])");
  EXPECT_EQ(matches.at("tcp 198.51.100.50:2222 -> web1:22"),
            "inport == \"fleet.int.rp\" && ip4.dst == 10.99.0.11 && tcp.dst == 22 && ip4.src == "
            "$vn_fleet_fwd_tcp_2222");
  // The standalone network's forward is not OVN's.
  for (const auto& row : plan.rows)
    EXPECT_EQ(row.ExternalId("virtnat-forward").find("db1"), std::string::npos);
}

TEST(OvnPlan, OneAclOpensTheGuestPortsOfEveryForwardWithoutASourceListToABackend) {
  std::string extra = R"(
[[forward]]
host = "web1"
port = 443

[[forward]]
host = "web1"
port = "5000-5001"
)";
  Plan plan = PlanOf(Fleet(kFleetConfig + extra));
  std::vector<std::string> matches;
  for (const Row* acl : All(plan, "ACL"))
    if (acl->ExternalId("virtnat-backend") == "tcp 10.99.0.11")
      matches.push_back(acl->columns.at("match").text);
  EXPECT_EQ(matches, std::vector<std::string>{
                         "inport == \"fleet.int.rp\" && ip4.dst == 10.99.0.11 && (tcp.dst == {80, "
                         "443} || (tcp.dst >= 5000 && tcp.dst <= 5001))"});
}

TEST(OvnPlan, ListenOtherThanTheUplinkAddressNamesItsRows) {
  Config config =
      Fleet(Replace(kFleetConfig, "port = 8080\n", "port = 8080\nlisten = \"198.51.100.60\"\n"));
  Plan plan = PlanOf(config);
  const Row* lb = Find(plan, "Load_Balancer", "fleet.fwd.tcp.198.51.100.60");
  ASSERT_TRUE(lb);
  EXPECT_EQ(Column(*lb, "vips"), R"({"198.51.100.60:8080"="10.99.0.11:80"})");
  EXPECT_FALSE(Find(plan, "Load_Balancer", "fleet.fwd.tcp")
                   ->columns.at("vips")
                   .map.contains("198.51.100.50:8080"));
}

TEST(OvnPlan, ModeRoutedHasNoSnatAndNoNetworkDropButAllowlistsStillHold) {
  Plan plan = PlanOf(Fleet(Replace(kFleetConfig, "mode = \"nat\"", "mode = \"routed\"")));
  EXPECT_TRUE(All(plan, "NAT").empty());
  std::vector<std::string> acls;
  for (const Row* acl : All(plan, "ACL"))
    acls.push_back(acl->columns.at("action").text + " " + acl->ExternalId("virtnat-forward"));
  // Only the allowlisted forward has ACLs: its address set's allow, and the drop of the others.
  EXPECT_EQ(acls, (std::vector<std::string>{"allow-related tcp 198.51.100.50:2222 -> web1:22",
                                            "drop tcp 198.51.100.50:2222 -> web1:22"}));
  EXPECT_TRUE(Find(plan, "Logical_Switch", "fleet.ext"));
}

TEST(OvnPlan, ModeIsolatedHasARouterForDnsButNoUplink) {
  std::string text = Replace(kFleetConfig, "mode = \"nat\"", "mode = \"isolated\"");
  text = Replace(text,
                 "uplink = \"physnet1\"\nuplink_address = \"198.51.100.50/24\"\nuplink_gateway = "
                 "\"198.51.100.254\"\ngateway_chassis = [\"hv1\", \"hv2\"]\n",
                 "");
  // Isolated networks take no forwards.
  text = text.substr(0, text.find("[[forward]]")) + "[[forward]]\nhost = \"db1\"\nport = 5432\n";
  Plan plan = PlanOf(Fleet(text));
  EXPECT_FALSE(Find(plan, "Logical_Switch", "fleet.ext"));
  EXPECT_TRUE(All(plan, "Gateway_Chassis").empty());
  EXPECT_TRUE(All(plan, "NAT").empty());
  EXPECT_TRUE(All(plan, "ACL").empty());
  const Row* lr = Find(plan, "Logical_Router", "fleet.lr");
  ASSERT_TRUE(lr);
  EXPECT_EQ(lr->refs.at("ports").size(), 1u);  // it answers ARP for the DNS server's address
  EXPECT_FALSE(All(plan, "DHCP_Options")[0]->columns.at("options").map.contains("router"));
}

TEST(OvnPlan, RouterMacsDifferPerNetworkAndStayTheSameWhenOthersComeAndGo) {
  Config config = Fleet();
  RouterMacs fleet = MacsOf(config, "fleet");
  EXPECT_TRUE(fleet.inside.starts_with("02:76:6e:"));
  EXPECT_NE(fleet.inside, fleet.uplink);
  Network other = *config.FindNetwork("fleet");
  other.name = "other";
  config.networks.push_back(other);
  RouterMacs second = MacsOf(config, "other");
  EXPECT_EQ(MacsOf(config, "fleet").inside, fleet.inside);
  std::set<std::string> all{fleet.inside, fleet.uplink, second.inside, second.uplink};
  EXPECT_EQ(all.size(), 4u);
}

TEST(OvnPlan, AddressSetNamesAreIdentifiersAndDistinctForNetworksThatLookAlike) {
  Config config = Fleet();
  const Forward& allowlisted = config.forwards[2];
  Network dash = *config.FindNetwork("fleet");
  dash.name = "my-net";
  Network underscore = dash;
  underscore.name = "my_net";
  std::string a = AddressSetNames(dash, allowlisted, Protocol::kTcp).at(0);
  std::string b = AddressSetNames(underscore, allowlisted, Protocol::kTcp).at(0);
  EXPECT_NE(a, b);
  EXPECT_EQ(b, "vn_my_net_fwd_tcp_2222");
  for (char c : a) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_') << a;
}

TEST(OvnPlan, RenderPlanIsOneTransactionThatCreatesEveryRow) {
  Plan plan = PlanOf(Fleet());
  std::string text = RenderPlan(plan);
  EXPECT_TRUE(text.starts_with("ovn-nbctl --wait=hv \\\n  -- --id=@r0 create DHCP_Options "));
  std::size_t creates = 0;
  for (std::size_t at = 0; (at = text.find(" create ", at)) != std::string::npos; ++at) ++creates;
  EXPECT_EQ(creates, plan.rows.size());
}

TEST(OvnPlan, InterfaceXmlPlugsTheVmIntoBrIntAsTheHostsPort) {
  Config config = Fleet();
  const Network& fleet = *config.FindNetwork("fleet");
  EXPECT_EQ(InterfaceXml(fleet, fleet.hosts[0]),
            "<interface type='bridge'>\n"
            "  <mac address='02:76:6e:0a:00:0b'/>\n"
            "  <source bridge='br-int'/>\n"
            "  <virtualport type='openvswitch'>\n"
            "    <parameters interfaceid='" +
                PortId("fleet", "web1") +
                "'/>\n"
                "  </virtualport>\n"
                "  <model type='virtio'/>\n"
                "  <mtu size='1400'/>\n"
                "</interface>\n");
}

TEST(OvnPlan, PortIdsAreStableUuidsThatLibvirtAccepts) {
  // libvirt parses a virtualport's interfaceid as a UUID; the id must be the same on every
  // host and in every build (it names the logical port the VM binds to).
  std::string id = PortId("fleet", "web1");
  EXPECT_EQ(id, "0be9b385-236c-8254-b3d8-50b47dc5e71f");
  ASSERT_EQ(id.size(), 36u);
  for (std::size_t at : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[at], '-');
  EXPECT_EQ(id[14], '8');                                          // version 8
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant 10
  EXPECT_NE(PortId("fleet", "web2"), id);
  EXPECT_NE(PortId("fleet", "Web1"), id);
  EXPECT_NE(PortId("fleet-web", "1"), PortId("fleet", "web-1"));
}

TEST(OvnPlan, TheHostFirewallLeavesOvnNetworksAndTheirForwardsOut) {
  Config config = Fleet();
  DesiredState desired = BuildDesiredState(config, {});
  ASSERT_EQ(desired.networks.size(), 1u);
  EXPECT_EQ(desired.networks[0].name, "local");
  ASSERT_EQ(desired.forwards.size(), 1u);
  EXPECT_EQ(desired.forwards[0].host, "db1");
  EXPECT_FALSE(config.FindNetwork("fleet")->HostFirewalled());
  EXPECT_FALSE(config.FindNetwork("fleet")->HostServesDhcp());
  EXPECT_TRUE(config.FindNetwork("local")->HostFirewalled());
}

}  // namespace
}  // namespace virtnat::ovn
