// Set elements between their canonical text ("198.51.100.1 . tcp . 80 : 10.1.1.10 . 80",
// as nft_ruleset.h renders them and `nft list` prints them) and the bytes of a netlink
// message: keys in network byte order, each field of a concatenation in a multiple of 4 bytes
// (IPv6 addresses: 16).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backends/nftables/nft_layout.h"

namespace virtnat {

struct EncodedElement {
  // The longest key: ipv6 . proto . port . ipv6 (40 bytes).
  char key[64];
  char key_end[64];
  char data[64];
  std::uint32_t key_length = 0, data_length = 0;
  bool range = false;  // key_end differs from key (a prefix or a range)
};

// The nft type id of a (concatenated) type, and its length in a set key.
std::uint32_t NftTypeId(const std::vector<nftlayout::Type>& types);
std::uint32_t NftKeyLength(const std::vector<nftlayout::Type>& types);
std::uint32_t NftTypeLength(nftlayout::Type type);

// Throws RuntimeFailure when the text does not fit the set. `key_only`: a map element's value
// is left out (deleting needs the key alone).
EncodedElement EncodeElement(const nftlayout::SetSpec& set, std::string_view text,
                             bool key_only = false);
// Writes one value of `type` at `out` (4 bytes in a concatenation, else its own size).
void PutField(nftlayout::Type type, std::uint32_t value, bool concat, char* out);

// The canonical text of an element the kernel holds; "" when the bytes do not fit the set.
// `key_end` (interval sets) may be null.
std::string DecodeElement(const nftlayout::SetSpec& set, const void* key, std::size_t key_length,
                          const void* key_end, std::size_t key_end_length, const void* data,
                          std::size_t data_length);

}  // namespace virtnat
