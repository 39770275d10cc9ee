// Renders the desired state as nftables text (pure: no kernel access), split into the
// "skeleton" (table, sets, chains, rules) and the elements of the forward sets and maps,
// so that a forward change touches only elements. See docs/ruleset.md.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "backends/nftables/nft_layout.h"
#include "plan/desired_state.h"

namespace virtnat {

// Set and map names of the ruleset, used by the renderer, the status reader and the hook.
namespace nftset {
inline constexpr const char* kDnat = "fwd_dnat";         // listen . proto . port : guest . port
inline constexpr const char* kDnatAny = "fwd_dnat_any";  // proto . port : guest . port
inline constexpr const char* kCount = "fwd_count";       // listen . proto . port, counters
inline constexpr const char* kCountAny = "fwd_count_any";
inline constexpr const char* kRestricted = "fwd_restricted";  // forwards with a source list
inline constexpr const char* kRestrictedAny = "fwd_restricted_any";
inline constexpr const char* kAllow = "fwd_allow";  // listen . proto . port . client network
inline constexpr const char* kAllowAny = "fwd_allow_any";
// The IPv6 twins (ip6 listen, guest and client addresses), in layouts with IPv6.
inline constexpr const char* kDnat6 = "fwd_dnat6";
inline constexpr const char* kDnat6Any = "fwd_dnat6_any";
inline constexpr const char* kCount6 = "fwd_count6";
inline constexpr const char* kCount6Any = "fwd_count6_any";
inline constexpr const char* kRestricted6 = "fwd_restricted6";
inline constexpr const char* kRestricted6Any = "fwd_restricted6_any";
inline constexpr const char* kAllow6 = "fwd_allow6";
inline constexpr const char* kAllow6Any = "fwd_allow6_any";
}  // namespace nftset

// Elements by set name; each element in canonical text ("k . k . k" or "k . k : v . v").
using NftElements = std::map<std::string, std::set<std::string>>;

struct NftRuleset {
  std::string table;
  std::string skeleton;  // "table inet T { ... }" without elements
  std::string skeleton_hash;
  nftlayout::Layout layout;  // the skeleton as data, for the netlink batch
  NftElements elements;
};

NftRuleset RenderRuleset(const DesiredState& state);
// Whether the table holds IPv6 sets and rules: a dual-stack network, public_address6, or an
// IPv6 forward. Never for an IPv4-only config, whose table stays exactly as before.
bool LayoutHasIpv6(const DesiredState& state);

// One transaction that replaces the table whole: creates it if absent, deletes, re-adds.
std::string RenderReplace(const NftRuleset& ruleset);
// The whole table as text, elements included, for `virtnat plan`.
std::string RenderTable(const NftRuleset& ruleset);
// One transaction that deletes then adds elements.
std::string RenderElementChanges(const std::string& table, const NftElements& remove,
                                 const NftElements& add);
std::string RenderDeleteTable(const std::string& table);

// Canonical element keys, shared with the status reader.
std::string MappingKey(const PortMapping& mapping);      // without the value part
std::string MappingElement(const PortMapping& mapping);  // "key : guest . port"
std::string MappingKey(const PortMapping6& mapping);
std::string MappingElement(const PortMapping6& mapping);
// The key of a map element ("k : v" -> "k"); sets return the element itself.
std::string ElementKey(const std::string& element);

std::string StableHash(const std::string& text);  // 16 hex digits, FNV-1a 64

}  // namespace virtnat
