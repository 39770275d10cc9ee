// The kernel's nftables ruleset generation: a counter that every committed transaction
// increments. When it has not moved since virtnat's own last transaction, nobody changed
// any nftables state, so virtnat can trust what it last installed instead of listing it.
#pragma once

#include <cstdint>
#include <optional>

namespace virtnat {

std::optional<std::uint32_t> ReadRulesetGeneration();

}  // namespace virtnat
