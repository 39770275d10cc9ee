// The hook's fast path for the nftables backend: for each host of the config, the netlink
// messages that switch its forwards on and off, precomputed by apply into
// STATE/hosts/HOST.nft (FirewallBackend::WriteHostState), with the elements' text for ending
// the closed forwards' connections. A VM start or stop reads one small file and sends it: no
// config, no ruleset text, no libnftables (virtnat-hook links libmnl and libnftnl only).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "state/state_dir.h"

namespace virtnat {

inline constexpr const char* kHostBatchKind = "nft";  // the files' extension

struct HostBatch {
  std::string start;     // messages (without a batch's begin and end) adding the DNAT elements
  std::string stop;      // adding, then deleting them: surely gone, whatever was there
  std::string elements;  // "SET<TAB>ELEMENT" lines: what the messages add
};

std::string SerializeHostBatch(const HostBatch& batch);
// nullopt when `bytes` is not such a file (another version's, or damaged).
std::optional<HostBatch> ParseHostBatch(std::string_view bytes);

// Sends the start (`active`) or stop messages of the hosts' files as one batch; stopping then
// ends the tracked connections of their forwards. Hosts without a file have nothing to switch.
void SetHostBatchesActive(const StateDir& state, const std::set<std::string>& hosts, bool active);

}  // namespace virtnat
