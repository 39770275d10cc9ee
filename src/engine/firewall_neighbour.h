// Other tools' firewalls on the host that virtnat's traffic has to pass, and what virtnat keeps
// in each so that it does: firewalld (a zone of its own for its bridges), Docker (a rule on
// top of DOCKER-USER), ufw (rules on top of its user chains). A drop in any of them is final:
// an accept in virtnat's own table cannot undo it. Chosen in engine/choose_backend.cpp; the
// engine ensures them after every apply and repair and removes them on `down`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plan/desired_state.h"

namespace virtnat {

class FirewallNeighbour {
 public:
  virtual ~FirewallNeighbour() = default;
  // For people: "firewalld", "Docker's DOCKER-USER", "ufw".
  virtual std::string Name() const = 0;
  // Makes what virtnat keeps in the tool's firewall match `state`: adds what is missing, moves
  // it back on top, removes what no network needs any more. Lines of what it did (none when
  // all was in place, or when the tool does not run). Throws RuntimeFailure.
  virtual std::vector<std::string> Ensure(const DesiredState& state) = 0;
  // Removes everything virtnat added there; lines of what it did.
  virtual std::vector<std::string> Remove() = 0;
};

using FirewallNeighbours = std::vector<std::unique_ptr<FirewallNeighbour>>;

}  // namespace virtnat
