#include "engine/firewall_backend.h"

#include <fmt/format.h>

namespace virtnat {

std::string FirewallDiff::Summary() const {
  if (table_missing) return "table missing";
  if (layout_differs) return "chains or rules changed";
  if (to_add.empty() && to_remove.empty()) return "in sync";
  return fmt::format("{} element{} missing, {} extra", to_add.size(), to_add.size() == 1 ? "" : "s",
                     to_remove.size());
}

}  // namespace virtnat
