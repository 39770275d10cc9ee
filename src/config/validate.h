// Checks that span objects: duplicates, addresses against networks, forward conflicts.
#pragma once

#include "config/diagnostics.h"
#include "model/model.h"

namespace virtnat {

// Resolves forward targets and reports every cross-object error.
void ValidateConfig(Config& config, Diagnostics& diagnostics);

// Valid Linux interface name: 1-15 bytes, no '/', ':', whitespace, not "." or "..".
bool IsValidInterfaceName(const std::string& name);
// A DNS label or dotted name made of letters, digits and '-'.
bool IsValidHostName(const std::string& name);
bool IsValidDomain(const std::string& domain);

// "22", "8000-8010" -> range; nullopt if malformed or outside 1-65535.
std::optional<PortRange> ParsePortRange(std::string_view text);
// "tcp", "udp", "tcp,udp" -> protocols in canonical order.
std::optional<std::vector<Protocol>> ParseProtocols(std::string_view text);

}  // namespace virtnat
