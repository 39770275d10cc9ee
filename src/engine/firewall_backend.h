// The firewall backend interface: what the engine asks of whatever installs virtnat's rules.
// nftables (backends/nftables/) is the implementation; engine/choose_backend.cpp is the one
// place that picks it. Backends consume the backend-neutral DesiredState and keep their own
// words (tables, chains, elements) to themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
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

// A packet virtnat needs the host's firewalls to pass (`virtnat doctor`), at one netfilter
// hook, in words of no particular firewall. Unset optional fields are unknown.
struct TrafficProbe {
  enum class Kind {
    kForwardIn,     // prerouting: a client reaching listen:port
    kForward,       // forward hook after DNAT: client -> guest:to_port, from the uplink side
    kForwardReply,  // forward hook: the guest's answer
    kEgress,        // forward hook: a guest of a nat/routed network going out
    kDhcp,          // input: a guest's DHCP request
    kDns,           // input: a guest's DNS query to the gateway
    kIcmpv6,        // input/output: neighbour discovery and router advertisements (IPv6)
  };
  Kind kind = Kind::kForward;
  std::string label;  // "forward tcp 198.51.100.1:2222 -> lxdev01 10.1.1.28:22 after DNAT"
  std::optional<std::size_t> forward;  // index into DesiredState::forwards (forward kinds)
  std::string network;                 // the network it concerns (a forward's: the target's)
  std::string hook;                    // prerouting, input, forward
  std::string iifname, oifname;        // "" = none (or unknown where the hook has one)
  IpFamily family = IpFamily::kIpv4;
  std::optional<Ipv4Address> saddr, daddr;    // IPv4 probes
  std::optional<Ipv6Address> saddr6, daddr6;  // IPv6 probes
  std::string protocol = "tcp";               // tcp, udp, icmpv6
  std::optional<std::uint8_t> icmpv6_type;    // icmpv6: 133 router solicitation, ...
  std::optional<std::uint16_t> sport, dport;
  std::string ct_state = "new";  // new, established, untracked (neighbour discovery)
  std::optional<bool> dnat;      // the connection was DNATed (`ct status dnat`)
  std::string daddr_type;        // "local", "broadcast", "" = unknown
  // The route back to the source leaves by iifname (`fib saddr . iif oif` exists: a reverse
  // path filter passes it); nullopt = unknown. Set for IPv6 probes only.
  std::optional<bool> reverse_path_ok;
};

// One rule (or chain policy) of some firewall that drops or rejects a probe's packet.
struct TrafficFinding {
  std::size_t probe = 0;   // index into the probes Diagnose was given
  bool sure = true;        // false: it MAY block (a match that could not be evaluated)
  std::string ruleset;     // "ip filter", "inet firewalld", "iptables-legacy filter"
  std::string chain;       // the chain of the rule ("FORWARD"; "filter_FWD_public")
  std::string base_chain;  // where the packet entered that ruleset ("" = the same chain)
  std::optional<std::uint64_t> handle;  // none for a chain's policy
  std::string rule;                     // the rule, or "policy drop"
  std::string reason;                   // what could not be evaluated (may be empty)
  std::string fix;                      // a suggestion in words and commands
};

class FirewallBackend {
 public:
  virtual ~FirewallBackend() = default;

  // What the backend installs, named for people: "table inet virtnat".
  virtual std::string Describe() const = 0;
  // The whole ruleset as the backend would install it, for `virtnat plan`.
  virtual std::string Render(const DesiredState& state) = 0;
  virtual FirewallDiff Diff(const DesiredState& state) = 0;
  // Installs the desired state atomically, changing only what differs.
  virtual FirewallChange Apply(const DesiredState& state) = 0;
  // Counters of each forward of `state`, in the same order.
  virtual std::vector<TrafficCounters> ReadCounters(const DesiredState& state) = 0;
  // Removes everything this backend installed in its own ruleset. False if nothing was there.
  virtual bool Down() = 0;
  virtual bool Installed() = 0;

  // The hook's fast path: apply precomputes each host's part of the ruleset into the state
  // folder, so that a VM start or stop switches exactly that host's forwards without the
  // config. Switching off also ends the tracked connections of those forwards.
  virtual void WriteHostState(const DesiredState& state) = 0;
  virtual void SetHostsActive(const std::set<std::string>& hosts, bool active) = 0;

  // Rules virtnat keeps in other tools' rulesets so that its forwards pass their rejects (the
  // libvirt shim). Ensure returns what it did ("" when all was in place).
  virtual std::string EnsureShims() = 0;
  virtual std::string DescribeShims() const = 0;  // "the libvirt shim"
  virtual bool RemoveShims() = 0;

  // A descriptor that becomes readable when anyone changes the kernel's ruleset (for watch);
  // the caller drains it with DrainChangeEvents and closes it.
  virtual int OpenChangeEvents() = 0;
  virtual void DrainChangeEvents(int fd) = 0;

  // Which rules of the host's whole firewall (every ruleset but virtnat's own, also other
  // tools' and legacy ones) drop or reject the probes' packets. A rule it cannot evaluate is
  // a finding that is not `sure`; never silence. Throws RuntimeFailure when the firewall
  // cannot be read.
  virtual std::vector<TrafficFinding> Diagnose(const std::vector<TrafficProbe>& probes) = 0;

  // `forward add/remove` without the rest of the config: installs exactly the forwards of
  // `added` and takes out those of `removed` (each state holds only those forwards, with the
  // installed config's networks and settings), in one transaction, when the backend knows that
  // nothing else changed since its last Apply. nullopt, with nothing changed, when it cannot
  // tell: the caller then Applies the whole desired state.
  virtual std::optional<FirewallChange> ApplyForwardChange(const DesiredState& /*added*/,
                                                           const DesiredState& /*removed*/) {
    return std::nullopt;
  }
};

}  // namespace virtnat
