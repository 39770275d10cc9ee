#include "providers/ovn/nb_rows.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "providers/ovn/ovn_plan.h"
#include "providers/ovn/ovn_test_config.h"

namespace virtnat::ovn {
namespace {

using json = nlohmann::json;
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

Plan PlanAll(const Config& config) {
  std::vector<const Network*> networks;
  for (const auto& network : config.networks)
    if (network.provider == NetworkProvider::kOvn) networks.push_back(&network);
  return PlanNetworks(config, networks);
}

// A datum as ovsdb-server prints it: a set of one is its atom.
json Datum(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kString:
      return value.text;
    case Value::Kind::kInteger:
      return std::stoll(value.text);
    case Value::Kind::kSet: {
      if (value.set.size() == 1) return *value.set.begin();
      json items = json::array();
      for (const auto& item : value.set) items.push_back(item);
      return json::array({"set", items});
    }
    case Value::Kind::kMap: {
      json pairs = json::array();
      for (const auto& [k, v] : value.map) pairs.push_back(json::array({k, v}));
      return json::array({"map", pairs});
    }
  }
  return nullptr;
}

json Uuids(const std::vector<std::string>& uuids) {
  if (uuids.size() == 1) return json::array({"uuid", uuids[0]});
  json items = json::array();
  for (const auto& uuid : uuids) items.push_back(json::array({"uuid", uuid}));
  return json::array({"set", items});
}

// The rows of `plan` as the database would hold them after the plan's transaction.
std::vector<DbRow> Materialise(const Plan& plan, const std::string& prefix = "u") {
  std::map<std::string, std::string> uuids;
  for (std::size_t i = 0; i < plan.rows.size(); ++i)
    uuids[plan.rows[i].Key()] = prefix + std::to_string(i);
  std::vector<DbRow> rows;
  for (const auto& row : plan.rows) {
    DbRow found{row.table, uuids.at(row.Key()), {}};
    for (const auto& [column, value] : row.columns) found.cells[column] = Datum(value).dump();
    for (const auto& [column, keys] : row.refs) {
      std::vector<std::string> refs;
      for (const auto& key : keys) refs.push_back(uuids.at(key));
      found.cells[column] = Uuids(refs).dump();
    }
    rows.push_back(std::move(found));
  }
  return rows;
}

int Count(const Change& change, const std::string& verb, const std::string& table = "") {
  int count = 0;
  for (const auto& command : change.commands) {
    auto word = std::find(command.begin(), command.end(), verb);
    if (word != command.end() && (table.empty() || (word + 1 != command.end() && word[1] == table)))
      ++count;
  }
  return count;
}

DbRow* FindRow(std::vector<DbRow>& rows, const std::string& table, const std::string& name) {
  for (auto& row : rows)
    if (row.table == table && ParseDatum(row.cells["name"], Value::Kind::kString).text == name)
      return &row;
  return nullptr;
}

TEST(NbRows, ValuesInOvnNbctlSyntax) {
  EXPECT_EQ(QuoteNbctl(R"(inport == "a.rp" \ x)"), R"("inport == \"a.rp\" \\ x")");
  EXPECT_EQ(Value::Integer(1000).ToNbctl(), "1000");
  EXPECT_EQ(Value::Set({"b", "a"}).ToNbctl(), R"(["a", "b"])");
  EXPECT_EQ(Value::Map({{"k", "v"}, {"a", "\"q\""}}).ToNbctl(), R"({"a"="\"q\"", "k"="v"})");
  EXPECT_TRUE(Value::Set({}).Empty());
  EXPECT_FALSE(Value::String("").Empty());
}

TEST(NbRows, ParsesOvnNbctlJsonOutput) {
  // Real output of `ovn-nbctl --format=json -- find Load_Balancer ... -- find Logical_Switch ...`.
  std::string output =
      R"({"data":[[["uuid","ed40"],["map",[["virtnat","1"],["virtnat-forward","tcp 1.1.1.1:80 -> a:80"]]],["set",[]],["map",[]],"lb",["map",[]],"tcp",["set",[]],["map",[["1.1.1.1:80","2.2.2.2:80"],["1.1.1.1:81","2.2.2.2:81"]]]]],"headings":["_uuid","external_ids","health_check","ip_port_mappings","name","options","protocol","selection_fields","vips"]})"
      "\n"
      R"({"data":[[["uuid","443b"],["set",[]],["set",[]],["set",[]],["map",[["virtnat","1"]]],["set",[]],["uuid","ed40"],["set",[]],"s",["map",[]],["set",[["uuid","7205"],["uuid","7206"]]],["set",[]]]],"headings":["_uuid","acls","copp","dns_records","external_ids","forwarding_groups","load_balancer","load_balancer_group","name","other_config","ports","qos_rules"]})"
      "\n";
  auto rows = ParseFindOutput(output, {"Load_Balancer", "Logical_Switch"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].uuid, "ed40");
  EXPECT_EQ(rows[0].ExternalId("virtnat-forward"), "tcp 1.1.1.1:80 -> a:80");
  EXPECT_EQ(ParseDatum(rows[0].cells["vips"], Value::Kind::kMap).map.at("1.1.1.1:81"),
            "2.2.2.2:81");
  EXPECT_EQ(ParseDatum(rows[0].cells["protocol"], Value::Kind::kString).text, "tcp");
  EXPECT_EQ(rows[1].table, "Logical_Switch");
  EXPECT_EQ(ParseUuids(rows[1].cells["load_balancer"]), std::vector<std::string>{"ed40"});
  EXPECT_EQ(ParseUuids(rows[1].cells["ports"]), (std::vector<std::string>{"7205", "7206"}));
  EXPECT_EQ(ParseDatum(rows[1].cells["name"], Value::Kind::kSet).set, std::set<std::string>{"s"});
  EXPECT_THROW(ParseFindOutput(output, {"Load_Balancer"}), std::runtime_error);
  EXPECT_THROW(ParseFindOutput(output, {"A", "B", "C"}), std::runtime_error);
}

TEST(NbDiff, AnEmptyDatabaseGetsEveryRowInOneTransaction) {
  Plan plan = PlanAll(Fleet());
  Change change = Diff(plan, {});
  EXPECT_EQ(change.created, static_cast<int>(plan.rows.size()));
  EXPECT_EQ(Count(change, "create"), static_cast<int>(plan.rows.size()));
  EXPECT_EQ(change.changed + change.removed, 0);
  auto args = TransactionArguments(change);
  EXPECT_EQ(args.front(), "--");
  EXPECT_EQ(std::count(args.begin(), args.end(), "--"), static_cast<long>(change.commands.size()));
}

TEST(NbDiff, ASecondApplySendsNothing) {
  Plan plan = PlanAll(Fleet());
  Change change = Diff(plan, Materialise(plan));
  EXPECT_TRUE(change.Empty()) << change.Summary() << ": " << change.commands.front()[0];
  EXPECT_EQ(change.Summary(), "rows unchanged");
}

TEST(NbDiff, AChangedForwardChangesItsVipsAndItsBackendsAclInPlace) {
  Config before = Fleet();
  auto rows = Materialise(PlanAll(before));
  Config after =
      Fleet(Replace(kFleetConfig, "port = 8080\nto_port = 80", "port = 8081\nto_port = 81"));
  Change change = Diff(PlanAll(after), rows);
  EXPECT_EQ(change.created + change.removed, 0) << change.Summary();
  EXPECT_EQ(change.changed, 2);  // the load balancer's VIPs, the ACL of web1's open ports
  EXPECT_EQ(Count(change, "set", "Load_Balancer"), 1);
  EXPECT_EQ(Count(change, "set", "ACL"), 1);
  // An allowlisted forward has its own rows: changing it replaces them.
  Config moved =
      Fleet(Replace(kFleetConfig, "port = 2222\nto_port = 22", "port = 2223\nto_port = 22"));
  change = Diff(PlanAll(moved), rows);
  EXPECT_EQ(change.created, 2);  // its address set and ACL under the new key
  EXPECT_EQ(change.removed, 2);
  EXPECT_EQ(Count(change, "destroy", "Address_Set"), 1);
  EXPECT_EQ(Count(change, "create", "Logical_Switch"), 0);  // no port loses its binding
  EXPECT_EQ(Count(change, "remove", "Logical_Switch"), 1);  // the old ACL
}

TEST(NbDiff, ColumnsThatDifferAreSetInPlace) {
  auto rows = Materialise(PlanAll(Fleet()));
  std::string text = Replace(kFleetConfig, "[\"hv1\", \"hv2\"]", "[\"hv2\", \"hv1\"]");
  text = Replace(text, "source = [\"198.51.100.10/32\", ", "source = [\"198.51.100.11/32\", ");
  text = Replace(text, "mac = \"02:76:6e:0a:00:0b\"", "mac = \"02:76:6e:0a:00:1b\"");
  Change change = Diff(PlanAll(Fleet(text)), rows);
  EXPECT_EQ(change.created + change.removed, 0) << change.Summary();
  EXPECT_EQ(change.changed, 4);  // two gateway chassis, the address set, web1's port
  EXPECT_EQ(Count(change, "set", "Gateway_Chassis"), 2);
  EXPECT_EQ(Count(change, "set", "Address_Set"), 1);
  EXPECT_EQ(Count(change, "set", "Logical_Switch_Port"), 1);
}

TEST(NbDiff, RowsOfOthersAndTheirReferencesStay) {
  Plan plan = PlanAll(Fleet());
  auto rows = Materialise(plan);
  // An admin's port on virtnat's switch: it is nobody's row of virtnat's, so it stays there.
  DbRow* ls = FindRow(rows, "Logical_Switch", "fleet");
  ASSERT_TRUE(ls);
  auto ports = ParseUuids(ls->cells["ports"]);
  ports.push_back("foreign-port");
  ls->cells["ports"] = Uuids(ports).dump();
  // A stale host port of virtnat's on it goes.
  ports.push_back("stale");
  ls->cells["ports"] = Uuids(ports).dump();
  rows.push_back({"Logical_Switch_Port",
                  "stale",
                  {{"name", "\"fleet-old\""},
                   {"external_ids", R"(["map",[["virtnat","1"],["virtnat-network","fleet"]]])"}}});
  Change change = Diff(plan, rows);
  ASSERT_EQ(change.commands.size(), 1u) << change.Summary();
  EXPECT_EQ(change.commands[0],
            (std::vector<std::string>{"remove", "Logical_Switch", ls->uuid, "ports", "stale"}));
  EXPECT_EQ(change.removed, 1);
}

TEST(NbDiff, ADuplicateRowGoes) {
  Plan plan = PlanAll(Fleet());
  auto rows = Materialise(plan);
  DbRow copy = *FindRow(rows, "Load_Balancer", "fleet.fwd.tcp");
  copy.uuid = "copy";
  rows.push_back(copy);
  Change change = Diff(plan, rows);
  EXPECT_EQ(change.removed, 1);
  EXPECT_EQ(change.commands,
            (std::vector<std::vector<std::string>>{{"destroy", "Load_Balancer", "copy"}}));
}

TEST(NbDiff, AChildUnderANewParentIsCreatedWithIt) {
  Plan plan = PlanAll(Fleet());
  auto rows = Materialise(plan);
  // The router went missing (an admin deleted it): its ports, NAT and route come back with it.
  std::erase_if(rows, [](const DbRow& row) { return row.table == "Logical_Router"; });
  Change change = Diff(plan, rows);
  EXPECT_EQ(Count(change, "create", "Logical_Router"), 1);
  EXPECT_EQ(Count(change, "create", "Logical_Router_Port"), 2);
  EXPECT_EQ(Count(change, "create", "Gateway_Chassis"), 2);
  EXPECT_EQ(Count(change, "create", "NAT"), 1);
  EXPECT_EQ(Count(change, "create", "Load_Balancer"), 0);  // roots are kept and referenced
  // The orphans found (in a real database they went with the router) are not touched.
  EXPECT_EQ(Count(change, "destroy"), 0);
}

TEST(NbDiff, DownRemovesExactlyVirtnatsRowsByDestroyingTheRoots) {
  Plan plan = PlanAll(Fleet());
  auto rows = Materialise(plan);
  Change change = Diff({}, rows);
  EXPECT_EQ(change.removed, static_cast<int>(rows.size()));
  EXPECT_EQ(change.created + change.changed, 0);
  for (const auto& command : change.commands) {
    EXPECT_EQ(command[0], "destroy");
    EXPECT_TRUE(IsRootTable(command[1])) << command[1];
  }
  // Switches (2), the router, 2 load balancers, DHCP, DNS, one address set.
  EXPECT_EQ(change.commands.size(), 8u);
}

TEST(NbDiff, OneNetworkAloneStartsAndStops) {
  std::string text = kFleetConfig;
  // A second ovn network beside "fleet".
  text += R"(
[[network]]
name = "lab"
provider = "ovn"
address = "10.98.0.1/24"
uplink = "physnet1"
uplink_address = "198.51.100.51/24"
gateway_chassis = ["hv2"]
)";
  Config config = Fleet(text);
  Plan plan = PlanAll(config);
  auto rows = Materialise(plan);
  Change stop = Diff({}, OnlyNetwork(rows, "lab"));
  EXPECT_EQ(stop.removed, static_cast<int>(OnlyNetwork(rows, "lab").size()));
  for (const auto& command : stop.commands) EXPECT_NE(command.back().find('u'), std::string::npos);
  std::vector<DbRow> without_lab;
  for (const auto& row : rows)
    if (row.ExternalId("virtnat-network") != "lab") without_lab.push_back(row);
  Change start = Diff(OnlyNetwork(plan, "lab"), OnlyNetwork(without_lab, "lab"));
  EXPECT_EQ(start.created, static_cast<int>(OnlyNetwork(plan, "lab").rows.size()));
  EXPECT_TRUE(Diff(plan, rows).Empty());
}

}  // namespace
}  // namespace virtnat::ovn
