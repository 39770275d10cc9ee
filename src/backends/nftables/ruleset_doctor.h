// The ruleset doctor (issue 12): which rules of OTHER tables would drop or reject a packet
// virtnat needs (a forward after DNAT, a guest going out, DHCP and DNS from guests).
//
// Pure: it reads the JSON of `nft -j list ruleset` (every table and family, iptables-nft's
// `ip filter`/`ip nat` included) and evaluates hand-made packet descriptions ("probes")
// against it, without the kernel. Depends on the standard library, nlohmann/json and fmt only.
//
// nftables semantics it follows: every base chain of a hook is evaluated, in priority order;
// an accept ends only that base chain, a drop or reject anywhere is final. Regular chains are
// entered by jump (return comes back) and goto (return goes to the caller's caller). A chain
// of type nat sees only the first packet of a connection (ct state new).
//
// It never says "fine" when it is unsure: a match it cannot evaluate (fib, meta mark, limit,
// iptables' xt matches, ...) is followed both ways. A base chain where every
// way ends in a drop/reject is "blocked"; one where some way does is "may block".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace virtnat {

// A packet at one hook, as the netfilter hooks see it. Unset optional fields are unknown:
// a rule that looks at them cannot be evaluated (it is followed both ways).
struct RulesetProbe {
  std::string label;  // e.g. "forward tcp 198.51.100.1:2222 -> lxdev01 10.1.1.28:22 after DNAT"
  std::string hook;   // prerouting, input, forward, output, postrouting
  std::string family = "ip";         // ip (IPv4) or ip6 (IPv6): a table of the other family
                                     // never sees it, nor does an ip/ip6 match of the other
                                     // family
  std::string iifname;               // input interface ("" on output/postrouting of local packets)
  std::string oifname;               // output interface ("" on prerouting/input)
  std::optional<std::string> saddr;  // dotted IPv4 address, or an IPv6 one for family ip6
  std::optional<std::string> daddr;  // after DNAT on forward/input/output/postrouting
  std::string protocol = "tcp";      // tcp, udp, icmpv6 (icmp: ports unknown)
  std::optional<uint8_t> icmpv6_type;  // for icmpv6: 133 nd-router-solicit, 134 ..., 136
  std::optional<uint16_t> sport;
  std::optional<uint16_t> dport;
  std::string ct_state = "new";               // new, established, related, invalid, untracked
  std::optional<bool> ct_status_dnat;         // `ct status dnat` (true for a forward after DNAT)
  std::optional<std::string> fib_daddr_type;  // `fib daddr type`: local, unicast, broadcast, ...
  // `fib saddr . iif oif` (with or without `. mark`: virtnat assumes no routing by mark):
  // whether the route back to the source leaves by iifname, as reverse path filters ask.
  std::optional<bool> reverse_path_ok;
};

enum class ProbeVerdict {
  kPasses,    // no base chain drops it
  kMayBlock,  // some way through some base chain drops or rejects it
  kBlocked,   // a base chain drops or rejects it whichever way
};
const char* ProbeVerdictName(ProbeVerdict verdict);  // "passes", "may_block", "blocked"

// One base chain that blocks (or may block) one probe.
struct RulesetFinding {
  std::string probe;                              // the probe's label
  ProbeVerdict verdict = ProbeVerdict::kBlocked;  // kBlocked or kMayBlock
  std::string family;                             // of the table: ip, ip6, inet
  std::string table;
  std::string base_chain;  // the base chain whose evaluation ends in the drop
  std::string hook;
  int priority = 0;
  std::string chain;               // the chain of the dropping rule (== base_chain for a policy)
  std::optional<uint64_t> handle;  // the rule's handle; none when the chain's policy drops
  std::string rule;                // the rule in nft syntax, or "policy drop"
  std::string reason;              // for kMayBlock: what could not be evaluated (may be empty)
  std::string fix;                 // a suggestion in words and commands
};

struct RulesetProbeResult {
  std::string probe;
  ProbeVerdict verdict = ProbeVerdict::kPasses;  // the worst of its findings
  std::vector<RulesetFinding> findings;          // in hook priority order
  std::vector<std::string> traversed;            // "family table chain" of every base chain seen
};

struct RulesetDoctorOptions {
  // virtnat's own table, left out (its name; family inet). Empty: every table is evaluated.
  std::string own_table;
  std::string own_family = "inet";
  // Optional text of `nft list ruleset` (or `nft -a list ruleset`) of the same ruleset. The
  // JSON shows iptables-nft's xt matches by name only; the text listing holds their
  // translation (e.g. `ct state related,established`, `fib daddr type local`), which is then
  // evaluated instead of treating the match as unknown. Rules are paired by handle when the
  // listing has "# handle N", else by their order within each chain.
  std::string nft_listing;
};

// Evaluates every probe. Throws std::invalid_argument when `ruleset` is not nft's JSON
// ({"nftables": [...]}).
std::vector<RulesetProbeResult> DiagnoseRuleset(const nlohmann::json& ruleset,
                                                const std::vector<RulesetProbe>& probes,
                                                const RulesetDoctorOptions& options = {});

// The findings of every probe, flattened (what `virtnat doctor` prints).
std::vector<RulesetFinding> RulesetFindings(const nlohmann::json& ruleset,
                                            const std::vector<RulesetProbe>& probes,
                                            const RulesetDoctorOptions& options = {});

// One line: "blocked: <probe>: ip filter FORWARD: policy drop; fix: ...".
std::string FormatFinding(const RulesetFinding& finding);

// A rule's expressions (the "expr" array of nft's JSON) in nft syntax, e.g.
// `iifname "br0" udp dport 67 counter reject`; what it cannot render appears as JSON.
std::string RenderRuleExpressions(const nlohmann::json& expressions);

}  // namespace virtnat
