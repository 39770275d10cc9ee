// What `status`, `forward list`, `host list` and `host lookup` print, text and --json: pure
// functions of the config and the engine's status report, so tests need no files or kernel.
//
// A forward shows one row per address family it opens on (IPv4 first): an IPv4-only forward
// prints exactly the row it always did, and a dual-stack forward adds a row with its IPv6
// listen address ("::" for any), target and sources.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/model.h"

namespace virtnat {

// The families a forward opens on: IPv4 when open4, IPv6 when open6 with a target6.
std::vector<IpFamily> ForwardFamilies(const Forward& forward);
// "198.51.100.1" or "*" (IPv4); "2001:db8::1" or "::" (IPv6).
std::string ListenText(const Forward& forward, IpFamily family);
// The target's address in that family ("" when it has none).
std::string TargetAddressText(const Forward& forward, IpFamily family);
// The host name as written, else the target address of that family.
std::string TargetName(const Forward& forward, IpFamily family);
// Who may use the forward in that family: `everybody` ("any", "WORLD") without a source list,
// the family's sources, or "none" when the source list has none of that family (closed).
std::string SourcesText(const Forward& forward, IpFamily family, const std::string& everybody);
// "tcp 198.51.100.1:2222 -> lxdev01:22", as forward add/remove report it; a forward on IPv6
// too: "tcp 198.51.100.1:2222 and [2001:db8::1]:2222 -> lxdev01:22" (the same text as the
// config layer's DescribeForward, which the fast path of forward add/remove prints).
std::string ForwardSummary(const Forward& forward);

nlohmann::json ForwardJson(const Forward& forward);

std::string ForwardListText(const Config& config);
nlohmann::json ForwardListJson(const Config& config);

// "MAC,FQDN,IP" a line, and ",IPV6" after it for a host with an IPv6 address.
std::string HostListText(const Config& config);
nlohmann::json HostListJson(const Config& config);

// The host with this name, IPv4 address or IPv6 address.
std::pair<const Network*, const Host*> LookupHost(const Config& config, const std::string& key);
// "FQDN IP MAC", and " IPV6" after it for a host with an IPv6 address.
std::string HostLookupText(const Network& network, const Host& host);
nlohmann::json HostJson(const Network& network, const Host& host);

// `status`: `kernel` is the table's state line ("in sync", "drift: ...").
std::string StatusText(const StatusReport& status, const std::string& kernel);
nlohmann::json StatusJson(const Config& config, const StatusReport& status);

}  // namespace virtnat
