#include "backends/nftables/netlink_batch.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "backends/nftables/element_codec.h"
#include "backends/nftables/netlink_send.h"
#include "base/errors.h"

namespace virtnat {
namespace {

using nftlayout::Field;
using nftlayout::MatchKind;
using nftlayout::SetSpec;
using nftlayout::Type;

// Room for one message built by libnftnl (which does not check bounds): rules and set
// declarations are far smaller; element messages are cut at kElementsPerMessage bytes.
constexpr std::size_t kMessageRoom = 64 * 1024;
constexpr std::size_t kElementBytesPerMessage = 48 * 1024;

std::string Hex(std::string_view hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return bytes;
}

// The set user data nft 1.0.6 attaches (key and data byte order, the type of the key as
// nft remembers it): copied from what `nft -f` sends for the same declarations, so that
// `nft list` prints the table exactly as it prints one that nft itself installed.
std::string NamedSetUserData(const SetSpec& set) {
  if (set.IsMap())
    return Hex("000400000000010400000000030800040d0000000100040800040d0000000100060400000000");
  return Hex("000400000000030800040d0000000100");
}

struct Buffer {
  std::string& out;
  std::size_t start = 0;
  // A message header at the end of `out`, with room for kMessageRoom bytes.
  nlmsghdr* Begin(std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
                  std::uint16_t family = NFPROTO_INET) {
    start = out.size();
    out.resize(start + kMessageRoom);
    return nftnl_nlmsg_build_hdr(out.data() + start, type, family, flags, seq);
  }
  void End(const nlmsghdr* header) { out.resize(start + NLMSG_ALIGN(header->nlmsg_len)); }
};

using TablePtr = std::unique_ptr<nftnl_table, decltype(&nftnl_table_free)>;
using ChainPtr = std::unique_ptr<nftnl_chain, decltype(&nftnl_chain_free)>;
using SetPtr = std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)>;
using RulePtr = std::unique_ptr<nftnl_rule, decltype(&nftnl_rule_free)>;

std::uint32_t HookNumber(nftlayout::Hook hook) {
  switch (hook) {
    case nftlayout::Hook::kPrerouting:
      return NF_INET_PRE_ROUTING;
    case nftlayout::Hook::kInput:
      return NF_INET_LOCAL_IN;
    case nftlayout::Hook::kForward:
      return NF_INET_FORWARD;
    case nftlayout::Hook::kOutput:
      return NF_INET_LOCAL_OUT;
    case nftlayout::Hook::kPostrouting:
      return NF_INET_POST_ROUTING;
  }
  return 0;
}

void PutData(nlmsghdr* header, std::uint16_t type, const char* bytes, std::uint32_t length) {
  nlattr* nest = mnl_attr_nest_start(header, type);
  mnl_attr_put(header, NFTA_DATA_VALUE, length, bytes);
  mnl_attr_nest_end(header, nest);
}

}  // namespace

// Writes NEWSETELEM/DELSETELEM messages for one set, a new message every ~48 KiB (an
// attribute holds at most 64 KiB).
class NftBatch::Elements {
 public:
  Elements(NftBatch& batch, const std::string& table, const std::string& set, bool add)
      : batch_(batch), buffer_{batch.messages_}, table_(table), set_(set), add_(add) {}
  ~Elements() { Close(); }

  void Put(const EncodedElement& element, const char* user_data = nullptr,
           std::uint32_t user_data_length = 0, std::uint32_t flags = 0) {
    if (header_ && header_->nlmsg_len > kElementBytesPerMessage) Close();
    if (!header_) Open();
    nlattr* item = mnl_attr_nest_start(header_, NFTA_LIST_ELEM);
    if (flags) mnl_attr_put_u32(header_, NFTA_SET_ELEM_FLAGS, htonl(flags));
    PutData(header_, NFTA_SET_ELEM_KEY, element.key, element.key_length);
    if (element.data_length)
      PutData(header_, NFTA_SET_ELEM_DATA, element.data, element.data_length);
    if (element.range || concat_interval_)
      PutData(header_, NFTA_SET_ELEM_KEY_END, element.key_end, element.key_length);
    if (user_data_length)
      mnl_attr_put(header_, NFTA_SET_ELEM_USERDATA, user_data_length, user_data);
    mnl_attr_nest_end(header_, item);
  }
  // Pipapo sets (interval and concatenated) take every element as a range.
  void SetConcatInterval(bool value) { concat_interval_ = value; }

 private:
  void Open() {
    header_ = buffer_.Begin(
        (NFNL_SUBSYS_NFTABLES << 8) | (add_ ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM),
        add_ ? NLM_F_CREATE : 0, batch_.seq_++);
    mnl_attr_put_strz(header_, NFTA_SET_ELEM_LIST_TABLE, table_.c_str());
    mnl_attr_put_strz(header_, NFTA_SET_ELEM_LIST_SET, set_.c_str());
    if (auto id = batch_.set_ids_.find(set_); id != batch_.set_ids_.end())
      mnl_attr_put_u32(header_, NFTA_SET_ELEM_LIST_SET_ID, htonl(id->second));
    list_ = mnl_attr_nest_start(header_, NFTA_SET_ELEM_LIST_ELEMENTS);
  }
  void Close() {
    if (!header_) return;
    mnl_attr_nest_end(header_, list_);
    buffer_.End(header_);
    header_ = nullptr;
  }

  NftBatch& batch_;
  Buffer buffer_;
  const std::string& table_;
  std::string set_;
  bool add_;
  bool concat_interval_ = false;
  nlmsghdr* header_ = nullptr;
  nlattr* list_ = nullptr;
};

NftBatch::NftBatch() = default;

namespace {

nftnl_expr* Expr(const char* name) {
  nftnl_expr* expr = nftnl_expr_alloc(name);
  if (!expr) throw RuntimeFailure("cannot allocate an nftables expression");
  return expr;
}

void Meta(nftnl_rule* rule, std::uint32_t key, std::uint32_t reg) {
  nftnl_expr* expr = Expr("meta");
  nftnl_expr_set_u32(expr, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_META_DREG, reg);
  nftnl_rule_add_expr(rule, expr);
}

void Payload(nftnl_rule* rule, std::uint32_t base, std::uint32_t offset, std::uint32_t length,
             std::uint32_t reg) {
  nftnl_expr* expr = Expr("payload");
  nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_DREG, reg);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_LEN, length);
  nftnl_rule_add_expr(rule, expr);
}

void Cmp(nftnl_rule* rule, std::uint32_t reg, bool negate, const void* data, std::uint32_t length) {
  nftnl_expr* expr = Expr("cmp");
  nftnl_expr_set_u32(expr, NFTNL_EXPR_CMP_SREG, reg);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_CMP_OP, negate ? NFT_CMP_NEQ : NFT_CMP_EQ);
  nftnl_expr_set(expr, NFTNL_EXPR_CMP_DATA, data, length);
  nftnl_rule_add_expr(rule, expr);
}

void Bitwise(nftnl_rule* rule, std::uint32_t reg, const void* mask, std::uint32_t length) {
  static const char kZero[16] = {};
  nftnl_expr* expr = Expr("bitwise");
  nftnl_expr_set_u32(expr, NFTNL_EXPR_BITWISE_SREG, reg);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_BITWISE_DREG, reg);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_BITWISE_LEN, length);
  nftnl_expr_set(expr, NFTNL_EXPR_BITWISE_MASK, mask, length);
  nftnl_expr_set(expr, NFTNL_EXPR_BITWISE_XOR, kZero, length);
  nftnl_rule_add_expr(rule, expr);
}

void Lookup(nftnl_rule* rule, std::uint32_t sreg, const std::string& set, std::uint32_t set_id,
            bool negate, std::optional<std::uint32_t> dreg = std::nullopt) {
  nftnl_expr* expr = Expr("lookup");
  nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg) nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_DREG, *dreg);
  nftnl_expr_set_str(expr, NFTNL_EXPR_LOOKUP_SET, set.c_str());
  nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
  if (negate) nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  nftnl_rule_add_expr(rule, expr);
}

void Verdict(nftnl_rule* rule, int verdict) {
  nftnl_expr* expr = Expr("immediate");
  nftnl_expr_set_u32(expr, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(expr, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(verdict));
  nftnl_rule_add_expr(rule, expr);
}

// Registers: the fields of a concatenation follow each other from NFT_REG_1 on, each taking
// as many 32-bit words as its bytes need (an IPv6 address 4). Like nft, a field that starts a
// 128-bit register is named by it (NFT_REG_1, NFT_REG_2, ...), any other by its 32-bit one.
std::uint32_t FieldRegister(std::uint32_t words_before) {
  return words_before % 4 == 0 ? static_cast<std::uint32_t>(NFT_REG_1) + words_before / 4
                               : static_cast<std::uint32_t>(NFT_REG32_00) + words_before;
}

std::uint32_t FieldWords(Field field) {
  return field == Field::kIp6Saddr || field == Field::kIp6Daddr ? 4 : 1;
}

// State of one rule while its expressions are written: nft adds `meta nfproto ipv4` (ipv6)
// before the first match on the IPv4 (IPv6) header of a rule in an inet table, once.
struct RuleContext {
  nftnl_rule* rule;
  bool ipv4_checked = false;
  bool ipv6_checked = false;
  void Nfproto(std::uint8_t family) {
    Meta(rule, NFT_META_NFPROTO, NFT_REG_1);
    Cmp(rule, NFT_REG_1, false, &family, 1);
  }
  void RequireIpv4() {
    if (ipv4_checked) return;
    ipv4_checked = true;
    Nfproto(NFPROTO_IPV4);
  }
  void RequireIpv6() {
    if (ipv6_checked) return;
    ipv6_checked = true;
    Nfproto(NFPROTO_IPV6);
  }
  // Loads a concatenation of fields from NFT_REG_1 on. `interval`: nft converts the protocol
  // to network byte order for lookups in an interval set.
  void LoadFields(const std::vector<Field>& fields, bool interval) {
    for (Field field : fields) {
      if (field == Field::kIpSaddr || field == Field::kIpDaddr) RequireIpv4();
      if (field == Field::kIp6Saddr || field == Field::kIp6Daddr) RequireIpv6();
    }
    std::uint32_t words = 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      std::uint32_t reg = FieldRegister(words);
      words += FieldWords(fields[i]);
      switch (fields[i]) {
        case Field::kIp6Saddr:
          Payload(rule, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, reg);
          break;
        case Field::kIp6Daddr:
          Payload(rule, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, reg);
          break;
        case Field::kIpSaddr:
          Payload(rule, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, reg);
          break;
        case Field::kIpDaddr:
          Payload(rule, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg);
          break;
        case Field::kL4proto:
          Meta(rule, NFT_META_L4PROTO, reg);
          if (interval && fields.size() > 1) {
            nftnl_expr* expr = Expr("byteorder");
            nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_SREG, reg);
            nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_DREG, reg);
            nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
            nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_LEN, 1);
            nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_SIZE, 2);
            nftnl_rule_add_expr(rule, expr);
          }
          break;
        case Field::kThDport:
          Payload(rule, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg);
          break;
      }
    }
  }
  void Address(std::uint32_t offset, const Ipv4Prefix& prefix, bool negate) {
    RequireIpv4();
    // A prefix of whole bytes compares those bytes; any other loads the address and masks it.
    std::uint32_t bytes = prefix.length % 8 ? 4 : static_cast<std::uint32_t>(prefix.length) / 8;
    Payload(rule, NFT_PAYLOAD_NETWORK_HEADER, offset, bytes, NFT_REG_1);
    std::uint32_t be_network = htonl(prefix.network.value);
    if (prefix.length % 8) {
      std::uint32_t be_mask = htonl(prefix.Mask());
      Bitwise(rule, NFT_REG_1, &be_mask, bytes);
    }
    Cmp(rule, NFT_REG_1, negate, &be_network, bytes);
  }
  void Address6(std::uint32_t offset, const Ipv6Prefix& prefix, bool negate) {
    RequireIpv6();
    // As for IPv4: whole bytes compare those bytes, any other prefix loads the address and
    // masks it.
    std::uint32_t bytes = prefix.length % 8 ? 16 : static_cast<std::uint32_t>(prefix.length) / 8;
    Payload(rule, NFT_PAYLOAD_NETWORK_HEADER, offset, bytes, NFT_REG_1);
    if (prefix.length % 8) {
      unsigned char mask[16] = {};
      for (int bit = 0; bit < prefix.length; ++bit)
        mask[bit / 8] = static_cast<unsigned char>(mask[bit / 8] | (0x80u >> (bit % 8)));
      Bitwise(rule, NFT_REG_1, mask, bytes);
    }
    Cmp(rule, NFT_REG_1, negate, prefix.network.bytes.data(), bytes);
  }
};

}  // namespace

std::uint32_t NftBatch::AnonymousSet(const std::string& table, const nftlayout::Match& match) {
  SetSpec spec;
  std::set<std::string> elements;
  std::uint32_t size = 0;
  std::string user_data;
  std::uint32_t flags = NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
  switch (match.kind) {
    case MatchKind::kL4protoIn:
      spec.key = {Type::kInetProto};
      user_data = Hex("000401000000030e0004090000000106000410000000");
      size = static_cast<std::uint32_t>(match.values.size());
      break;
    case MatchKind::kThDportIn:
      spec.key = {Type::kInetService};
      user_data = Hex("0004020000000314000407000000010c00040b000000010402000000");
      size = static_cast<std::uint32_t>(match.values.size());
      break;
    case MatchKind::kIpDaddrIn:
      spec.key = {Type::kIpv4Addr};
      spec.interval = true;
      flags |= NFT_SET_INTERVAL;
      user_data = Hex("0004020000000204010000000314000407000000010c00040c00000001040c000000");
      size = static_cast<std::uint32_t>(2 * match.prefixes.size() + 1);
      break;
    case MatchKind::kIcmpv6TypeIn:
      spec.key = {Type::kInetProto};  // one byte, like icmpv6_type (whose type id follows)
      user_data = Hex("0004020000000314000407000000010c00040e000000010401000000");
      size = static_cast<std::uint32_t>(match.values.size());
      break;
    default:
      throw RuntimeFailure("internal error: no anonymous set for this match");
  }
  std::uint32_t id = next_set_id_++;
  SetPtr set(nftnl_set_alloc(), nftnl_set_free);
  nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(set.get(), NFTNL_SET_NAME, "__set%d");
  nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, flags);
  constexpr std::uint32_t kIcmpv6TypeId = 29;  // nft's TYPE_ICMP6_TYPE
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE,
                    match.kind == MatchKind::kIcmpv6TypeIn ? kIcmpv6TypeId : NftTypeId(spec.key));
  nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, NftKeyLength(spec.key));
  nftnl_set_set_u32(set.get(), NFTNL_SET_ID, id);
  nftnl_set_set_u32(set.get(), NFTNL_SET_DESC_SIZE, size);
  nftnl_set_set_data(set.get(), NFTNL_SET_USERDATA, user_data.data(),
                     static_cast<std::uint32_t>(user_data.size()));
  Buffer buffer{messages_};
  nlmsghdr* header =
      buffer.Begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSET, NLM_F_CREATE, seq_++);
  nftnl_set_nlmsg_build_payload(header, set.get());
  buffer.End(header);

  // The elements, in the kernel's form: plain values; an interval set (rbtree) as the start of
  // each range and, flagged as an end, the address after it (the first range preceded by an
  // end at 0; a range up to 255.255.255.255 is open, marked in its user data).
  set_ids_["__set%d"] = id;  // the writer names the set by this id
  Elements writer(*this, table, "__set%d", true);
  EncodedElement element;
  element.key_length = NftKeyLength(spec.key);
  if (match.kind == MatchKind::kIpDaddrIn) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
    for (const auto& prefix : match.prefixes)
      ranges.emplace_back(prefix.network.value, prefix.network.value | ~prefix.Mask());
    std::sort(ranges.begin(), ranges.end());
    if (!ranges.empty() && ranges.front().first != 0) {
      PutField(Type::kIpv4Addr, 0, false, element.key);
      writer.Put(element, nullptr, 0, NFT_SET_ELEM_INTERVAL_END);
    }
    for (auto [first, last] : ranges) {
      PutField(Type::kIpv4Addr, first, false, element.key);
      if (last == 0xffffffffu) {
        static const char kOpen[] = {NFTNL_UDATA_SET_ELEM_FLAGS, 4, 1, 0, 0, 0};
        writer.Put(element, kOpen, sizeof kOpen);
        continue;
      }
      writer.Put(element);
      PutField(Type::kIpv4Addr, last + 1, false, element.key);
      writer.Put(element, nullptr, 0, NFT_SET_ELEM_INTERVAL_END);
    }
  } else {
    for (auto value : match.values) {
      PutField(spec.key[0], value, false, element.key);
      writer.Put(element);
    }
  }
  return id;
}

void NftBatch::Rule(const std::string& table, const std::string& chain,
                    const nftlayout::Rule& layout_rule) {
  // Anonymous sets first: nft sends each right before the rule that uses it.
  std::vector<std::uint32_t> anonymous;
  for (const auto& match : layout_rule.matches)
    if (match.kind == MatchKind::kL4protoIn || match.kind == MatchKind::kThDportIn ||
        match.kind == MatchKind::kIpDaddrIn || match.kind == MatchKind::kIcmpv6TypeIn)
      anonymous.push_back(AnonymousSet(table, match));
  RulePtr rule(nftnl_rule_alloc(), nftnl_rule_free);
  nftnl_rule_set_u32(rule.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, chain.c_str());
  RuleContext context{rule.get()};
  std::size_t next_anonymous = 0;
  auto set_of = [&](const std::string& name) {
    const SetSpec* spec = nftlayout::FindSet(name);
    if (!spec) throw RuntimeFailure("internal error: unknown set " + name);
    return spec;
  };
  for (const auto& match : layout_rule.matches) {
    switch (match.kind) {
      case MatchKind::kLookup: {
        const SetSpec* spec = set_of(match.name);
        context.LoadFields(match.fields, spec->interval);
        Lookup(rule.get(), NFT_REG_1, match.name, set_ids_.at(match.name), match.negate);
        break;
      }
      case MatchKind::kFibDaddrLocal: {
        nftnl_expr* expr = Expr("fib");
        nftnl_expr_set_u32(expr, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
        nftnl_expr_set_u32(expr, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        nftnl_expr_set_u32(expr, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
        nftnl_rule_add_expr(rule.get(), expr);
        std::uint32_t local = 2;  // RTN_LOCAL
        Cmp(rule.get(), NFT_REG_1, false, &local, 4);
        break;
      }
      case MatchKind::kIifname:
      case MatchKind::kOifname: {
        Meta(rule.get(), match.kind == MatchKind::kIifname ? NFT_META_IIFNAME : NFT_META_OIFNAME,
             NFT_REG_1);
        char name[16] = {};
        std::size_t length = 0;
        for (char c : match.name)  // as the text renderer quotes it
          if (c != '"' && c != '\\' && c != '\n' && length < sizeof name - 1) name[length++] = c;
        Cmp(rule.get(), NFT_REG_1, match.negate, name, sizeof name);
        break;
      }
      case MatchKind::kCtStatusDnat:
      case MatchKind::kCtStateEstablishedRelated: {
        bool status = match.kind == MatchKind::kCtStatusDnat;
        nftnl_expr* expr = Expr("ct");
        nftnl_expr_set_u32(expr, NFTNL_EXPR_CT_KEY, status ? NFT_CT_STATUS : NFT_CT_STATE);
        nftnl_expr_set_u32(expr, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        nftnl_rule_add_expr(rule.get(), expr);
        std::uint32_t mask = status ? 0x20 : 0x06;  // IPS_DST_NAT; established | related
        std::uint32_t zero = 0;
        Bitwise(rule.get(), NFT_REG_1, &mask, 4);
        Cmp(rule.get(), NFT_REG_1, true, &zero, 4);
        break;
      }
      case MatchKind::kIpSaddr:
        context.Address(12, match.prefix, match.negate);
        break;
      case MatchKind::kIpDaddr:
        context.Address(16, match.prefix, match.negate);
        break;
      case MatchKind::kL4protoIn:
        Meta(rule.get(), NFT_META_L4PROTO, NFT_REG_1);
        Lookup(rule.get(), NFT_REG_1, "__set%d", anonymous.at(next_anonymous++), false);
        break;
      case MatchKind::kThDport: {
        Payload(rule.get(), NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
        std::uint16_t port = htons(match.values.at(0));
        Cmp(rule.get(), NFT_REG_1, false, &port, 2);
        break;
      }
      case MatchKind::kUdpDport: {
        Meta(rule.get(), NFT_META_L4PROTO, NFT_REG_1);
        std::uint8_t udp = 17;
        Cmp(rule.get(), NFT_REG_1, false, &udp, 1);
        Payload(rule.get(), NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
        std::uint16_t port = htons(match.values.at(0));
        Cmp(rule.get(), NFT_REG_1, false, &port, 2);
        break;
      }
      case MatchKind::kThDportIn:
        Payload(rule.get(), NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
        Lookup(rule.get(), NFT_REG_1, "__set%d", anonymous.at(next_anonymous++), false);
        break;
      case MatchKind::kIpDaddrIn:
        context.RequireIpv4();
        Payload(rule.get(), NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
        Lookup(rule.get(), NFT_REG_1, "__set%d", anonymous.at(next_anonymous++), false);
        break;
      case MatchKind::kIp6Saddr:
        context.Address6(8, match.prefix6, match.negate);
        break;
      case MatchKind::kIp6Daddr:
        context.Address6(24, match.prefix6, match.negate);
        break;
      case MatchKind::kNfproto: {
        auto family = static_cast<std::uint8_t>(match.values.at(0));
        context.Nfproto(family);
        (family == NFPROTO_IPV6 ? context.ipv6_checked : context.ipv4_checked) = true;
        break;
      }
      case MatchKind::kIcmpv6TypeIn: {
        context.RequireIpv6();
        Meta(rule.get(), NFT_META_L4PROTO, NFT_REG_1);
        std::uint8_t icmpv6 = IPPROTO_ICMPV6;
        Cmp(rule.get(), NFT_REG_1, false, &icmpv6, 1);
        Payload(rule.get(), NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
        Lookup(rule.get(), NFT_REG_1, "__set%d", anonymous.at(next_anonymous++), false);
        break;
      }
    }
  }
  const auto& action = layout_rule.action;
  switch (action.kind) {
    case nftlayout::ActionKind::kNone:
      break;
    case nftlayout::ActionKind::kAccept:
      Verdict(rule.get(), NF_ACCEPT);
      break;
    case nftlayout::ActionKind::kDrop:
      Verdict(rule.get(), NF_DROP);
      break;
    case nftlayout::ActionKind::kReturn:
      Verdict(rule.get(), NFT_RETURN);
      break;
    case nftlayout::ActionKind::kReject: {
      nftnl_expr* expr = Expr("reject");
      nftnl_expr_set_u32(expr, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
      nftnl_expr_set_u8(expr, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_PORT_UNREACH);
      nftnl_rule_add_expr(rule.get(), expr);
      break;
    }
    case nftlayout::ActionKind::kMasquerade:
      nftnl_rule_add_expr(rule.get(), Expr("masq"));
      break;
    case nftlayout::ActionKind::kMasqueradePorts: {
      std::uint16_t first = htons(action.first_port), last = htons(action.last_port);
      for (auto [reg, value] : {std::pair{NFT_REG_1, &first}, {NFT_REG_2, &last}}) {
        nftnl_expr* expr = Expr("immediate");
        nftnl_expr_set_u32(expr, NFTNL_EXPR_IMM_DREG, reg);
        nftnl_expr_set(expr, NFTNL_EXPR_IMM_DATA, value, 2);
        nftnl_rule_add_expr(rule.get(), expr);
      }
      nftnl_expr* expr = Expr("masq");
      nftnl_expr_set_u32(expr, NFTNL_EXPR_MASQ_REG_PROTO_MIN, NFT_REG_1);
      nftnl_expr_set_u32(expr, NFTNL_EXPR_MASQ_REG_PROTO_MAX, NFT_REG_2);
      nftnl_expr_set_u32(expr, NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
      nftnl_rule_add_expr(rule.get(), expr);
      break;
    }
    case nftlayout::ActionKind::kDnatMap:
    case nftlayout::ActionKind::kDnat6Map: {
      bool ipv6 = action.kind == nftlayout::ActionKind::kDnat6Map;
      context.LoadFields(action.fields, false);
      Lookup(rule.get(), NFT_REG_1, action.map, set_ids_.at(action.map), false, NFT_REG_1);
      nftnl_expr* expr = Expr("nat");
      nftnl_expr_set_u32(expr, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
      nftnl_expr_set_u32(expr, NFTNL_EXPR_NAT_FAMILY, ipv6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
      nftnl_expr_set_u32(expr, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
      // The guest port follows the address in the map's value: after 16 bytes for IPv6.
      nftnl_expr_set_u32(expr, NFTNL_EXPR_NAT_REG_PROTO_MIN, FieldRegister(ipv6 ? 4 : 1));
      nftnl_rule_add_expr(rule.get(), expr);
      break;
    }
  }
  if (!layout_rule.comment.empty()) {
    std::unique_ptr<nftnl_udata_buf, decltype(&nftnl_udata_buf_free)> data(
        nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN), nftnl_udata_buf_free);
    nftnl_udata_put_strz(data.get(), NFTNL_UDATA_RULE_COMMENT, layout_rule.comment.c_str());
    nftnl_rule_set_data(rule.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(data.get()),
                        nftnl_udata_buf_len(data.get()));
  }
  Buffer buffer{messages_};
  nlmsghdr* header = buffer.Begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
                                  NLM_F_CREATE | NLM_F_APPEND, seq_++);
  nftnl_rule_nlmsg_build_payload(header, rule.get());
  buffer.End(header);
}

void NftBatch::DeleteTable(const std::string& table) {
  TablePtr object(nftnl_table_alloc(), nftnl_table_free);
  nftnl_table_set_str(object.get(), NFTNL_TABLE_NAME, table.c_str());
  Buffer buffer{messages_};
  nlmsghdr* header = buffer.Begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE, 0, seq_++);
  nftnl_table_nlmsg_build_payload(header, object.get());
  buffer.End(header);
}

void NftBatch::ReplaceTable(const NftRuleset& ruleset) {
  const std::string& table = ruleset.table;
  auto add_table = [&](const std::string* comment) {
    TablePtr object(nftnl_table_alloc(), nftnl_table_free);
    nftnl_table_set_str(object.get(), NFTNL_TABLE_NAME, table.c_str());
    nftnl_table_set_u32(object.get(), NFTNL_TABLE_FLAGS, 0);
    std::unique_ptr<nftnl_udata_buf, decltype(&nftnl_udata_buf_free)> data(
        nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN), nftnl_udata_buf_free);
    if (comment) {
      nftnl_udata_put_strz(data.get(), NFTNL_UDATA_TABLE_COMMENT, comment->c_str());
      nftnl_table_set_data(object.get(), NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(data.get()),
                           nftnl_udata_buf_len(data.get()));
    }
    Buffer buffer{messages_};
    nlmsghdr* header =
        buffer.Begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, NLM_F_CREATE, seq_++);
    nftnl_table_nlmsg_build_payload(header, object.get());
    buffer.End(header);
  };
  add_table(nullptr);
  DeleteTable(table);
  std::string comment = "managed by virtnat; layout " + ruleset.skeleton_hash;
  add_table(&comment);

  for (const auto& chain : ruleset.layout.chains) {
    ChainPtr object(nftnl_chain_alloc(), nftnl_chain_free);
    nftnl_chain_set_str(object.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(object.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
    nftnl_chain_set_str(object.get(), NFTNL_CHAIN_TYPE, chain.type.c_str());
    nftnl_chain_set_u32(object.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nftnl_chain_set_u32(object.get(), NFTNL_CHAIN_HOOKNUM, HookNumber(chain.hook));
    nftnl_chain_set_s32(object.get(), NFTNL_CHAIN_PRIO, chain.priority);
    Buffer buffer{messages_};
    nlmsghdr* header =
        buffer.Begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN, NLM_F_CREATE, seq_++);
    nftnl_chain_nlmsg_build_payload(header, object.get());
    buffer.End(header);
  }

  for (const auto& spec : ruleset.layout.sets) {
    std::uint32_t id = next_set_id_++;
    set_ids_[spec.name] = id;
    SetPtr set(nftnl_set_alloc(), nftnl_set_free);
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, spec.name.c_str());
    std::uint32_t flags = 0;
    if (spec.IsMap()) flags |= NFT_SET_MAP;
    if (spec.interval) flags |= NFT_SET_INTERVAL | (spec.key.size() > 1 ? NFT_SET_CONCAT : 0);
    nftnl_set_set_u32(set.get(), NFTNL_SET_FLAGS, flags);
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, NftTypeId(spec.key));
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, NftKeyLength(spec.key));
    if (spec.IsMap()) {
      nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_TYPE, NftTypeId(spec.data));
      nftnl_set_set_u32(set.get(), NFTNL_SET_DATA_LEN, NftKeyLength(spec.data));
    }
    nftnl_set_set_u32(set.get(), NFTNL_SET_ID, id);
    if (spec.interval && spec.key.size() > 1) {
      std::uint8_t lengths[NFT_REG32_COUNT] = {};
      for (std::size_t i = 0; i < spec.key.size(); ++i)
        lengths[i] = static_cast<std::uint8_t>(NftTypeLength(spec.key[i]));
      nftnl_set_set_data(set.get(), NFTNL_SET_DESC_CONCAT, lengths,
                         static_cast<std::uint32_t>(spec.key.size()));
    }
    std::string user_data = NamedSetUserData(spec);
    nftnl_set_set_data(set.get(), NFTNL_SET_USERDATA, user_data.data(),
                       static_cast<std::uint32_t>(user_data.size()));
    if (spec.counter) nftnl_set_add_expr(set.get(), Expr("counter"));
    Buffer buffer{messages_};
    nlmsghdr* header =
        buffer.Begin((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSET, NLM_F_CREATE, seq_++);
    nftnl_set_nlmsg_build_payload(header, set.get());
    buffer.End(header);
    if (auto elements = ruleset.elements.find(spec.name); elements != ruleset.elements.end())
      AddElements(table, spec, elements->second);
  }

  for (const auto& chain : ruleset.layout.chains)
    for (const auto& rule : chain.rules) Rule(table, chain.name, rule);
}

void NftBatch::AddElements(const std::string& table, const SetSpec& set,
                           const std::set<std::string>& elements) {
  if (elements.empty()) return;
  Elements writer(*this, table, set.name, true);
  writer.SetConcatInterval(set.interval && set.key.size() > 1);
  for (const auto& text : elements) writer.Put(EncodeElement(set, text, false));
}

void NftBatch::DeleteElements(const std::string& table, const SetSpec& set,
                              const std::set<std::string>& elements) {
  if (elements.empty()) return;
  Elements writer(*this, table, set.name, false);
  writer.SetConcatInterval(set.interval && set.key.size() > 1);
  for (const auto& text : elements) writer.Put(EncodeElement(set, text, true));
}

std::string NftBatch::Wrap(std::string_view messages, std::optional<std::uint32_t> generation) {
  return WrapNftBatch(messages, generation);
}

std::string NftBatch::Finish(std::optional<std::uint32_t> generation) const {
  return Wrap(messages_, generation);
}

}  // namespace virtnat
