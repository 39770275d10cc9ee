// Ends the tracked connections of forwards that were just closed: without this, a UDP flow
// or a TCP connection opened before `forward remove` would keep its DNAT until it idles out.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace virtnat {

// One closed DNAT element, from its canonical text ("L . tcp . 80 : T . 8080" or
// "tcp . 80 : T . 8080").
struct ClosedMapping {
  std::string listen;  // empty = any local address
  int protocol = 6;
  int port = 0;
  std::string target;
  int to_port = 0;
};

// Parses map elements of fwd_dnat / fwd_dnat_any; skips what is not one.
std::vector<ClosedMapping> ParseClosedMappings(const std::vector<std::string>& elements);

// Deletes conntrack entries whose original destination and DNAT target match a mapping.
// Returns how many were deleted; failures are not fatal (the rule change already happened).
std::size_t ForgetConnections(const std::vector<ClosedMapping>& mappings);

}  // namespace virtnat
