#include <gtest/gtest.h>

#include "engine/firewall_backend.h"

namespace virtnat {
namespace {

TEST(FirewallDiff, SummaryNamesWhatDiffers) {
  FirewallDiff diff;
  EXPECT_EQ(diff.Summary(), "in sync");
  diff.to_add = {"fwd_dnat: a", "fwd_dnat: b"};
  diff.to_remove = {"fwd_dnat: c"};
  EXPECT_EQ(diff.Summary(), "2 elements missing, 1 extra");
  diff.to_add.pop_back();
  EXPECT_EQ(diff.Summary(), "1 element missing, 1 extra");
  diff.layout_differs = true;
  EXPECT_EQ(diff.Summary(), "chains or rules changed");
  diff.table_missing = true;
  EXPECT_EQ(diff.Summary(), "table missing");
}

}  // namespace
}  // namespace virtnat
