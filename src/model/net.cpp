#include "model/net.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace virtnat {
namespace {

// Parses a decimal number with no sign, no leading "+" and at most `max` value.
std::optional<unsigned> ParseDecimal(std::string_view text, unsigned max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;  // no octal-looking octets
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

std::optional<unsigned> ParseHexByte(std::string_view text) {
  if (text.size() != 2) return std::nullopt;
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + 2, value, 16);
  if (error != std::errc() || end != text.data() + 2) return std::nullopt;
  return value;
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> ParseHexBytes(std::string_view text) {
  std::array<std::uint8_t, N> bytes{};
  std::size_t position = 0;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) {
      if (position >= text.size() || (text[position] != ':' && text[position] != '-'))
        return std::nullopt;
      ++position;
    }
    auto byte = ParseHexByte(text.substr(position, 2));
    if (!byte) return std::nullopt;
    bytes[i] = static_cast<std::uint8_t>(*byte);
    position += 2;
  }
  if (position != text.size()) return std::nullopt;
  return bytes;
}

}  // namespace

std::optional<Ipv4Address> Ipv4Address::Parse(std::string_view text) {
  std::uint32_t value = 0;
  for (int octet = 0; octet < 4; ++octet) {
    auto dot = text.find('.');
    if ((octet < 3) != (dot != std::string_view::npos)) return std::nullopt;
    auto part = ParseDecimal(text.substr(0, dot), 255);
    if (!part) return std::nullopt;
    value = value << 8 | *part;
    text = octet < 3 ? text.substr(dot + 1) : std::string_view{};
  }
  return Ipv4Address{value};
}

std::string Ipv4Address::ToString() const {
  return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 255, (value >> 8) & 255,
                     value & 255);
}

std::optional<Ipv4Prefix> Ipv4Prefix::Parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = Ipv4Address::Parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  Ipv4Prefix prefix{*address, 32};
  if (slash != std::string_view::npos) {
    auto length = ParseDecimal(text.substr(slash + 1), 32);
    if (!length) return std::nullopt;
    prefix.length = static_cast<int>(*length);
  }
  if ((address->value & ~prefix.Mask()) != 0) return std::nullopt;
  return prefix;
}

bool Ipv4Prefix::Contains(const Ipv4Address& address) const {
  return (address.value & Mask()) == network.value;
}

std::string Ipv4Prefix::ToString() const {
  return length == 32 ? network.ToString() : fmt::format("{}/{}", network.ToString(), length);
}

std::optional<Ipv4Interface> Ipv4Interface::Parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = Ipv4Address::Parse(text.substr(0, slash));
  auto length = ParseDecimal(text.substr(slash + 1), 30);  // room for a host and a guest
  if (!address || !length || *length < 8) return std::nullopt;
  return Ipv4Interface{*address, static_cast<int>(*length)};
}

Ipv4Prefix Ipv4Interface::Subnet() const {
  Ipv4Prefix prefix{address, length};
  prefix.network.value &= prefix.Mask();
  return prefix;
}

std::string Ipv4Interface::ToString() const {
  return fmt::format("{}/{}", address.ToString(), length);
}

std::optional<Ipv4Range> Ipv4Range::Parse(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = Ipv4Address::Parse(text.substr(0, dash));
  auto last = Ipv4Address::Parse(text.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return Ipv4Range{*first, *last};
}

std::string Ipv4Range::ToString() const {
  return first.ToString() + "-" + last.ToString();
}

std::optional<Ipv6Address> Ipv6Address::Parse(std::string_view text) {
  // inet_pton accepts exactly RFC 4291's text forms (no zone, no brackets, no prefix).
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  // inet_pton reads a C string: "::\0junk" would pass as "::" (found by fuzz_forward_spec).
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string copy(text);
  Ipv6Address address;
  if (inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) != 1) return std::nullopt;
  return address;
}

std::string Ipv6Address::ToString() const {
  char text[INET6_ADDRSTRLEN];  // glibc's inet_ntop writes RFC 5952's canonical form
  inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

namespace {
Ipv6Address Masked(Ipv6Address address, int length) {
  for (int i = 0; i < 16; ++i) {
    int bits = std::clamp(length - 8 * i, 0, 8);
    address.bytes[i] &= static_cast<std::uint8_t>(bits == 0 ? 0 : 0xFF << (8 - bits));
  }
  return address;
}
}  // namespace

std::optional<Ipv6Prefix> Ipv6Prefix::Parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = Ipv6Address::Parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  Ipv6Prefix prefix{*address, 128};
  if (slash != std::string_view::npos) {
    auto length = ParseDecimal(text.substr(slash + 1), 128);
    if (!length) return std::nullopt;
    prefix.length = static_cast<int>(*length);
  }
  if (Masked(*address, prefix.length) != *address) return std::nullopt;
  return prefix;
}

bool Ipv6Prefix::Contains(const Ipv6Address& address) const {
  return Masked(address, length) == network;
}

std::string Ipv6Prefix::ToString() const {
  return length == 128 ? network.ToString() : fmt::format("{}/{}", network.ToString(), length);
}

std::optional<Ipv6Interface> Ipv6Interface::Parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = Ipv6Address::Parse(text.substr(0, slash));
  auto length = ParseDecimal(text.substr(slash + 1), 126);
  if (!address || !length || *length < 64) return std::nullopt;
  return Ipv6Interface{*address, static_cast<int>(*length)};
}

Ipv6Prefix Ipv6Interface::Subnet() const {
  return Ipv6Prefix{Masked(address, length), length};
}

std::string Ipv6Interface::ToString() const {
  return fmt::format("{}/{}", address.ToString(), length);
}

std::optional<Ipv6Range> Ipv6Range::Parse(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto first = Ipv6Address::Parse(text.substr(0, dash));
  auto last = Ipv6Address::Parse(text.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return Ipv6Range{*first, *last};
}

std::string Ipv6Range::ToString() const {
  return first.ToString() + "-" + last.ToString();
}

Ipv6Address HostAddress6(const Ipv6Prefix& subnet, const Ipv4Address& address4) {
  Ipv6Address address = subnet.network;
  address.bytes[15] = static_cast<std::uint8_t>(address4.value & 255);
  return address;
}

std::optional<MacAddress> MacAddress::Parse(std::string_view text) {
  auto bytes = ParseHexBytes<6>(text);
  if (!bytes) return std::nullopt;
  return MacAddress{*bytes};
}

std::string MacAddress::ToString() const {
  return fmt::format("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", bytes[0], bytes[1], bytes[2],
                     bytes[3], bytes[4], bytes[5]);
}

std::optional<std::array<std::uint8_t, 5>> ParseMacPrefix(std::string_view text) {
  return ParseHexBytes<5>(text);
}

}  // namespace virtnat
