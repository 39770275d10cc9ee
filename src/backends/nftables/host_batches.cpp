#include "backends/nftables/host_batches.h"

#include <cstdint>
#include <cstring>

#include "backends/nftables/conntrack.h"
#include "backends/nftables/netlink_send.h"
#include "base/files.h"

namespace virtnat {
namespace {

constexpr std::string_view kMagic = "virtnat host batch 1\n";

void PutPart(std::string& out, std::string_view part) {
  auto length = static_cast<std::uint32_t>(part.size());
  out.append(reinterpret_cast<const char*>(&length), sizeof length);
  out.append(part);
}

bool GetPart(std::string_view& in, std::string& part) {
  std::uint32_t length = 0;
  if (in.size() < sizeof length) return false;
  std::memcpy(&length, in.data(), sizeof length);
  in.remove_prefix(sizeof length);
  if (in.size() < length) return false;
  part.assign(in.substr(0, length));
  in.remove_prefix(length);
  return true;
}

}  // namespace

std::string SerializeHostBatch(const HostBatch& batch) {
  std::string out(kMagic);
  PutPart(out, batch.start);
  PutPart(out, batch.stop);
  out += batch.elements;
  return out;
}

std::optional<HostBatch> ParseHostBatch(std::string_view bytes) {
  if (!bytes.starts_with(kMagic)) return std::nullopt;
  bytes.remove_prefix(kMagic.size());
  HostBatch batch;
  if (!GetPart(bytes, batch.start) || !GetPart(bytes, batch.stop)) return std::nullopt;
  batch.elements.assign(bytes);
  return batch;
}

void SetHostBatchesActive(const StateDir& state, const std::set<std::string>& hosts, bool active) {
  std::string messages;
  std::vector<std::string> closed;
  for (const auto& host : hosts) {
    auto bytes = ReadFileIfExists(state.HostStatePath(host, kHostBatchKind));
    if (!bytes) continue;
    auto batch = ParseHostBatch(*bytes);
    if (!batch)
      throw RuntimeFailure(state.HostStatePath(host, kHostBatchKind).string() +
                           ": not a host batch of this virtnat; run `virtnat apply`");
    messages += active ? batch->start : batch->stop;
    if (active) continue;
    std::string_view lines = batch->elements;
    while (!lines.empty()) {
      auto end = lines.find('\n');
      std::string_view line = lines.substr(0, end);
      if (auto tab = line.find('\t'); tab != std::string_view::npos)
        closed.emplace_back(line.substr(tab + 1));
      lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 1);
    }
  }
  if (!messages.empty()) SendNftBatch(WrapNftBatch(messages));
  if (!active) ForgetConnections(ParseClosedMappings(closed));
}

}  // namespace virtnat
