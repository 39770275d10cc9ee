#include "providers/standalone/link_names.h"

#include <fmt/format.h>

#include <cstdint>

namespace virtnat {
namespace {

constexpr std::size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

// FNV-1a: tiny, and fixed by definition, so derived names never change between versions.
std::uint64_t StableHash(const std::string& text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

std::string DummyNicName(const std::string& bridge) {
  if (bridge.size() + 4 <= kMaxInterfaceName) return bridge + "-nic";
  return fmt::format("{}-{:04x}-nic", bridge.substr(0, 6), StableHash(bridge) & 0xffff);
}

MacAddress StableBridgeMac(const std::string& network_name) {
  std::uint64_t hash = StableHash(network_name);
  return MacAddress{{0x52, 0x54, 0x00, static_cast<std::uint8_t>(hash >> 16),
                     static_cast<std::uint8_t>(hash >> 8), static_cast<std::uint8_t>(hash)}};
}

std::string LowerCaseMac(const MacAddress& mac) {
  const auto& b = mac.bytes;
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4],
                     b[5]);
}

}  // namespace virtnat
