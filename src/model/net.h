// Small value types for IPv4 and IPv6 addresses, prefixes and MAC addresses, with strict parsers.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace virtnat {

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order
  static std::optional<Ipv4Address> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Ipv4Address&) const = default;
};

struct Ipv4Prefix {
  Ipv4Address network;  // masked
  int length = 32;
  // Accepts "a.b.c.d/len" or a bare address (= /32). Rejects host bits set past the prefix.
  static std::optional<Ipv4Prefix> Parse(std::string_view text);
  bool Contains(const Ipv4Address& address) const;
  std::uint32_t Mask() const { return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length); }
  std::string ToString() const;
  bool operator==(const Ipv4Prefix&) const = default;
};

// An address on an interface with its prefix, like "10.1.1.1/24".
struct Ipv4Interface {
  Ipv4Address address;
  int length = 24;
  static std::optional<Ipv4Interface> Parse(std::string_view text);
  Ipv4Prefix Subnet() const;
  std::string ToString() const;
};

struct Ipv4Range {
  Ipv4Address first;
  Ipv4Address last;
  static std::optional<Ipv4Range> Parse(std::string_view text);  // "a.b.c.d-e.f.g.h"
  bool Contains(const Ipv4Address& address) const { return first <= address && address <= last; }
  std::string ToString() const;
};

// IPv6 (RFC 4291 text forms on input; RFC 5952 canonical text on output).
struct Ipv6Address {
  std::array<std::uint8_t, 16> bytes{};  // network byte order
  // Any RFC 4291 form ("fd00:77::1c", "::ffff:10.1.1.1"); no zone ("%eth0"), no brackets.
  static std::optional<Ipv6Address> Parse(std::string_view text);
  std::string ToString() const;  // RFC 5952: lower case, longest zero run as "::"
  auto operator<=>(const Ipv6Address&) const = default;
};

struct Ipv6Prefix {
  Ipv6Address network;  // masked
  int length = 128;
  // Accepts "addr/len" or a bare address (= /128). Rejects host bits set past the prefix.
  static std::optional<Ipv6Prefix> Parse(std::string_view text);
  bool Contains(const Ipv6Address& address) const;
  std::string ToString() const;  // "fd00:77::/64", or the bare address for /128
  bool operator==(const Ipv6Prefix&) const = default;
};

// The host's IPv6 address on an interface with its prefix, like "fd00:77::1/64". Prefix
// lengths 64-126: a network's guests need room, and SLAAC/RA needs exactly 64.
struct Ipv6Interface {
  Ipv6Address address;
  int length = 64;
  static std::optional<Ipv6Interface> Parse(std::string_view text);
  Ipv6Prefix Subnet() const;
  std::string ToString() const;
};

struct Ipv6Range {
  Ipv6Address first;
  Ipv6Address last;
  static std::optional<Ipv6Range> Parse(std::string_view text);  // "fd00:77::100-fd00:77::1ff"
  bool Contains(const Ipv6Address& address) const { return first <= address && address <= last; }
  std::string ToString() const;
};

enum class IpFamily { kIpv4, kIpv6 };

// The address of a network's IPv6 subnet whose last 32 bits are an IPv4 address's last octet
// (10.77.0.28 -> fd00:77::1c): a dual-stack host's default IPv6 address.
Ipv6Address HostAddress6(const Ipv6Prefix& subnet, const Ipv4Address& address4);

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};
  static std::optional<MacAddress> Parse(std::string_view text);  // "02:FF:0A:0A:06:1C"
  std::string ToString() const;                                   // upper case, colons
  bool operator==(const MacAddress&) const = default;
};

// Parses "02:FF:0A:0A:06" (five bytes) for vm-tools' host MAC convention.
std::optional<std::array<std::uint8_t, 5>> ParseMacPrefix(std::string_view text);

}  // namespace virtnat
