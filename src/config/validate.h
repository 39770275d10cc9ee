// Checks that span objects: duplicates, addresses against networks, forward conflicts.
#pragma once

#include "config/diagnostics.h"
#include "model/model.h"

namespace virtnat {

// Resolves forward targets and reports every cross-object error.
void ValidateConfig(Config& config, Diagnostics& diagnostics);

// "tcp 198.51.100.1:2222 -> lxdev01:22"; an IPv6 listen address in brackets ("[::]" for
// every one), and both families when the forward opens on both:
// "tcp 198.51.100.1:2222 and [2001:db8::1]:2222 -> lxdev01:22".
std::string DescribeForward(const Forward& forward);

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
