// The firewall backend interface. nftables is the first implementation; the model it
// consumes (DesiredState) knows nothing about rules, so other backends can follow.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plan/desired_state.h"

namespace virtnat {

struct FirewallDiff {
  bool table_missing = false;
  bool layout_differs = false;      // chains/rules/sets differ: apply replaces the table
  std::vector<std::string> to_add;  // "set: element" lines
  std::vector<std::string> to_remove;
  bool InSync() const {
    return !table_missing && !layout_differs && to_add.empty() && to_remove.empty();
  }
  // What differs, in a few words: "table missing", "chains or rules changed",
  // "2 elements missing, 1 extra"; "in sync" when nothing does.
  std::string Summary() const;
};

struct FirewallChange {
  bool replaced = false;  // the whole table was (re)created
  std::size_t added = 0;
  std::size_t removed = 0;
  bool Changed() const { return replaced || added > 0 || removed > 0; }
};

struct TrafficCounters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

class Firewall {
 public:
  virtual ~Firewall() = default;
  // The whole ruleset as the backend would install it, for `virtnat plan`.
  virtual std::string Render(const DesiredState& state) = 0;
  virtual FirewallDiff Diff(const DesiredState& state) = 0;
  // Installs the desired state atomically, changing only what differs.
  virtual FirewallChange Apply(const DesiredState& state) = 0;
  // Counters of each forward of `state`, in the same order.
  virtual std::vector<TrafficCounters> ReadCounters(const DesiredState& state) = 0;
  // Removes everything this backend installed. Returns false if there was nothing.
  virtual bool Down() = 0;
};

}  // namespace virtnat
