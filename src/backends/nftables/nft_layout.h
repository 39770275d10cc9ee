// The layout of virtnat's table as data: its sets and maps, and its chains with their rules,
// each rule a list of matches and one action. The text renderer (nft_ruleset.cpp) prints it
// for `virtnat plan` and the golden files; the netlink batch (netlink_batch.cpp) encodes the
// very same structure for the kernel. One source for both, so they cannot drift apart.
// See docs/ruleset.md for what each chain and rule is for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace virtnat::nftlayout {

// The data types of set keys and map values.
enum class Type : std::uint8_t { kIpv4Addr, kInetProto, kInetService, kIpv6Addr };

struct SetSpec {
  std::string name;
  std::vector<Type> key;   // concatenated when more than one
  std::vector<Type> data;  // maps only
  bool interval = false;
  bool counter = false;  // a counter per element
  bool IsMap() const { return !data.empty(); }
};

// What a concatenated lookup key is made of.
enum class Field : std::uint8_t { kIpSaddr, kIpDaddr, kL4proto, kThDport, kIp6Saddr, kIp6Daddr };

enum class MatchKind : std::uint8_t {
  kLookup,                     // FIELDS @set, FIELDS != @set
  kFibDaddrLocal,              // fib daddr type local
  kIifname,                    // iifname "br0", iifname != "br0"
  kOifname,                    // oifname "br0", oifname != "br0"
  kCtStatusDnat,               // ct status dnat
  kCtStateEstablishedRelated,  // ct state established,related
  kIpSaddr,                    // ip saddr 10.1.1.0/24, ip saddr != ...
  kIpDaddr,                    // ip daddr 10.1.1.1
  kL4protoIn,                  // meta l4proto { tcp, udp }
  kThDport,                    // th dport 53
  kUdpDport,                   // udp dport 67
  kThDportIn,                  // th dport { 53, 67 }
  kIpDaddrIn,                  // ip daddr { 224.0.0.0/24, 255.255.255.255 }
  kIp6Saddr,                   // ip6 saddr fd00:77::/64, ip6 saddr != ...
  kIp6Daddr,                   // ip6 daddr fd00:77::1
  kNfproto,                    // meta nfproto ipv4 / ipv6 (values[0]: NFPROTO_IPV4, _IPV6)
  kIcmpv6TypeIn,               // icmpv6 type { nd-router-solicit, ... } (values: type numbers)
};

struct Match {
  MatchKind kind = MatchKind::kLookup;
  bool negate = false;
  std::vector<Field> fields;          // kLookup
  std::string name;                   // kLookup: the set; kIifname, kOifname: the interface
  Ipv4Prefix prefix;                  // kIpSaddr, kIpDaddr
  std::vector<std::uint16_t> values;  // ports (kThDport, kUdpDport, kThDportIn); protocols
  std::vector<Ipv4Prefix> prefixes;   // kIpDaddrIn
  Ipv6Prefix prefix6;                 // kIp6Saddr, kIp6Daddr
};

enum class ActionKind : std::uint8_t {
  kNone,
  kAccept,
  kDrop,
  kReject,
  kReturn,
  kMasquerade,
  kMasqueradePorts,  // masquerade to :first-last
  kDnatMap,          // dnat ip to FIELDS map @map
  kDnat6Map,         // dnat ip6 to FIELDS map @map
};

struct Action {
  ActionKind kind = ActionKind::kNone;
  std::vector<Field> fields;                    // kDnatMap
  std::string map;                              // kDnatMap
  std::uint16_t first_port = 0, last_port = 0;  // kMasqueradePorts
};

struct Rule {
  std::vector<Match> matches;
  Action action;
  std::string comment;
};

enum class Hook : std::uint8_t { kPrerouting, kInput, kForward, kOutput, kPostrouting };

struct Chain {
  std::string name;
  std::string type;  // "filter", "nat"
  Hook hook = Hook::kPrerouting;
  int priority = 0;
  std::string priority_text;  // as nft prints it: "dstnat - 10", "filter", "-100"
  std::vector<Rule> rules;
};

struct Layout {
  std::vector<SetSpec> sets;
  std::vector<Chain> chains;
};

// virtnat's sets and maps of IPv4 forwards: the same in every layout (nft_ruleset.h names
// them); the IPv6 twins, in layouts with IPv6 only.
const std::vector<SetSpec>& StandardSets();
const std::vector<SetSpec>& StandardSets6();
// One of them (either family) by name; nullptr for another name.
const SetSpec* FindSet(const std::string& name);

// The layout for these networks (pure). `ipv6`: with the IPv6 sets, forward rules and the
// IPv6 rules of dual-stack networks; without, the layout is exactly the IPv4-only one.
Layout BuildLayout(const std::vector<Network>& networks, bool ipv6 = false);

// Text, exactly as `nft list` prints it.
std::string TypeText(Type type);
std::string RuleText(const Rule& rule);
// The table's body: every set (its elements as the marker "@ELEMENTS:NAME@" on a line of its
// own) and every chain.
std::string RenderLayoutBody(const Layout& layout);

}  // namespace virtnat::nftlayout
