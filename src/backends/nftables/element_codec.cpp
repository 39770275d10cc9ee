#include "backends/nftables/element_codec.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "base/errors.h"
#include "model/net.h"

namespace virtnat {
namespace {

using nftlayout::SetSpec;
using nftlayout::Type;

// nft's data type ids (its datatype.h).
std::uint32_t TypeId(Type type) {
  switch (type) {
    case Type::kIpv4Addr:
      return 7;
    case Type::kInetProto:
      return 12;
    case Type::kInetService:
      return 13;
    case Type::kIpv6Addr:
      return 8;
  }
  return 0;
}

// One field's value in network byte order, its natural length (IPv6: 16 bytes).
using FieldBytes = std::array<unsigned char, 16>;

FieldBytes Ipv6Last(const Ipv6Address& first, int length) {
  FieldBytes last{};
  for (int i = 0; i < 16; ++i) {
    int bits = std::clamp(length - 8 * i, 0, 8);
    auto host = static_cast<unsigned char>(0xffu >> bits);
    last[static_cast<std::size_t>(i)] = first.bytes[static_cast<std::size_t>(i)] | host;
  }
  return last;
}

// An IPv6 field: an address, a prefix ("fd00::/64") or a range ("a-b").
bool ParseIpv6Field(std::string_view text, FieldBytes& first, FieldBytes& last) {
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    auto a = Ipv6Address::Parse(text.substr(0, dash)),
         b = Ipv6Address::Parse(text.substr(dash + 1));
    if (!a || !b || b->bytes < a->bytes) return false;
    std::copy(a->bytes.begin(), a->bytes.end(), first.begin());
    std::copy(b->bytes.begin(), b->bytes.end(), last.begin());
    return true;
  }
  auto prefix = Ipv6Prefix::Parse(text);
  if (!prefix) return false;
  std::copy(prefix->network.bytes.begin(), prefix->network.bytes.end(), first.begin());
  last = Ipv6Last(prefix->network, prefix->length);
  return true;
}

void AppendIpv6Field(std::string& out, const unsigned char* first, const unsigned char* last) {
  Ipv6Address a, b;
  std::copy(first, first + 16, a.bytes.begin());
  std::copy(last, last + 16, b.bytes.begin());
  out += a.ToString();
  if (a == b) return;
  // A prefix when `first` has no bit set past some length and `last` has all of them.
  for (int length = 0; length < 128; ++length) {
    bool network = true;
    for (std::size_t i = 0; i < 16; ++i) {
      int bits = std::clamp(length - 8 * static_cast<int>(i), 0, 8);
      if (a.bytes[i] & (0xffu >> bits)) network = false;
    }
    if (network && Ipv6Last(a, length) == b.bytes) {
      out += "/" + std::to_string(length);
      return;
    }
  }
  out += "-" + b.ToString();
}

std::optional<std::uint32_t> ParseAddress(std::string_view text) {
  std::uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    unsigned byte = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), byte);
    if (error != std::errc() || byte > 255) return std::nullopt;
    value = (value << 8) | byte;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    if (part < 3) {
      if (text.empty() || text[0] != '.') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return std::nullopt;
  return value;
}

bool ParseNumber(std::string_view text, std::uint32_t maximum, std::uint32_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && value <= maximum;
}

// One field of an element: its first and last value (a prefix or "a-b" is a range).
bool ParseField(Type type, std::string_view text, std::uint32_t& first, std::uint32_t& last) {
  switch (type) {
    case Type::kIpv4Addr: {
      if (auto dash = text.find('-'); dash != std::string_view::npos) {
        auto a = ParseAddress(text.substr(0, dash)), b = ParseAddress(text.substr(dash + 1));
        if (!a || !b || *b < *a) return false;
        first = *a;
        last = *b;
        return true;
      }
      auto slash = text.find('/');
      auto address = ParseAddress(text.substr(0, slash));
      if (!address) return false;
      first = last = *address;
      if (slash != std::string_view::npos) {
        std::uint32_t length = 0;
        if (!ParseNumber(text.substr(slash + 1), 32, length)) return false;
        std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
        first = *address & mask;
        last = first | ~mask;
      }
      return true;
    }
    case Type::kInetProto:
      if (text == "tcp")
        first = 6;
      else if (text == "udp")
        first = 17;
      else if (!ParseNumber(text, 255, first))
        return false;
      last = first;
      return true;
    case Type::kInetService: {
      if (auto dash = text.find('-'); dash != std::string_view::npos)
        return ParseNumber(text.substr(0, dash), 65535, first) &&
               ParseNumber(text.substr(dash + 1), 65535, last) && first <= last;
      if (!ParseNumber(text, 65535, first)) return false;
      last = first;
      return true;
    }
    case Type::kIpv6Addr:
      return false;  // 16 bytes: ParseIpv6Field
  }
  return false;
}

// The bytes a field takes in a key: its own length, in a concatenation rounded up to 4.
std::uint32_t FieldSpan(Type type, bool concat) {
  std::uint32_t length = NftTypeLength(type);
  return concat ? (length + 3) / 4 * 4 : length;
}

// Splits "a . b . c" into the fields of `types` and encodes them.
bool EncodeFields(const std::vector<Type>& types, std::string_view text, char* first_out,
                  char* last_out, bool& range) {
  bool concat = types.size() > 1;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < types.size(); ++i) {
    std::string_view part = text;
    auto separator = text.find(" . ");
    if (i + 1 < types.size()) {
      if (separator == std::string_view::npos) return false;
      part = text.substr(0, separator);
      text.remove_prefix(separator + 3);
    } else if (separator != std::string_view::npos) {
      return false;
    }
    if (types[i] == Type::kIpv6Addr) {
      FieldBytes first{}, last{};
      if (!ParseIpv6Field(part, first, last)) return false;
      if (first != last) range = true;
      std::memcpy(first_out + offset, first.data(), 16);
      if (last_out) std::memcpy(last_out + offset, last.data(), 16);
      offset += 16;
      continue;
    }
    std::uint32_t first = 0, last = 0;
    if (!ParseField(types[i], part, first, last)) return false;
    if (first != last) range = true;
    PutField(types[i], first, concat, first_out + offset);
    if (last_out) PutField(types[i], last, concat, last_out + offset);
    offset += FieldSpan(types[i], concat);
  }
  return true;
}

std::uint32_t GetField(Type type, const unsigned char* bytes) {
  switch (type) {
    case Type::kIpv4Addr:
      return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
             (std::uint32_t{bytes[2]} << 8) | bytes[3];
    case Type::kInetProto:
      return bytes[0];
    case Type::kInetService:
      return (std::uint32_t{bytes[0]} << 8) | bytes[1];
    case Type::kIpv6Addr:
      return 0;  // AppendIpv6Field
  }
  return 0;
}

void AppendAddress(std::string& out, std::uint32_t value) {
  char buffer[16];
  int length = std::snprintf(buffer, sizeof buffer, "%u.%u.%u.%u", value >> 24, (value >> 16) & 255,
                             (value >> 8) & 255, value & 255);
  out.append(buffer, static_cast<std::size_t>(length));
}

void AppendField(std::string& out, Type type, std::uint32_t first, std::uint32_t last) {
  switch (type) {
    case Type::kIpv4Addr: {
      AppendAddress(out, first);
      if (first == last) return;
      std::uint32_t size = last - first + 1;
      if (size != 0 && (size & (size - 1)) == 0 && (first & (size - 1)) == 0) {
        int length = 32;
        while (size > 1) {
          size >>= 1;
          --length;
        }
        out += "/" + std::to_string(length);
      } else {
        out += "-";
        AppendAddress(out, last);
      }
      return;
    }
    case Type::kInetProto:
      out += first == 6 ? "tcp" : first == 17 ? "udp" : std::to_string(first);
      return;
    case Type::kInetService:
      out += std::to_string(first);
      if (first != last) out += "-" + std::to_string(last);
      return;
    case Type::kIpv6Addr:
      return;  // AppendIpv6Field
  }
}

bool DecodeFields(const std::vector<Type>& types, const unsigned char* first,
                  const unsigned char* last, std::size_t length, std::string& out) {
  if (length != NftKeyLength(types)) return false;
  bool concat = types.size() > 1;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (i) out += " . ";
    if (types[i] == Type::kIpv6Addr) {
      AppendIpv6Field(out, first + offset, (last ? last : first) + offset);
    } else {
      std::uint32_t a = GetField(types[i], first + offset);
      std::uint32_t b = last ? GetField(types[i], last + offset) : a;
      AppendField(out, types[i], a, b);
    }
    offset += FieldSpan(types[i], concat);
  }
  return true;
}

}  // namespace

std::uint32_t NftTypeLength(Type type) {
  switch (type) {
    case Type::kIpv4Addr:
      return 4;
    case Type::kInetProto:
      return 1;
    case Type::kInetService:
      return 2;
    case Type::kIpv6Addr:
      return 16;
  }
  return 0;
}

std::uint32_t NftTypeId(const std::vector<Type>& types) {
  std::uint32_t id = 0;
  for (Type type : types) id = (id << 6) | TypeId(type);  // nft's TYPE_BITS
  return id;
}

std::uint32_t NftKeyLength(const std::vector<Type>& types) {
  if (types.size() == 1) return NftTypeLength(types[0]);
  std::uint32_t length = 0;
  for (Type type : types) length += FieldSpan(type, true);
  return length;
}

void PutField(Type type, std::uint32_t value, bool concat, char* out) {
  std::memset(out, 0, concat ? 4 : NftTypeLength(type));
  if (type == Type::kIpv4Addr) {
    std::uint32_t be = htonl(value);
    std::memcpy(out, &be, 4);
  } else if (type == Type::kInetProto) {
    out[0] = static_cast<char>(value);
  } else {
    std::uint16_t be = htons(static_cast<std::uint16_t>(value));
    std::memcpy(out, &be, 2);
  }
}

EncodedElement EncodeElement(const SetSpec& set, std::string_view text, bool key_only) {
  EncodedElement element;
  std::string_view key = text, data;
  if (auto colon = text.find(" : "); colon != std::string_view::npos) {
    key = text.substr(0, colon);
    data = text.substr(colon + 3);
  }
  bool ok = EncodeFields(set.key, key, element.key, element.key_end, element.range);
  element.key_length = NftKeyLength(set.key);
  if (ok && set.IsMap() && !key_only) {
    bool ignored = false;
    ok = EncodeFields(set.data, data, element.data, nullptr, ignored);
    element.data_length = NftKeyLength(set.data);
  }
  if (!ok || (element.range && !set.interval))
    throw RuntimeFailure("internal error: element '" + std::string(text) + "' does not fit set " +
                         set.name);
  return element;
}

std::string DecodeElement(const SetSpec& set, const void* key, std::size_t key_length,
                          const void* key_end, std::size_t key_end_length, const void* data,
                          std::size_t data_length) {
  std::string text;
  if (key_end && key_end_length != key_length) return "";
  if (!DecodeFields(set.key, static_cast<const unsigned char*>(key),
                    static_cast<const unsigned char*>(key_end), key_length, text))
    return "";
  if (set.IsMap()) {
    if (!data) return "";
    text += " : ";
    if (!DecodeFields(set.data, static_cast<const unsigned char*>(data), nullptr, data_length,
                      text))
      return "";
  }
  return text;
}

}  // namespace virtnat
