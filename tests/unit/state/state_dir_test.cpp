#include "state/state_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/errors.h"

namespace virtnat {
namespace {

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        std::filesystem::temp_directory_path() / ("virtnat-state-test-" + std::to_string(getpid()));
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(StateDirTest, StoppedNetworksRoundTripAndEmptyRemovesTheFile) {
  StateDir state(root_);
  state.Ensure();
  EXPECT_TRUE(state.ReadStoppedNetworks().empty());
  state.WriteStoppedNetworks({"lab", "dmz"});
  EXPECT_EQ(state.ReadStoppedNetworks(), (std::set<std::string>{"dmz", "lab"}));
  state.WriteStoppedNetworks({});
  EXPECT_TRUE(state.ReadStoppedNetworks().empty());
  EXPECT_FALSE(std::filesystem::exists(root_ / "stopped-networks.json"));
}

TEST_F(StateDirTest, UnreadableStoppedNetworksIsARuntimeFailure) {
  StateDir state(root_);
  state.Ensure();
  std::ofstream(root_ / "stopped-networks.json") << "{not json";
  EXPECT_THROW(state.ReadStoppedNetworks(), RuntimeFailure);
}

}  // namespace
}  // namespace virtnat
