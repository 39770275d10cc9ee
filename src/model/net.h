// Small value types for IPv4 addresses, prefixes and MAC addresses, with strict parsers.
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

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};
  static std::optional<MacAddress> Parse(std::string_view text);  // "02:FF:0A:0A:06:1C"
  std::string ToString() const;                                   // upper case, colons
  bool operator==(const MacAddress&) const = default;
};

// Parses "02:FF:0A:0A:06" (five bytes) for vm-tools' host MAC convention.
std::optional<std::array<std::uint8_t, 5>> ParseMacPrefix(std::string_view text);

}  // namespace virtnat
