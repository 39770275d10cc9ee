// The engine's control flow through fake backends and providers: the order of apply, what a
// failure leaves untouched, repair, status and VM tracking. (That the real backend and
// providers do their part is proven by the lab tests with real packets.)
#include "engine/engine.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/errors.h"
#include "test_config.h"

namespace virtnat {
namespace {

using Log = std::vector<std::string>;

std::string Join(const std::set<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

class FakeFirewall : public FirewallBackend {
 public:
  explicit FakeFirewall(Log& log) : log_(log) {}
  std::string Describe() const override { return "fake ruleset"; }
  std::string Render(const DesiredState& state) override {
    return "rendered " + std::to_string(state.forwards.size());
  }
  FirewallDiff Diff(const DesiredState& state) override {
    log_.push_back("diff");
    FirewallDiff diff;
    diff.table_missing = !installed;
    if (installed && applied_forwards != Active(state)) diff.to_add.push_back("fwd");
    return diff;
  }
  FirewallChange Apply(const DesiredState& state) override {
    log_.push_back("firewall apply " + std::to_string(Active(state)) + " active");
    if (fail_apply) throw RuntimeFailure("the kernel said no");
    FirewallChange change;
    change.replaced = !installed;
    change.added = Active(state);
    installed = true;
    applied_forwards = Active(state);
    return change;
  }
  std::vector<TrafficCounters> ReadCounters(const DesiredState& state) override {
    return std::vector<TrafficCounters>(state.forwards.size(), TrafficCounters{7, 700});
  }
  bool Down() override {
    log_.push_back("firewall down");
    bool was = installed;
    installed = false;
    return was;
  }
  bool Installed() override { return installed; }
  void WriteHostState(const DesiredState&) override { log_.push_back("host state"); }
  void SetHostsActive(const std::set<std::string>& hosts, bool active) override {
    log_.push_back(fmt::format("hosts {} {}", Join(hosts), active ? "on" : "off"));
  }
  std::string EnsureShims() override {
    log_.push_back("ensure shims");
    return shims_missing ? "shim put back on top" : "";
  }
  std::string DescribeShims() const override { return "the fake shim"; }
  bool RemoveShims() override {
    log_.push_back("remove shims");
    return true;
  }
  int OpenChangeEvents() override { return -1; }
  void DrainChangeEvents(int) override {}
  // A foreign rule that drops the forward hook's packets to guest port `drop_port`.
  std::vector<TrafficFinding> Diagnose(const std::vector<TrafficProbe>& probes) override {
    diagnosed = probes;
    std::vector<TrafficFinding> findings;
    for (std::size_t i = 0; i < probes.size(); ++i)
      if (drop_port && probes[i].kind == TrafficProbe::Kind::kForward &&
          probes[i].dport == drop_port) {
        TrafficFinding finding;
        finding.probe = i;
        finding.sure = drop_sure;
        finding.ruleset = "inet admin";
        finding.chain = "forward";
        finding.handle = 4;
        finding.rule = "tcp dport 8001 drop";
        finding.fix = "ask the admin";
        findings.push_back(finding);
      }
    return findings;
  }

  bool installed = false;
  std::optional<std::uint16_t> drop_port;
  bool drop_sure = true;
  std::vector<TrafficProbe> diagnosed;
  bool fail_apply = false;
  bool shims_missing = false;
  std::size_t applied_forwards = 0;

 private:
  static std::size_t Active(const DesiredState& state) {
    std::size_t active = 0;
    for (const auto& forward : state.forwards) active += forward.active;
    return active;
  }
  Log& log_;
};

class FakeDriver : public NetworkDriver {
 public:
  FakeDriver(std::string name, Log& log) : name_(std::move(name)), log_(log) {}
  void Prepare(const Config&, const std::vector<const Network*>& networks) override {
    log_.push_back(name_ + " prepare " + Names(networks));
    if (fail_prepare) throw RuntimeFailure(name_ + " is unreachable");
  }
  std::vector<std::string> Realise(const Config&,
                                   const std::vector<const Network*>& networks) override {
    log_.push_back(name_ + " realise " + Names(networks));
    if (fail_realise) throw RuntimeFailure(name_ + " refused");
    return networks.empty() ? std::vector<std::string>{}
                            : std::vector<std::string>{name_ + " up: " + Names(networks)};
  }
  std::string State(const Network& network) override { return "up (" + network.name + ")"; }
  std::vector<std::string> Start(const Config&, const Network& network) override {
    log_.push_back(name_ + " start " + network.name);
    return {};
  }
  std::vector<std::string> Stop(const Network& network, bool) override {
    log_.push_back(name_ + " stop " + network.name);
    return {"stopped " + network.name};
  }
  std::string Status(const Network& network) override { return network.name; }
  std::string Definition(const Network& network) override { return network.name; }
  bool StartStopReapplies() const override { return reapplies; }
  std::vector<NetworkLease> Leases(const Network&) override { return {}; }

  bool fail_prepare = false;
  bool fail_realise = false;
  bool reapplies = true;

 private:
  static std::string Names(const std::vector<const Network*>& networks) {
    std::string text;
    for (const Network* network : networks) text += (text.empty() ? "" : ",") + network->name;
    return text.empty() ? "-" : text;
  }
  std::string name_;
  Log& log_;
};

class FakeVms : public VmInventory {
 public:
  explicit FakeVms(Log& log) : log_(log) {}
  RunningDomains Running(const Config&) override {
    log_.push_back("vms running");
    if (unreachable) throw RuntimeFailure("cannot connect to libvirt");
    return running;
  }
  std::vector<VmInfo> List() override { return {}; }
  void Follow(VmEventSink&, const std::atomic<bool>&) override {}
  RunningDomains running;
  bool unreachable = false;

 private:
  Log& log_;
};

// Two networks: one standalone, one external, two hosts, forwards to each.
const char* kTwoNetworks = R"(
[settings]
public_address = "198.51.100.1"
vm_lifecycle = "libvirt"

[[network]]
name = "alpha"
provider = "standalone"
bridge = "br-alpha"
address = "10.1.1.1/24"
[[network.host]]
name = "a1"
address = "10.1.1.10"

[[network]]
name = "beta"
provider = "external"
bridge = "br-beta"
address = "10.2.2.1/24"
[[network.host]]
name = "b1"
address = "10.2.2.10"

[[forward]]
host = "a1"
port = 8001
[[forward]]
host = "b1"
port = 8002
)";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("virtnat-engine-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Diagnostics diagnostics;
    config_ = testing::Parse(kTwoNetworks, diagnostics);
    ASSERT_FALSE(diagnostics.HasErrors());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // An engine over fakes; the fakes stay reachable through the pointers.
  Engine Make() {
    auto firewall = std::make_unique<FakeFirewall>(log_);
    firewall_ = firewall.get();
    Providers providers;
    auto external = std::make_unique<FakeDriver>("external", log_);
    auto standalone = std::make_unique<FakeDriver>("standalone", log_);
    external_ = external.get();
    standalone_ = standalone.get();
    providers.drivers.emplace_back(NetworkProvider::kExternal, std::move(external));
    providers.drivers.emplace_back(NetworkProvider::kStandalone, std::move(standalone));
    providers.drivers.emplace_back(NetworkProvider::kLibvirt,
                                   std::make_unique<FakeDriver>("libvirt", log_));
    auto vms = std::make_unique<FakeVms>(log_);
    vms_ = vms.get();
    providers.vms = std::move(vms);
    return Engine(StateDir(dir_), std::move(firewall), std::move(providers));
  }

  std::filesystem::path dir_;
  Config config_;
  Log log_;
  FakeFirewall* firewall_ = nullptr;
  FakeDriver* external_ = nullptr;
  FakeDriver* standalone_ = nullptr;
  FakeVms* vms_ = nullptr;
};

TEST_F(EngineTest, ApplyPreparesRealisesReadsVmsThenInstallsTheFirewallInThatOrder) {
  Engine engine = Make();
  vms_->running = {{"vm-a1", {"a1"}}};
  Report report = engine.Apply(config_);
  EXPECT_EQ(log_, (Log{"external prepare beta", "standalone prepare alpha", "libvirt prepare -",
                       "external realise beta", "standalone realise alpha", "libvirt realise -",
                       "vms running", "firewall apply 1 active", "host state"}));
  EXPECT_EQ(report.lines,
            (std::vector<std::string>{"external up: beta", "standalone up: alpha",
                                      "applied: fake ruleset installed (1 elements)"}));
  EXPECT_TRUE(report.warnings.empty());
  EXPECT_TRUE(std::filesystem::exists(StateDir(dir_).HookIndexPath()));
}

TEST_F(EngineTest, AProviderThatCannotWorkStopsApplyBeforeAnythingChanges) {
  Engine engine = Make();
  standalone_->fail_prepare = true;
  EXPECT_THROW(engine.Apply(config_), RuntimeFailure);
  for (const auto& entry : log_) {
    EXPECT_EQ(entry.find("realise"), std::string::npos) << entry;
    EXPECT_EQ(entry.find("firewall"), std::string::npos) << entry;
  }
  // Control: the same apply passes once the provider can work.
  standalone_->fail_prepare = false;
  EXPECT_NO_THROW(engine.Apply(config_));
  EXPECT_TRUE(firewall_->installed);
}

TEST_F(EngineTest, ARealiseFailureLeavesTheFirewallAndTheHookIndexUntouched) {
  Engine engine = Make();
  standalone_->fail_realise = true;
  EXPECT_THROW(engine.Apply(config_), RuntimeFailure);
  EXPECT_FALSE(firewall_->installed);
  EXPECT_FALSE(std::filesystem::exists(StateDir(dir_).HookIndexPath()));
}

TEST_F(EngineTest, AFirewallFailureLeavesTheHookIndexUntouched) {
  Engine engine = Make();
  firewall_->fail_apply = true;
  EXPECT_THROW(engine.Apply(config_), RuntimeFailure);
  EXPECT_FALSE(std::filesystem::exists(StateDir(dir_).HookIndexPath()));
}

TEST_F(EngineTest, UnreachableVmsAreAWarningAndTheRecordedRunningSetCounts) {
  Engine engine = Make();
  StateDir(dir_).Ensure();
  StateDir(dir_).WriteRunningDomains({{"vm-b1", {"b1"}}});
  vms_->unreachable = true;
  Report report = engine.Apply(config_);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("using the running VMs recorded by the hook"),
            std::string::npos);
  EXPECT_EQ(firewall_->applied_forwards, 1u);  // b1's, as recorded
  StatusReport status = engine.Status(config_);
  ASSERT_EQ(status.forwards.size(), 2u);
  EXPECT_EQ(status.forwards[0].state, "waiting for its VM");
  EXPECT_EQ(status.forwards[1].state, "active");
}

TEST_F(EngineTest, StoppedNetworksAreLeftOutUntilApplyStartsThemAgain) {
  Engine engine = Make();
  Report stop = engine.NetworkAction(config_, "stop", "alpha");
  EXPECT_EQ(stop.lines.front(), "stopped alpha");
  EXPECT_NE(std::find(log_.begin(), log_.end(), "standalone realise -"), log_.end());
  StatusReport status = engine.Status(config_);
  EXPECT_EQ(status.networks[0].state, "stopped");
  EXPECT_EQ(status.forwards.back().state, "network stopped");
  EXPECT_FALSE(status.forwards.back().counted);
  log_.clear();
  Report apply = engine.Apply(config_);
  EXPECT_EQ(apply.lines.front(), "network alpha: stopped by `virtnat network stop`, started again");
  EXPECT_NE(std::find(log_.begin(), log_.end(), "standalone realise alpha"), log_.end());
  EXPECT_EQ(engine.Status(config_).networks[0].state, "up (alpha)");
}

TEST_F(EngineTest, RepairReinstallsOnlyWhatDrifted) {
  Engine engine = Make();
  engine.Apply(config_);
  log_.clear();
  Report quiet = engine.Repair(config_, "periodic check");
  for (const auto& line : quiet.lines) EXPECT_EQ(line.find("fake ruleset"), std::string::npos);
  EXPECT_EQ(std::count_if(log_.begin(), log_.end(),
                          [](const std::string& entry) { return entry.starts_with("firewall"); }),
            0);
  // Somebody deleted the table: repaired, and said so with the reason.
  firewall_->installed = false;
  Report repaired = engine.Repair(config_, "nftables changed");
  ASSERT_FALSE(repaired.lines.empty());
  EXPECT_EQ(repaired.lines.back(), "repaired fake ruleset (nftables changed: table missing)");
  EXPECT_TRUE(firewall_->installed);
}

TEST_F(EngineTest, ShimsAreKeptOnlyWhenAProviderOwnsANetworksFirewall) {
  Engine engine = Make();
  engine.Apply(config_);
  EXPECT_EQ(std::count(log_.begin(), log_.end(), "ensure shims"), 0);
  Report down = engine.Down(config_);
  EXPECT_EQ(down.lines, (std::vector<std::string>{"deleted fake ruleset"}));
  EXPECT_EQ(std::count(log_.begin(), log_.end(), "remove shims"), 0);
  // Control: a network whose NAT its provider does makes the engine keep the shim.
  config_.networks[1].provider = NetworkProvider::kLibvirt;
  config_.networks[1].define = false;
  Engine with_libvirt = Make();
  firewall_->shims_missing = true;
  Report repaired = with_libvirt.Repair(config_, "libvirt restarted");
  ASSERT_FALSE(repaired.lines.empty());
  EXPECT_EQ(repaired.lines.back(),
            "repaired the fake shim (libvirt restarted): shim put back on top");
}

TEST_F(EngineTest, AVmStaysOnWhileAnotherRunningDomainStandsForItsHost) {
  Log log;
  FakeFirewall firewall(log);
  StateDir state(dir_);
  SetDomainRunning(state, firewall, "vm-one", {"a1"}, true);
  SetDomainRunning(state, firewall, "vm-two", {"a1"}, true);
  SetDomainRunning(state, firewall, "vm-one", {"a1"}, false);
  EXPECT_EQ(log, (Log{"hosts a1 on", "hosts a1 on", "hosts  off"}));
  EXPECT_EQ(state.ReadRunningHosts(), RunningHosts{"a1"});
  SetDomainRunning(state, firewall, "vm-two", {"a1"}, false);
  EXPECT_EQ(log.back(), "hosts a1 off");
  EXPECT_TRUE(state.ReadRunningHosts().empty());
}

TEST_F(EngineTest, DoctorProbesActiveForwardsGuestsAndServedNetworks) {
  Engine engine = Make();
  vms_->running = {{"vm-a1", {"a1"}}};
  engine.Apply(config_);
  DoctorReport doctor = engine.Doctor(config_);
  EXPECT_FALSE(doctor.Blocks());
  auto count = [&](TrafficProbe::Kind kind) {
    return std::count_if(doctor.probes.begin(), doctor.probes.end(),
                         [kind](const TrafficProbe& p) { return p.kind == kind; });
  };
  EXPECT_EQ(count(TrafficProbe::Kind::kForward), 1);  // a1's; b1's VM does not run
  EXPECT_EQ(count(TrafficProbe::Kind::kForwardIn), 1);
  EXPECT_EQ(count(TrafficProbe::Kind::kForwardReply), 1);
  EXPECT_EQ(count(TrafficProbe::Kind::kEgress), 2);  // both networks are nat
  EXPECT_EQ(count(TrafficProbe::Kind::kDhcp), 1);    // standalone serves DHCP, external not
  EXPECT_EQ(count(TrafficProbe::Kind::kDns), 2);
  EXPECT_EQ(firewall_->diagnosed.size(), doctor.probes.size());
  // What the backend finds is the report.
  firewall_->drop_port = 8001;
  doctor = engine.Doctor(config_);
  ASSERT_EQ(doctor.findings.size(), 1u);
  EXPECT_EQ(doctor.probes.at(doctor.findings[0].probe).dport, 8001);
}

TEST_F(EngineTest, AForwardThatAnotherRulesetDropsIsBlockedNotActive) {
  Engine engine = Make();
  vms_->running = {{"vm-a1", {"a1"}}, {"vm-b1", {"b1"}}};
  engine.Apply(config_);
  firewall_->drop_port = 8001;
  StatusReport status = engine.Status(config_);
  ASSERT_EQ(status.forwards.size(), 2u);
  EXPECT_EQ(status.forwards[0].state, "blocked");
  EXPECT_FALSE(status.forwards[0].active);
  ASSERT_EQ(status.blocked.count(0), 1u);
  EXPECT_EQ(status.blocked.at(0).at(0).rule, "tcp dport 8001 drop");
  EXPECT_EQ(status.blocked.at(0).at(0).ruleset, "inet admin");
  EXPECT_EQ(status.forwards[1].state, "active");  // control: the other forward
  // A rule that only MAY drop it leaves it active in status (doctor reports it).
  firewall_->drop_sure = false;
  status = engine.Status(config_);
  EXPECT_EQ(status.forwards[0].state, "active");
  EXPECT_TRUE(status.blocked.empty());
  EXPECT_TRUE(engine.Doctor(config_).Blocks());
  // Control: without the rule, both are active.
  firewall_->drop_port.reset();
  status = engine.Status(config_);
  EXPECT_EQ(status.forwards[0].state, "active");
}

TEST_F(EngineTest, ApplyWarnsOnceWhenSomethingBlocks) {
  Engine engine = Make();
  vms_->running = {{"vm-a1", {"a1"}}};
  firewall_->drop_port = 8001;
  Report report = engine.Apply(config_);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("block virtnat's traffic (1 finding; the first: blocked: "
                                    "forward tcp 198.51.100.1:8001 -> a1 10.1.1.10:8001"),
            std::string::npos)
      << report.warnings[0];
  EXPECT_NE(report.warnings[0].find("`virtnat doctor`"), std::string::npos);
  // Control: nothing blocks, no warning.
  firewall_->drop_port.reset();
  EXPECT_TRUE(engine.Apply(config_).warnings.empty());
}

class FakeNeighbour : public FirewallNeighbour {
 public:
  explicit FakeNeighbour(Log& log) : log_(log) {}
  std::string Name() const override { return "fakewall"; }
  std::vector<std::string> Ensure(const DesiredState& state) override {
    log_.push_back(fmt::format("neighbour ensure {} networks", state.networks.size()));
    if (fail) throw RuntimeFailure("fakewall is confused");
    if (in_place) return {};
    in_place = true;
    return {"added the bridges to zone fake"};
  }
  std::vector<std::string> Remove() override {
    log_.push_back("neighbour remove");
    in_place = false;
    return {"deleted zone fake"};
  }
  bool in_place = false;
  bool fail = false;

 private:
  Log& log_;
};

TEST_F(EngineTest, NeighboursAreEnsuredAfterTheFirewallRepairedAndRemovedOnDown) {
  Engine engine = Make();
  auto neighbour = std::make_unique<FakeNeighbour>(log_);
  FakeNeighbour* fake = neighbour.get();
  FirewallNeighbours neighbours;
  neighbours.push_back(std::move(neighbour));
  engine.set_neighbours(std::move(neighbours));
  Report apply = engine.Apply(config_);
  EXPECT_EQ(log_.back(), "neighbour ensure 2 networks");
  EXPECT_EQ(apply.lines.back(), "added the bridges to zone fake");
  // In place: nothing to say; gone (a firewalld reload that lost it): repaired, with the reason.
  // (The fake drivers report a repair each time: only the neighbour's lines count here.)
  EXPECT_EQ(engine.Repair(config_, "nftables changed").lines.back(),
            "repaired standalone up: alpha (nftables changed)");
  fake->in_place = false;
  EXPECT_EQ(engine.Repair(config_, "nftables changed").lines.back(),
            "repaired fakewall (nftables changed): added the bridges to zone fake");
  // A stopped network leaves the neighbour's configuration with its rules.
  engine.NetworkAction(config_, "stop", "alpha");
  EXPECT_EQ(log_.back(), "neighbour ensure 1 networks");
  // A neighbour that fails is a warning: virtnat's own table is in place.
  fake->fail = true;
  Report failed = engine.Apply(config_);
  ASSERT_EQ(failed.warnings.size(), 1u);
  EXPECT_EQ(failed.warnings[0], "fakewall: fakewall is confused");
  EXPECT_TRUE(firewall_->installed);
  Report down = engine.Down(config_);
  EXPECT_EQ(log_.back(), "neighbour remove");
  EXPECT_EQ(down.lines.back(), "deleted zone fake");
}

}  // namespace
}  // namespace virtnat
