// Reads virtnat's table from the kernel over netlink (libmnl): whether it exists, a
// fingerprint of its layout (chains, rules, sets; not elements, counters or handles), its
// elements in canonical text and the counters of the elements that have one. No text is
// printed or parsed, and protocols stay numbers: a 10,000-forward table reads in
// milliseconds, where libnftables' JSON listing takes hundreds.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "backends/nftables/kernel_table.h"

namespace virtnat {

struct KernelReadOptions {
  bool elements = true;   // the elements of virtnat's sets (without: the layout only)
  bool counters = false;  // the per-element counters (KernelTable::counters)
};

// Throws RuntimeFailure when the kernel cannot be asked.
KernelTable ReadKernelTableNetlink(const std::string& table, KernelReadOptions options = {});

// Every nftables table of this network namespace: (family, name), family as nft names it
// ("ip", "ip6", "inet", "arp", "bridge", "netdev"), in the kernel's order.
std::vector<std::pair<std::string, std::string>> ListNftTables();

}  // namespace virtnat
