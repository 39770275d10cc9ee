#include "backends/nftables/nft_ruleset.h"

#include <fmt/format.h>

namespace virtnat {
namespace {

std::string RenderWithElements(const NftRuleset& ruleset) {
  std::string out;
  std::string_view skeleton = ruleset.skeleton;
  std::size_t position = 0;
  while (true) {
    auto marker = skeleton.find("@ELEMENTS:", position);
    if (marker == std::string_view::npos) break;
    out.append(skeleton.substr(position, marker - position));
    auto end = skeleton.find('@', marker + 1);
    std::string name(skeleton.substr(marker + 10, end - marker - 10));
    auto it = ruleset.elements.find(name);
    std::string line;
    if (it != ruleset.elements.end() && !it->second.empty()) {
      line = "elements = { ";
      bool first = true;
      for (const auto& element : it->second) {
        if (!first) line += ",\n\t\t\t     ";
        line += element;
        first = false;
      }
      line += " }";
    }
    out += line;
    position = end + 1;
  }
  out.append(skeleton.substr(position));
  // Drop lines left empty by sets without elements.
  std::string cleaned;
  std::size_t start = 0;
  while (start < out.size()) {
    auto end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string_view line(out.data() + start, end - start);
    if (line.find_first_not_of('\t') != std::string_view::npos || line.empty())
      cleaned.append(line).append("\n");
    start = end + 1;
  }
  return cleaned;
}

template <typename Mapping>
std::string ListenText(const Mapping& mapping) {
  return mapping.listen ? mapping.listen->ToString() + " . " : "";
}

template <typename Mapping>
std::string KeyText(const Mapping& mapping) {
  return fmt::format("{}{} . {}", ListenText(mapping), ToString(mapping.protocol), mapping.port);
}

template <typename Mapping>
std::string ElementText(const Mapping& mapping) {
  return fmt::format("{} : {} . {}", KeyText(mapping), mapping.target.ToString(), mapping.to_port);
}

}  // namespace

std::string MappingKey(const PortMapping& mapping) {
  return KeyText(mapping);
}

std::string MappingElement(const PortMapping& mapping) {
  return ElementText(mapping);
}

std::string MappingKey(const PortMapping6& mapping) {
  return KeyText(mapping);
}

std::string MappingElement(const PortMapping6& mapping) {
  return ElementText(mapping);
}

bool LayoutHasIpv6(const DesiredState& state) {
  if (state.settings.has_public_address6) return true;
  for (const auto& network : state.networks)
    if (network.DualStack()) return true;
  for (const auto& forward : state.forwards)
    if (!forward.mappings6.empty()) return true;
  return false;
}

std::string ElementKey(const std::string& element) {
  auto colon = element.find(" : ");
  return colon == std::string::npos ? element : element.substr(0, colon);
}

std::string StableHash(const std::string& text) {
  std::uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return fmt::format("{:016x}", hash);
}

NftRuleset RenderRuleset(const DesiredState& state) {
  using namespace nftset;
  NftRuleset ruleset;
  ruleset.table = state.settings.ruleset_name;

  bool ipv6 = LayoutHasIpv6(state);
  ruleset.layout = nftlayout::BuildLayout(state.networks, ipv6);
  std::string body = nftlayout::RenderLayoutBody(ruleset.layout);
  ruleset.skeleton_hash = StableHash(body);
  ruleset.skeleton =
      fmt::format("table inet {} {{\n\tcomment \"managed by virtnat; layout {}\"\n\n{}}}\n",
                  ruleset.table, ruleset.skeleton_hash, body);

  for (const auto& name :
       {kDnat, kDnatAny, kCount, kCountAny, kRestricted, kRestrictedAny, kAllow, kAllowAny})
    ruleset.elements[name];
  if (ipv6)
    for (const auto& name : {kDnat6, kDnat6Any, kCount6, kCount6Any, kRestricted6, kRestricted6Any,
                             kAllow6, kAllow6Any})
      ruleset.elements[name];
  for (const auto& forward : state.forwards) {
    // With a source list (of either family), each family lets in its own sources only.
    bool restricted = !forward.forward.sources.empty() || !forward.forward.sources6.empty();
    bool any = !forward.forward.listen.has_value();
    for (const auto& mapping : forward.mappings) {
      std::string key = MappingKey(mapping);
      if (forward.active) ruleset.elements[any ? kDnatAny : kDnat].insert(MappingElement(mapping));
      ruleset.elements[any ? kCountAny : kCount].insert(key);
      if (!restricted) continue;
      ruleset.elements[any ? kRestrictedAny : kRestricted].insert(key);
      for (const auto& source : forward.forward.sources)
        ruleset.elements[any ? kAllowAny : kAllow].insert(key + " . " + source.ToString());
    }
    bool any6 = !forward.forward.listen6.has_value();
    for (const auto& mapping : forward.mappings6) {
      std::string key = MappingKey(mapping);
      if (forward.active)
        ruleset.elements[any6 ? kDnat6Any : kDnat6].insert(MappingElement(mapping));
      ruleset.elements[any6 ? kCount6Any : kCount6].insert(key);
      if (!restricted) continue;
      ruleset.elements[any6 ? kRestricted6Any : kRestricted6].insert(key);
      for (const auto& source : forward.forward.sources6)
        ruleset.elements[any6 ? kAllow6Any : kAllow6].insert(key + " . " + source.ToString());
    }
  }
  return ruleset;
}

std::string RenderTable(const NftRuleset& ruleset) {
  return RenderWithElements(ruleset);
}

std::string RenderReplace(const NftRuleset& ruleset) {
  return fmt::format("table inet {0}\ndelete table inet {0}\n{1}", ruleset.table,
                     RenderWithElements(ruleset));
}

std::string RenderDeleteTable(const std::string& table) {
  return fmt::format("delete table inet {}\n", table);
}

std::string RenderElementChanges(const std::string& table, const NftElements& remove,
                                 const NftElements& add) {
  std::string out;
  auto render = [&](const char* verb, const NftElements& elements, bool keys_only) {
    for (const auto& [set, items] : elements) {
      if (items.empty()) continue;
      out += fmt::format("{} element inet {} {} {{ ", verb, table, set);
      bool first = true;
      for (const auto& item : items) {
        out += (first ? "" : ", ") + (keys_only ? ElementKey(item) : item);
        first = false;
      }
      out += " }\n";
    }
  };
  render("delete", remove, true);
  render("add", add, false);
  return out;
}

}  // namespace virtnat
