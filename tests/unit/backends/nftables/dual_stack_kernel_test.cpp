// The dual-stack table against the real kernel, in a network namespace the caller created:
//   ip netns add v6t
//   VIRTNAT_NETNS_KERNEL_TEST=1 ip netns exec v6t build/virtnat_unit_tests
//       --gtest_filter='DualStackKernel*'
//   ip netns del v6t
// Skipped otherwise: it installs a table, so it must never run in the root namespace.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "backends/nftables/conntrack.h"
#include "backends/nftables/host_batches.h"
#include "backends/nftables/netlink_batch.h"
#include "backends/nftables/netlink_send.h"
#include "backends/nftables/nftables_backend.h"
#include "base/process.h"
#include "dual_stack_test.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

class DualStackKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("VIRTNAT_NETNS_KERNEL_TEST"))
      GTEST_SKIP() << "only inside a network namespace (VIRTNAT_NETNS_KERNEL_TEST=1)";
    state_dir_ = fs::temp_directory_path() / ("virtnat-v6-kernel-" + std::to_string(::getpid()));
    fs::create_directories(state_dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!state_dir_.empty()) fs::remove_all(state_dir_, ignored);
  }
  fs::path state_dir_;
};

TEST_F(DualStackKernel, AppliesReadsBackAndStaysInSync) {
  NftablesBackend backend("v6test", StateDir(state_dir_));
  DesiredState state = testing::DualStackState();
  state.settings.ruleset_name = "v6test";
  FirewallChange first = backend.Apply(state);
  EXPECT_TRUE(first.replaced);
  // Read back over netlink: every IPv6 element as rendered.
  KernelTable kernel = backend.ReadKernel();
  ASSERT_TRUE(kernel.exists);
  NftRuleset desired = RenderRuleset(state);
  for (const char* set : {nftset::kDnat6, nftset::kDnat6Any, nftset::kCount6, nftset::kAllow6,
                          nftset::kRestricted6Any, nftset::kDnat, nftset::kAllowAny})
    EXPECT_EQ(kernel.elements[set], desired.elements[set]) << set;
  FirewallDiff diff = backend.Diff(state);
  EXPECT_TRUE(diff.InSync()) << diff.Summary();
  {
    // Control: an IPv6 element added behind virtnat's back is seen, and apply removes it.
    NftBatch extra;
    extra.AddElements("v6test", *nftlayout::FindSet(nftset::kDnat6),
                      {"2001:db8:100::9 . udp . 9 : fd00:77::9 . 9"});
    SendNftBatch(extra.Finish());
    FirewallDiff drifted = backend.Diff(state);
    EXPECT_FALSE(drifted.InSync());
    EXPECT_EQ(drifted.to_remove,
              std::vector<std::string>{"fwd_dnat6: 2001:db8:100::9 . udp . 9 : fd00:77::9 . 9"});
    FirewallChange repair = backend.Apply(state);
    EXPECT_FALSE(repair.replaced);
    EXPECT_EQ(repair.removed, 1u);
    EXPECT_TRUE(backend.Diff(state).InSync());
  }
  // A second apply changes nothing.
  FirewallChange second = backend.Apply(state);
  EXPECT_FALSE(second.replaced);
  EXPECT_EQ(second.added + second.removed, 0u);

  {
    // The hook's per-host batches switch the IPv6 forwards of a VM off and on.
    const std::string element = "2001:db8:100::2 . tcp . 5432 : fd00:77::29 . 5432";
    HostBatch db = BuildHostBatch("v6test", BuildHostElements(state)["db"]);
    SendNftBatch(NftBatch::Wrap(db.stop));
    EXPECT_FALSE(backend.ReadKernel().elements[nftset::kDnat6].contains(element));
    SendNftBatch(NftBatch::Wrap(db.stop));  // stopping twice is no error
    SendNftBatch(NftBatch::Wrap(db.start));
    EXPECT_TRUE(backend.ReadKernel().elements[nftset::kDnat6].contains(element));
  }

  // Removing and adding one IPv6 forward touches its elements only.
  DesiredState fewer = state;
  fewer.forwards.erase(fewer.forwards.begin() + 1);  // db, IPv6 only
  FirewallChange removal = backend.Apply(fewer);
  EXPECT_FALSE(removal.replaced);
  EXPECT_GT(removal.removed, 0u);
  EXPECT_EQ(removal.added, 0u);
  EXPECT_FALSE(backend.ReadKernel().elements[nftset::kDnat6].contains(
      "2001:db8:100::2 . tcp . 5432 : fd00:77::29 . 5432"));
  EXPECT_TRUE(backend.Diff(fewer).InSync());
  FirewallChange back = backend.Apply(state);
  EXPECT_FALSE(back.replaced);
  EXPECT_TRUE(backend.ReadKernel().elements[nftset::kDnat6].contains(
      "2001:db8:100::2 . tcp . 5432 : fd00:77::29 . 5432"));
  EXPECT_TRUE(backend.Diff(state).InSync());

  // `forward remove` and `forward add` of the IPv6-only forward: its elements alone, in one
  // element transaction each (no apply of the whole config).
  DesiredState only_db = state, none = state;
  only_db.forwards = {state.forwards[1]};
  none.forwards.clear();
  auto removed = backend.ApplyForwardChange(none, only_db);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->removed, 4u);  // fwd_dnat6, fwd_count6, fwd_restricted6, fwd_allow6
  EXPECT_EQ(removed->added, 0u);
  EXPECT_TRUE(backend.Diff(fewer).InSync()) << backend.Diff(fewer).Summary();
  auto added = backend.ApplyForwardChange(only_db, none);
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->added, 4u);
  EXPECT_TRUE(backend.Diff(state).InSync()) << backend.Diff(state).Summary();
}

// Closing an IPv6 forward ends the connections DNATed to it, and only those: two tracked
// connections to the same listen port, one DNATed to the closed forward's guest, one to
// another guest (the control). Entries made with conntrack-tools (`conntrack -I`).
TEST_F(DualStackKernel, EndsTheIpv6ConnectionsOfAClosedForward) {
  const std::string conntrack = "/usr/sbin/conntrack";
  if (!fs::exists(conntrack)) GTEST_SKIP() << "needs conntrack-tools";
  auto insert = [&](const std::string& client, const std::string& port, const std::string& guest) {
    ProcessResult result = RunProgram({conntrack,
                                       "-I",
                                       "-p",
                                       "tcp",
                                       "-s",
                                       client,
                                       "-d",
                                       "2001:db8:100::2",
                                       "--sport",
                                       port,
                                       "--dport",
                                       "5432",
                                       "-r",
                                       guest,
                                       "-q",
                                       client,
                                       "--reply-port-src",
                                       "5432",
                                       "--reply-port-dst",
                                       port,
                                       "--state",
                                       "ESTABLISHED",
                                       "-u",
                                       "SEEN_REPLY",
                                       "-t",
                                       "100"});
    ASSERT_EQ(result.exit_status, 0) << result.output;
  };
  insert("2001:db8:200::5", "40000", "fd00:77::29");
  insert("2001:db8:200::6", "40001", "fd00:77::30");
  auto listed = [&] { return RunProgram({conntrack, "-L", "-f", "ipv6"}).output; };
  ASSERT_NE(listed().find("src=fd00:77::29"), std::string::npos) << listed();
  // A mapping of another guest port ends nothing.
  EXPECT_EQ(
      ForgetConnections(ParseClosedMappings({"2001:db8:100::2 . tcp . 5432 : fd00:77::29 . 5433"})),
      0u);
  EXPECT_EQ(
      ForgetConnections(ParseClosedMappings({"2001:db8:100::2 . tcp . 5432 : fd00:77::29 . 5432"})),
      1u);
  std::string after = listed();
  EXPECT_EQ(after.find("src=fd00:77::29"), std::string::npos) << after;
  EXPECT_NE(after.find("src=fd00:77::30"), std::string::npos) << after;
  // A `*` forward (no listen address) of the other guest.
  EXPECT_EQ(ForgetConnections(ParseClosedMappings({"tcp . 5432 : fd00:77::30 . 5432"})), 1u);
  EXPECT_EQ(listed().find("src=fd00:77::30"), std::string::npos);
}

}  // namespace
}  // namespace virtnat
