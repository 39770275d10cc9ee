// Sends an nftables netlink batch (netlink_batch.h) to the kernel in one sendmsg and reads
// its verdict. Needs libmnl only: the hook binary sends its precomputed batches with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/errors.h"

namespace virtnat {

// The kernel refused a batch sent with a generation (NftBatch::Finish) because the ruleset
// changed since: nothing of it was applied.
class GenerationMoved : public RuntimeFailure {
 public:
  using RuntimeFailure::RuntimeFailure;
};

// Wraps nftables messages into a batch: its begin, the messages, its end. With `generation`,
// the kernel refuses the whole batch unless the ruleset generation is still that one.
std::string WrapNftBatch(std::string_view messages,
                         std::optional<std::uint32_t> generation = std::nullopt);

// Applies `batch` (all or nothing). With VIRTNAT_SAVE_BATCH=FILE in the environment the batch
// is also written to FILE (a debugging aid; bench/nlsend sends such a file). Throws
// GenerationMoved, or RuntimeFailure naming the kernel's error and the object of the message it
// refused.
void SendNftBatch(std::string_view batch);

// Whether table inet `table` exists (throws RuntimeFailure when nftables cannot be asked).
bool NftTableExists(const std::string& table);

// The generation a successful batch sent with `generation` leaves (the kernel counts one up
// per transaction, skipping 0).
inline std::uint32_t NextGeneration(std::uint32_t generation) {
  return generation == 0xffffffffu ? 1 : generation + 1;
}

}  // namespace virtnat
