// What the kernel holds for virtnat's table, read from nftables' JSON listing (pure parsing).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/firewall_backend.h"
#include "backends/nftables/nft_ruleset.h"

namespace virtnat {

struct KernelTable {
  bool exists = false;
  std::string comment;
  // Hash of everything but elements and counters: equal fingerprints mean the same layout.
  std::string fingerprint;
  NftElements elements;
  // "set|element key" -> counters, for sets declared with per-element counters.
  std::map<std::string, TrafficCounters> counters;
};

// `listing` is the output of `list table inet T` in JSON.
KernelTable ParseKernelTable(const nlohmann::json& listing);

// Canonical text of one element expression ({"concat": [...]}, "10.0.0.1", {"prefix": ...}).
std::string CanonicalElement(const nlohmann::json& expression);

}  // namespace virtnat
