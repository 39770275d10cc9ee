#include "backends/nftables/ruleset_doctor.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace virtnat {
namespace {

using nlohmann::json;

// ------------------------------------------------------------------ three-valued logic

enum class Tri { kNo, kYes, kUnknown };

Tri And(Tri a, Tri b) {
  if (a == Tri::kNo || b == Tri::kNo) return Tri::kNo;
  if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
  return Tri::kYes;
}
Tri Or(Tri a, Tri b) {
  if (a == Tri::kYes || b == Tri::kYes) return Tri::kYes;
  if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
  return Tri::kNo;
}
Tri Not(Tri a) {
  if (a == Tri::kYes) return Tri::kNo;
  if (a == Tri::kNo) return Tri::kYes;
  return Tri::kUnknown;
}
Tri FromBool(bool b) {
  return b ? Tri::kYes : Tri::kNo;
}

// ------------------------------------------------------------------ small parsers

std::optional<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t value = 0;
  int parts = 0;
  size_t pos = 0;
  while (parts < 4) {
    size_t end = text.find('.', pos);
    std::string_view part = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    unsigned octet = 0;
    if (part.empty() || part.size() > 3) return std::nullopt;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), octet);
    if (ec != std::errc() || ptr != part.data() + part.size() || octet > 255) return std::nullopt;
    value = (value << 8) | octet;
    ++parts;
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  if (parts != 4) return std::nullopt;
  return value;
}

// An IPv6 address in any RFC 4291 form, as 16 bytes (network order).
std::optional<std::array<uint8_t, 16>> ParseIpv6(std::string_view text) {
  std::array<uint8_t, 16> bytes{};
  std::string copy(text);
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) != 1) return std::nullopt;
  return bytes;
}

// Do the first `length` bits of a and b agree?
bool SamePrefix6(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int length) {
  for (int bit = 0; bit < length; bit += 8) {
    int bits = std::min(8, length - bit);
    uint8_t mask = static_cast<uint8_t>(0xff00u >> bits);
    if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) return false;
  }
  return true;
}

// ICMPv6 type names as nft prints them.
std::optional<uint64_t> Icmpv6TypeNumber(std::string_view name) {
  static const std::map<std::string, uint64_t, std::less<>> kTypes = {
      {"destination-unreachable", 1},  {"packet-too-big", 2},         {"time-exceeded", 3},
      {"parameter-problem", 4},        {"echo-request", 128},         {"echo-reply", 129},
      {"mld-listener-query", 130},     {"mld-listener-report", 131},  {"mld-listener-done", 132},
      {"mld-listener-reduction", 132}, {"nd-router-solicit", 133},    {"nd-router-advert", 134},
      {"nd-neighbor-solicit", 135},    {"nd-neighbor-advert", 136},   {"nd-redirect", 137},
      {"router-renumbering", 138},     {"ind-neighbor-solicit", 141}, {"ind-neighbor-advert", 142},
      {"mld2-listener-report", 143}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> ParseNumber(std::string_view text) {
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> ProtocolNumber(std::string_view name) {
  static const std::map<std::string, uint64_t, std::less<>> kProtocols = {
      {"icmp", 1}, {"igmp", 2}, {"tcp", 6},     {"udp", 17},       {"dccp", 33},  {"gre", 47},
      {"esp", 50}, {"ah", 51},  {"icmpv6", 58}, {"ipv6-icmp", 58}, {"sctp", 132}, {"udplite", 136},
  };
  if (auto it = kProtocols.find(name); it != kProtocols.end()) return it->second;
  return ParseNumber(name);
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// ------------------------------------------------------------------ the ruleset

struct Chain {
  std::string family, table, name;
  std::string type, hook, policy = "accept";
  int priority = 0;
  bool base = false;
  std::vector<const json*> rules;
};

std::string Key(std::string_view family, std::string_view table, std::string_view name) {
  return fmt::format("{}\t{}\t{}", family, table, name);
}

int PriorityValue(const json& prio) {
  if (prio.is_number_integer()) return prio.get<int>();
  if (prio.is_string()) {
    static const std::map<std::string, int, std::less<>> kNamed = {
        {"raw", -300},   {"mangle", -150}, {"dstnat", -100}, {"filter", 0}, {"security", 50},
        {"srcnat", 100}, {"out", 100},     {"forward", 0},   {"in", -150}};
    std::string text = prio.get<std::string>();
    if (auto it = kNamed.find(text); it != kNamed.end()) return it->second;
    if (auto n = ParseNumber(text)) return static_cast<int>(*n);
  }
  if (prio.is_object() && prio.contains("standard")) {
    return PriorityValue(prio["standard"]) + prio.value("offset", 0);
  }
  return 0;
}

struct Ruleset {
  std::map<std::string, Chain> chains;
  std::map<std::string, const json*> sets;          // sets and maps, by Key(family, table, name)
  std::map<const json*, std::string> listing_text;  // rule -> its line of the text listing
};

// The text listing (`nft [-a] list ruleset`): each rule's line, by handle or by position.
struct ListingLines {
  std::map<std::string, std::vector<std::string>> by_chain;           // Key -> lines in order
  std::map<std::pair<std::string, uint64_t>, std::string> by_handle;  // (Key, handle) -> line
};

int BraceDelta(std::string_view line) {
  int delta = 0;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '{') ++delta;
    if (c == '}') --delta;
  }
  return delta;
}

ListingLines ParseListing(const std::string& text) {
  ListingLines out;
  std::istringstream in(text);
  std::string raw, family, table, chain;
  int skip_depth = 0;  // inside a set/map/other block
  while (std::getline(in, raw)) {
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (skip_depth > 0) {
      skip_depth += BraceDelta(line);
      continue;
    }
    if (chain.empty()) {
      if (StartsWith(line, "table ")) {
        std::istringstream words(line.substr(6));
        words >> family >> table;
        continue;
      }
      if (StartsWith(line, "chain ")) {
        std::istringstream words(line.substr(6));
        words >> chain;
        if (chain.size() >= 2 && chain.front() == '"' && chain.back() == '"') {
          chain = chain.substr(1, chain.size() - 2);
        }
        out.by_chain[Key(family, table, chain)];
        continue;
      }
      if (line == "}") {
        table.clear();
        continue;
      }
      if (line.back() == '{') skip_depth = BraceDelta(line);
      continue;
    }
    if (line == "}") {
      chain.clear();
      continue;
    }
    if (StartsWith(line, "type ") || StartsWith(line, "policy ") || StartsWith(line, "comment ") ||
        StartsWith(line, "devices ")) {
      continue;
    }
    std::string key = Key(family, table, chain);
    if (size_t pos = line.rfind(" # handle "); pos != std::string::npos) {
      if (auto handle = ParseNumber(line.substr(pos + 10))) {
        out.by_handle[{key, *handle}] = Trim(line.substr(0, pos));
      }
      line = Trim(line.substr(0, pos));
    }
    out.by_chain[key].push_back(line);
  }
  return out;
}

Ruleset LoadRuleset(const json& input, const std::string& listing) {
  if (!input.is_object() || !input.contains("nftables") || !input["nftables"].is_array()) {
    throw std::invalid_argument("not the JSON of `nft -j list ruleset` (no \"nftables\" array)");
  }
  Ruleset rs;
  for (const json& item : input["nftables"]) {
    if (!item.is_object()) continue;
    if (auto it = item.find("chain"); it != item.end()) {
      const json& c = *it;
      Chain chain;
      chain.family = c.value("family", "");
      chain.table = c.value("table", "");
      chain.name = c.value("name", "");
      if (c.contains("hook")) {
        chain.base = true;
        chain.hook = c.value("hook", "");
        chain.type = c.value("type", "filter");
        chain.policy = c.value("policy", "accept");
        if (c.contains("prio")) chain.priority = PriorityValue(c["prio"]);
      }
      std::string key = Key(chain.family, chain.table, chain.name);
      auto& slot = rs.chains[key];
      chain.rules = std::move(slot.rules);
      slot = std::move(chain);
    } else if (auto rit = item.find("rule"); rit != item.end()) {
      const json& r = *rit;
      Chain& chain =
          rs.chains[Key(r.value("family", ""), r.value("table", ""), r.value("chain", ""))];
      if (chain.name.empty()) {
        chain.family = r.value("family", "");
        chain.table = r.value("table", "");
        chain.name = r.value("chain", "");
      }
      chain.rules.push_back(&r);
    } else {
      for (const char* kind : {"set", "map"}) {
        if (auto sit = item.find(kind); sit != item.end()) {
          rs.sets[Key(sit->value("family", ""), sit->value("table", ""), sit->value("name", ""))] =
              &*sit;
        }
      }
    }
  }
  if (!listing.empty()) {
    ListingLines lines = ParseListing(listing);
    for (auto& [key, chain] : rs.chains) {
      auto by_chain = lines.by_chain.find(key);
      for (size_t i = 0; i < chain.rules.size(); ++i) {
        const json& rule = *chain.rules[i];
        if (rule.contains("handle") && rule["handle"].is_number_unsigned()) {
          auto h = lines.by_handle.find({key, rule["handle"].get<uint64_t>()});
          if (h != lines.by_handle.end()) {
            rs.listing_text[&rule] = h->second;
            continue;
          }
        }
        if (by_chain != lines.by_chain.end() && by_chain->second.size() == chain.rules.size()) {
          rs.listing_text[&rule] = by_chain->second[i];
        }
      }
    }
  }
  return rs;
}

// ------------------------------------------------------------------ rendering

std::string RenderValue(const json& v, bool quote);

std::string RenderLeft(const json& e) {
  if (!e.is_object() || e.empty()) return e.dump();
  const std::string kind = e.begin().key();
  const json& body = e.begin().value();
  if (kind == "payload" && body.contains("protocol")) {
    return fmt::format("{} {}", body.value("protocol", "?"), body.value("field", "?"));
  }
  if (kind == "meta") {
    std::string key = body.value("key", "?");
    static const std::set<std::string> kBare = {"iif",     "oif",  "iifname", "oifname", "iiftype",
                                                "oiftype", "mark", "skuid",   "skgid"};
    return kBare.count(key) ? (key == "mark" ? "meta mark" : key) : "meta " + key;
  }
  if (kind == "ct") {
    std::string out = "ct";
    if (body.contains("dir")) out += " " + body.value("dir", "");
    if (body.contains("family")) out += " " + body.value("family", "");
    return out + " " + body.value("key", "?");
  }
  if (kind == "fib") {
    std::string flags;
    for (const json& f : body.value("flags", json::array())) {
      flags += (flags.empty() ? "" : " . ") + f.get<std::string>();
    }
    return fmt::format("fib {} {}", flags, body.value("result", "?"));
  }
  if (kind == "concat" && body.is_array()) {
    std::string out;
    for (const json& part : body) out += (out.empty() ? "" : " . ") + RenderLeft(part);
    return out;
  }
  if (kind == "&" && body.is_array() && body.size() == 2) {
    return fmt::format("{} & {}", RenderLeft(body[0]), RenderValue(body[1], false));
  }
  return e.dump();
}

std::string RenderValue(const json& v, bool quote) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    return quote ? "\"" + s + "\"" : s;
  }
  if (v.is_number()) return v.dump();
  if (v.is_boolean()) return v.get<bool>() ? "exists" : "missing";
  if (v.is_array()) {
    std::string out;
    for (const json& x : v) out += (out.empty() ? "" : ",") + RenderValue(x, quote);
    return out;
  }
  if (v.is_object() && !v.empty()) {
    const std::string kind = v.begin().key();
    const json& body = v.begin().value();
    if (kind == "prefix") {
      return fmt::format("{}/{}", RenderValue(body.value("addr", json("?")), false),
                         body.value("len", 0));
    }
    if (kind == "range" && body.is_array() && body.size() == 2) {
      return RenderValue(body[0], quote) + "-" + RenderValue(body[1], quote);
    }
    if (kind == "set") {
      if (!body.is_array()) return RenderValue(body, quote);
      std::string out;
      for (const json& x : body) out += (out.empty() ? "" : ", ") + RenderValue(x, quote);
      return "{ " + out + " }";
    }
    if (kind == "concat" && body.is_array()) {
      std::string out;
      for (const json& x : body) out += (out.empty() ? "" : " . ") + RenderValue(x, quote);
      return out;
    }
    if (kind == "elem" && body.contains("val")) return RenderValue(body["val"], quote);
  }
  return v.dump();
}

std::string RenderVerdict(const json& v) {
  if (!v.is_object() || v.empty()) return v.dump();
  const std::string kind = v.begin().key();
  const json& body = v.begin().value();
  if (kind == "jump" || kind == "goto") return kind + " " + body.value("target", "?");
  if (body.is_null()) return kind;
  return v.dump();
}

bool QuotesValues(const json& left) {
  if (!left.is_object() || !left.contains("meta")) return false;
  std::string key = left["meta"].value("key", "");
  return key == "iifname" || key == "oifname" || key == "iif" || key == "oif";
}

std::string RenderExpression(const json& e) {
  if (!e.is_object() || e.empty()) return e.dump();
  const std::string kind = e.begin().key();
  const json& body = e.begin().value();
  if (kind == "match") {
    const json& left = body.contains("left") ? body["left"] : json();
    std::string op = body.value("op", "==");
    std::string right =
        RenderValue(body.contains("right") ? body["right"] : json(), QuotesValues(left));
    if (op == "==" || op == "in") return RenderLeft(left) + " " + right;
    return fmt::format("{} {} {}", RenderLeft(left), op, right);
  }
  if (kind == "counter" || kind == "accept" || kind == "drop" || kind == "return" ||
      kind == "continue" || kind == "notrack") {
    return kind;
  }
  if (kind == "jump" || kind == "goto") return kind + " " + body.value("target", "?");
  if (kind == "reject") {
    if (!body.is_object() || !body.contains("type")) return "reject";
    // nft's default (what `reject` alone means): port-unreachable
    if (body.contains("expr") && body["expr"] == "port-unreachable" &&
        body["type"] != "tcp reset") {
      return "reject";
    }
    std::string out = "reject with " + body.value("type", "");
    if (body.contains("expr")) out += " " + RenderValue(body["expr"], false);
    return out;
  }
  if (kind == "log") {
    if (body.is_object() && body.contains("prefix")) {
      return "log prefix \"" + body.value("prefix", "") + "\"";
    }
    return "log";
  }
  if (kind == "limit" && body.is_object()) {
    std::string out = fmt::format("limit rate {}{}/{}", body.value("inv", false) ? "over " : "",
                                  body.value("rate", 0), body.value("per", "second"));
    if (body.contains("burst")) out += fmt::format(" burst {} packets", body.value("burst", 0));
    return out;
  }
  if (kind == "masquerade" || kind == "redirect") {
    if (body.is_object() && body.contains("port")) {
      return fmt::format("{} to :{}", kind, RenderValue(body["port"], false));
    }
    return kind;
  }
  if ((kind == "snat" || kind == "dnat") && body.is_object()) {
    std::string to = body.contains("addr") ? RenderValue(body["addr"], false) : "";
    if (body.contains("port")) to += ":" + RenderValue(body["port"], false);
    return kind + " to " + to;
  }
  if (kind == "xt" && body.is_object()) {
    return fmt::format("xt {} {}", body.value("type", "?"), body.value("name", "?"));
  }
  if (kind == "vmap" && body.is_object()) {
    std::string data;
    const json& d = body.contains("data") ? body["data"] : json();
    if (d.is_object() && d.contains("set") && d["set"].is_array()) {
      for (const json& el : d["set"]) {
        if (el.is_array() && el.size() == 2) {
          data +=
              (data.empty() ? "" : ", ") + RenderValue(el[0], false) + " : " + RenderVerdict(el[1]);
        }
      }
      data = "{ " + data + " }";
    } else {
      data = RenderValue(d, false);
    }
    return fmt::format("{} vmap {}", RenderLeft(body.contains("key") ? body["key"] : json()), data);
  }
  if (kind == "mangle" && body.is_object()) {
    return fmt::format("{} set {}", RenderLeft(body.contains("key") ? body["key"] : json()),
                       RenderValue(body.contains("value") ? body["value"] : json(), false));
  }
  return e.dump();
}

// "counter packets 12 bytes 345" -> "counter" (the listing's text, without the numbers).
std::string StripCounters(std::string text) {
  const std::string needle = "counter packets ";
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos)) {
    size_t end = text.find(" bytes ", pos);
    if (end == std::string::npos) break;
    end += 7;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    text.replace(pos, end - pos, "counter");
    pos += 7;
  }
  return text;
}

// ------------------------------------------------------------------ evaluation

enum class ActionKind { kNone, kAccept, kDrop, kReturn, kJump, kGoto, kUnknownTerminal };

struct Action {
  ActionKind kind = ActionKind::kNone;
  std::string target;  // jump/goto
  bool reject = false;
  std::string what;  // for kUnknownTerminal
};

struct Hit {
  const Chain* chain = nullptr;
  const json* rule = nullptr;  // nullptr: the policy of `chain`
  std::string reason;          // an unknown match that guards it, or an unknown verdict
  bool unknown_verdict = false;
};

enum class EndKind { kAccept, kReturn, kDrop, kMaybe };

// What can happen when a chain is evaluated for the probe. The "default way" takes every
// match the evaluator cannot decide as not matching; other ways take some of them as matching.
struct Outcome {
  bool may_accept = false;
  bool may_return = false;  // some way falls off the end or returns (to the caller)
  bool may_drop = false;
  std::optional<Hit> first_drop;  // the first drop/reject in evaluation order, on any way
  EndKind default_end = EndKind::kReturn;
  std::optional<Hit> default_hit;  // for kDrop/kMaybe
  std::string first_reason;        // the first match or verdict that could not be evaluated
};

// A value of the probe, for one match's left side.
struct Field {
  enum Kind {
    kAbsent,
    kUnknown,
    kIface,
    kNumber,
    kAddr4,
    kAddr6,
    kSymbol,
    kCtState,
    kCtStatus
  } kind = kUnknown;
  std::string text;
  uint64_t number = 0;
  std::array<uint8_t, 16> addr6{};  // kAddr6
  std::vector<Field> parts;         // concatenations
  bool concat = false;
  std::string why;  // for kUnknown
};

Field Unknown(std::string why) {
  Field f;
  f.kind = Field::kUnknown;
  f.why = std::move(why);
  return f;
}
Field Absent() {
  Field f;
  f.kind = Field::kAbsent;
  return f;
}

class Evaluator {
 public:
  Evaluator(const Ruleset& rs, const RulesetProbe& probe) : rs_(rs), probe_(probe) {}

  Outcome EvalChain(const Chain& chain, int depth = 0);

 private:
  struct RuleResult {
    Tri match = Tri::kYes;
    std::string why;                               // first unknown part
    std::vector<std::pair<Tri, Action>> branches;  // vmap elements; else one entry
  };

  RuleResult EvalRule(const Chain& chain, const json& rule);
  Tri EvalMatch(const Chain& chain, const json& match, std::string& why);
  Field FieldOf(const json& left);
  Tri Compare(const Chain& chain, const Field& field, const json& right, std::string& why);
  Tri CompareOne(const Field& field, const json& right, std::string& why);
  std::optional<json> TranslateXt(const json& rule, const std::string& name);
  const json* LookupSet(const Chain& chain, const std::string& name);

  const Ruleset& rs_;
  const RulesetProbe& probe_;
  std::map<const Chain*, Outcome> memo_;
  std::set<const Chain*> active_;
};

bool IsTcpUdpLike(std::string_view proto) {
  return proto == "tcp" || proto == "udp" || proto == "udplite" || proto == "sctp" ||
         proto == "dccp";
}

Field Evaluator::FieldOf(const json& left) {
  if (!left.is_object() || left.empty()) return Unknown("an expression " + left.dump());
  const std::string kind = left.begin().key();
  const json& body = left.begin().value();
  const std::string& hook = probe_.hook;
  const bool ip4 = probe_.family == "ip";
  if (kind == "meta") {
    std::string key = body.value("key", "");
    if (key == "iifname" || key == "iif") {
      if (probe_.iifname.empty()) {
        if (hook == "output" || hook == "postrouting") return Absent();
        return Unknown(key + " (the probe has no input interface)");
      }
      Field f;
      f.kind = Field::kIface;
      f.text = probe_.iifname;
      return f;
    }
    if (key == "oifname" || key == "oif") {
      if (probe_.oifname.empty()) {
        if (hook == "prerouting" || hook == "input") return Absent();
        return Unknown(key + " (the probe has no output interface)");
      }
      Field f;
      f.kind = Field::kIface;
      f.text = probe_.oifname;
      return f;
    }
    if (key == "l4proto") {
      auto n = ProtocolNumber(probe_.protocol);
      if (!n) return Unknown("meta l4proto (protocol " + probe_.protocol + ")");
      Field f;
      f.kind = Field::kNumber;
      f.number = *n;
      f.text = "l4proto";
      return f;
    }
    if (key == "nfproto" || key == "protocol") {
      Field f;
      f.kind = Field::kSymbol;
      f.text = key == "nfproto" ? (ip4 ? "ipv4" : "ipv6") : (ip4 ? "ip" : "ip6");
      return f;
    }
    return Unknown("meta " + key);
  }
  if (kind == "payload") {
    if (!body.contains("protocol")) return Unknown("a raw payload match");
    std::string proto = body.value("protocol", "");
    std::string field = body.value("field", "");
    if (proto == "ip" || proto == "ip6") {
      if ((proto == "ip") != ip4) return Absent();  // the other family never matches
      if (field == "saddr" || field == "daddr") {
        const auto& addr = field == "saddr" ? probe_.saddr : probe_.daddr;
        if (!addr) return Unknown(proto + " " + field + " (the probe has no " + field + ")");
        if (!ip4) {
          auto value = ParseIpv6(*addr);
          if (!value) return Unknown(proto + " " + field + " (the probe's address is not IPv6)");
          Field f;
          f.kind = Field::kAddr6;
          f.addr6 = *value;
          return f;
        }
        auto value = ParseIpv4(*addr);
        if (!value) return Unknown(proto + " " + field + " (the probe's address is not IPv4)");
        Field f;
        f.kind = Field::kAddr4;
        f.number = *value;
        return f;
      }
      if (field == "hoplimit" && !ip4 && probe_.icmpv6_type && *probe_.icmpv6_type >= 133 &&
          *probe_.icmpv6_type <= 137) {
        Field f;  // RFC 4861: neighbour discovery is sent, and only accepted, with hop limit 255
        f.kind = Field::kNumber;
        f.number = 255;
        return f;
      }
      if (field == "protocol" || field == "nexthdr") {
        auto n = ProtocolNumber(probe_.protocol);
        if (!n) return Unknown(proto + " " + field);
        Field f;
        f.kind = Field::kNumber;
        f.number = *n;
        f.text = "l4proto";
        return f;
      }
      return Unknown(proto + " " + field);
    }
    if (proto == "tcp" || proto == "udp" || proto == "th" || proto == "sctp" ||
        proto == "udplite" || proto == "dccp") {
      if (proto == "th" ? !IsTcpUdpLike(probe_.protocol) : proto != probe_.protocol) {
        return Absent();  // nft's implicit `meta l4proto` dependency fails
      }
      if (field == "dport" || field == "sport") {
        const auto& port = field == "dport" ? probe_.dport : probe_.sport;
        if (!port) return Unknown(proto + " " + field + " (the probe has no " + field + ")");
        Field f;
        f.kind = Field::kNumber;
        f.number = *port;
        return f;
      }
      return Unknown(proto + " " + field);
    }
    if (proto == "icmp" || proto == "icmpv6") {
      std::string want = proto == "icmp" ? "icmp" : "icmpv6";
      if (probe_.protocol != want && !(want == "icmpv6" && probe_.protocol == "ipv6-icmp")) {
        return Absent();
      }
      if (want == "icmpv6" && field == "type" && probe_.icmpv6_type) {
        Field f;
        f.kind = Field::kNumber;
        f.number = *probe_.icmpv6_type;
        f.text = "icmpv6 type";
        return f;
      }
      return Unknown(proto + " " + field);
    }
    return Unknown(proto + " " + field);
  }
  if (kind == "ct") {
    if (body.contains("dir") || body.contains("family")) {
      return Unknown("ct " + body.value("key", ""));
    }
    std::string key = body.value("key", "");
    if (key == "state") {
      Field f;
      f.kind = Field::kCtState;
      f.text = probe_.ct_state;
      return f;
    }
    if (key == "status") {
      if (!probe_.ct_status_dnat)
        return Unknown("ct status (the probe does not say if it was DNATed)");
      Field f;
      f.kind = Field::kCtStatus;
      f.number = *probe_.ct_status_dnat ? 1 : 0;
      return f;
    }
    return Unknown("ct " + key);
  }
  if (kind == "fib") {
    json flags = body.value("flags", json::array());
    if (body.value("result", "") == "type" && flags == json::array({"daddr"})) {
      if (!probe_.fib_daddr_type) return Unknown("fib daddr type (the probe does not say)");
      Field f;
      f.kind = Field::kSymbol;
      f.text = *probe_.fib_daddr_type;
      return f;
    }
    // A reverse path filter: `fib saddr [. mark] . iif oif missing drop` (firewalld's IPv6).
    if (body.value("result", "") == "oif" && probe_.reverse_path_ok &&
        (flags == json::array({"saddr", "iif"}) ||
         flags == json::array({"saddr", "mark", "iif"}))) {
      Field f;
      f.kind = Field::kSymbol;
      f.text = *probe_.reverse_path_ok ? "exists" : "missing";
      return f;
    }
    return Unknown(RenderLeft(left));
  }
  if (kind == "concat" && body.is_array()) {
    Field f;
    f.concat = true;
    f.kind = Field::kSymbol;
    for (const json& part : body) {
      Field p = FieldOf(part);
      if (p.kind == Field::kAbsent) return Absent();
      if (p.kind == Field::kUnknown) return p;
      f.parts.push_back(std::move(p));
    }
    return f;
  }
  return Unknown(RenderLeft(left));
}

// Does the probe's value equal (or fall in) one right-hand value (no sets here)?
Tri Evaluator::CompareOne(const Field& field, const json& right, std::string& why) {
  auto unknown = [&](const std::string& what) {
    if (why.empty()) why = what;
    return Tri::kUnknown;
  };
  if (right.is_object() && right.contains("elem") && right["elem"].contains("val")) {
    return CompareOne(field, right["elem"]["val"], why);
  }
  if (field.concat) {
    if (!right.is_object() || !right.contains("concat") || !right["concat"].is_array() ||
        right["concat"].size() != field.parts.size()) {
      return unknown("a concatenation " + right.dump());
    }
    Tri all = Tri::kYes;
    for (size_t i = 0; i < field.parts.size(); ++i) {
      all = And(all, CompareOne(field.parts[i], right["concat"][i], why));
    }
    return all;
  }
  switch (field.kind) {
    case Field::kIface: {
      if (right.is_number()) return unknown("an interface index " + right.dump());
      if (!right.is_string()) return unknown("an interface match " + right.dump());
      std::string pattern = right.get<std::string>();
      if (!pattern.empty() && pattern.back() == '*' &&
          (pattern.size() < 2 || pattern[pattern.size() - 2] != '\\')) {
        return FromBool(StartsWith(field.text, pattern.substr(0, pattern.size() - 1)));
      }
      std::string literal;
      for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '\\' && i + 1 < pattern.size()) ++i;
        literal += pattern[i];
      }
      return FromBool(field.text == literal);
    }
    case Field::kNumber: {
      std::optional<uint64_t> lo, hi;
      auto number = [&](const json& v) -> std::optional<uint64_t> {
        if (v.is_number_unsigned()) return v.get<uint64_t>();
        if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<int64_t>();
        if (v.is_string()) {
          if (field.text == "l4proto") return ProtocolNumber(v.get<std::string>());
          if (field.text == "icmpv6 type") return Icmpv6TypeNumber(v.get<std::string>());
          return ParseNumber(v.get<std::string>());
        }
        return std::nullopt;
      };
      if (right.is_object() && right.contains("range") && right["range"].is_array() &&
          right["range"].size() == 2) {
        lo = number(right["range"][0]);
        hi = number(right["range"][1]);
      } else {
        lo = hi = number(right);
      }
      if (!lo || !hi) return unknown("a value " + right.dump());
      return FromBool(*lo <= field.number && field.number <= *hi);
    }
    case Field::kAddr4: {
      if (right.is_string()) {
        auto a = ParseIpv4(right.get<std::string>());
        if (!a) return unknown("an address " + right.dump());
        return FromBool(*a == field.number);
      }
      if (right.is_object() && right.contains("prefix")) {
        const json& p = right["prefix"];
        auto a = p.contains("addr") && p["addr"].is_string()
                     ? ParseIpv4(p["addr"].get<std::string>())
                     : std::nullopt;
        int len = p.value("len", -1);
        if (!a || len < 0 || len > 32) return unknown("a prefix " + right.dump());
        uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
        return FromBool((static_cast<uint32_t>(field.number) & mask) == (*a & mask));
      }
      if (right.is_object() && right.contains("range") && right["range"].is_array() &&
          right["range"].size() == 2 && right["range"][0].is_string() &&
          right["range"][1].is_string()) {
        auto lo = ParseIpv4(right["range"][0].get<std::string>());
        auto hi = ParseIpv4(right["range"][1].get<std::string>());
        if (!lo || !hi) return unknown("a range " + right.dump());
        return FromBool(*lo <= field.number && field.number <= *hi);
      }
      return unknown("an address match " + right.dump());
    }
    case Field::kAddr6: {
      if (right.is_string()) {
        auto a = ParseIpv6(right.get<std::string>());
        if (!a) return unknown("an address " + right.dump());
        return FromBool(*a == field.addr6);
      }
      if (right.is_object() && right.contains("prefix")) {
        const json& p = right["prefix"];
        auto a = p.contains("addr") && p["addr"].is_string()
                     ? ParseIpv6(p["addr"].get<std::string>())
                     : std::nullopt;
        int len = p.value("len", -1);
        if (!a || len < 0 || len > 128) return unknown("a prefix " + right.dump());
        return FromBool(SamePrefix6(field.addr6, *a, len));
      }
      if (right.is_object() && right.contains("range") && right["range"].is_array() &&
          right["range"].size() == 2 && right["range"][0].is_string() &&
          right["range"][1].is_string()) {
        auto lo = ParseIpv6(right["range"][0].get<std::string>());
        auto hi = ParseIpv6(right["range"][1].get<std::string>());
        if (!lo || !hi) return unknown("a range " + right.dump());
        return FromBool(*lo <= field.addr6 && field.addr6 <= *hi);
      }
      return unknown("an address match " + right.dump());
    }
    case Field::kSymbol:
      if (right.is_string()) return FromBool(right.get<std::string>() == field.text);
      if (right.is_boolean() && (field.text == "exists" || field.text == "missing"))
        return FromBool(right.get<bool>() == (field.text == "exists"));
      if (right.is_number()) {
        // nfproto as a number: 2 = ipv4, 10 = ipv6
        if (field.text == "ipv4") return FromBool(right.get<int>() == 2);
        if (field.text == "ipv6") return FromBool(right.get<int>() == 10);
      }
      return unknown("a value " + right.dump());
    case Field::kCtState:
      if (right.is_string()) return FromBool(right.get<std::string>() == field.text);
      return unknown("a ct state value " + right.dump());
    case Field::kCtStatus:
      if (right.is_string()) {
        if (right.get<std::string>() == "dnat") return FromBool(field.number == 1);
        return unknown("ct status " + right.get<std::string>());
      }
      return unknown("a ct status value " + right.dump());
    case Field::kAbsent:
      return Tri::kNo;
    case Field::kUnknown:
      break;
  }
  return unknown(field.why);
}

const json* Evaluator::LookupSet(const Chain& chain, const std::string& name) {
  auto it = rs_.sets.find(Key(chain.family, chain.table, name));
  return it == rs_.sets.end() ? nullptr : it->second;
}

// The probe's value against a right-hand side: a value, an anonymous set, a named set
// ("@name") or a list of flags.
Tri Evaluator::Compare(const Chain& chain, const Field& field, const json& right,
                       std::string& why) {
  auto any_of = [&](const json& elements) {
    Tri result = Tri::kNo;
    for (const json& el : elements) {
      result = Or(result, CompareOne(field, el, why));
      if (result == Tri::kYes) break;
    }
    return result;
  };
  if (right.is_string() && !right.get<std::string>().empty() &&
      right.get<std::string>()[0] == '@') {
    std::string name = right.get<std::string>().substr(1);
    const json* set = LookupSet(chain, name);
    if (set == nullptr) {
      if (why.empty()) why = "a set @" + name + " that the ruleset does not hold";
      return Tri::kUnknown;
    }
    json flags = set->value("flags", json::array());
    bool dynamic = std::find(flags.begin(), flags.end(), json("dynamic")) != flags.end() ||
                   set->contains("timeout");
    Tri found = set->contains("elem") ? any_of((*set)["elem"]) : Tri::kNo;
    if (dynamic && found == Tri::kNo) {
      if (why.empty()) why = "the dynamic set @" + name;
      return Tri::kUnknown;
    }
    return found;
  }
  if (right.is_object() && right.contains("set")) {
    const json& elements = right["set"];
    if (elements.is_array()) return any_of(elements);
    return CompareOne(field, elements, why);
  }
  if (right.is_array()) return any_of(right);  // flags: ct state established,related
  return CompareOne(field, right, why);
}

Tri Evaluator::EvalMatch(const Chain& chain, const json& match, std::string& why) {
  const json left = match.contains("left") ? match["left"] : json();
  const json right = match.contains("right") ? match["right"] : json();
  std::string op = match.value("op", "==");
  Field field = FieldOf(left);
  if (field.kind == Field::kAbsent) return Tri::kNo;  // the expression itself fails
  if (field.kind == Field::kUnknown) {
    if (why.empty()) why = field.why;
    return Tri::kUnknown;
  }
  if (op == "==" || op == "in") return Compare(chain, field, right, why);
  if (op == "!=") return Not(Compare(chain, field, right, why));
  if ((op == "<" || op == ">" || op == "<=" || op == ">=") && field.kind == Field::kNumber &&
      right.is_number()) {
    uint64_t r = right.get<uint64_t>();
    uint64_t v = field.number;
    if (op == "<") return FromBool(v < r);
    if (op == ">") return FromBool(v > r);
    if (op == "<=") return FromBool(v <= r);
    return FromBool(v >= r);
  }
  if (why.empty()) why = "the operator " + op + " in " + RenderExpression(json{{"match", match}});
  return Tri::kUnknown;
}

// The translation of an iptables xt match, from the rule's line of the text listing.
std::optional<json> Evaluator::TranslateXt(const json& rule, const std::string& name) {
  auto it = rs_.listing_text.find(&rule);
  if (it == rs_.listing_text.end()) return std::nullopt;
  const std::string& text = it->second;
  // The words after `prefix`: "!= a,b", "a,b", "{ a, b }".
  auto values_after = [&](const std::string& prefix) -> std::optional<std::pair<bool, json>> {
    size_t pos = text.find(prefix);
    if (pos == std::string::npos) return std::nullopt;
    if (text.find(prefix, pos + 1) != std::string::npos) return std::nullopt;  // twice: unsure
    std::string rest = text.substr(pos + prefix.size());
    bool negated = StartsWith(rest, "!= ");
    if (negated) rest = rest.substr(3);
    std::string list;
    if (StartsWith(rest, "{")) {
      size_t end = rest.find('}');
      if (end == std::string::npos) return std::nullopt;
      list = rest.substr(1, end - 1);
    } else {
      list = rest.substr(0, rest.find(' '));
    }
    json values = json::array();
    std::string item;
    std::istringstream items(list);
    while (std::getline(items, item, ',')) {
      item = Trim(item);
      if (item.empty()) continue;
      if (auto n = ParseNumber(item)) {
        values.push_back(*n);
      } else if (size_t dash = item.find('-'); dash != std::string::npos &&
                                               ParseNumber(item.substr(0, dash)) &&
                                               ParseNumber(item.substr(dash + 1))) {
        values.push_back(json{
            {"range", {*ParseNumber(item.substr(0, dash)), *ParseNumber(item.substr(dash + 1))}}});
      } else {
        values.push_back(item);
      }
    }
    if (values.empty()) return std::nullopt;
    return std::make_pair(negated, values);
  };
  auto match = [](const json& left, const std::pair<bool, json>& v) {
    return json{{"match", {{"op", v.first ? "!=" : "in"}, {"left", left}, {"right", v.second}}}};
  };
  if (name == "conntrack" || name == "state") {
    if (text.find("ct status") != std::string::npos ||
        text.find("ct direction") != std::string::npos ||
        text.find("ct original") != std::string::npos ||
        text.find("ct reply") != std::string::npos) {
      return std::nullopt;
    }
    auto v = values_after("ct state ");
    if (!v) return std::nullopt;
    return match(json{{"ct", {{"key", "state"}}}}, *v);
  }
  if (name == "addrtype") {
    if (text.find("fib saddr") != std::string::npos || text.find(". iif") != std::string::npos ||
        text.find(". oif") != std::string::npos) {
      return std::nullopt;
    }
    auto v = values_after("fib daddr type ");
    if (!v) return std::nullopt;
    return match(json{{"fib", {{"result", "type"}, {"flags", {"daddr"}}}}}, *v);
  }
  if (name == "multiport" || name == "tcp" || name == "udp") {
    if (text.find("flags") != std::string::npos || text.find("option") != std::string::npos) {
      return std::nullopt;
    }
    json all = json::array();
    for (const char* proto : {"tcp", "udp"}) {
      for (const char* f : {"dport", "sport"}) {
        auto v = values_after(fmt::format("{} {} ", proto, f));
        if (v) {
          all.push_back(match(json{{"payload", {{"protocol", proto}, {"field", f}}}}, *v));
        }
      }
    }
    if (all.empty()) return std::nullopt;
    return all;
  }
  if (name == "icmp6") {  // ip6tables -p ipv6-icmp --icmpv6-type T
    if (text.find("icmpv6 code") != std::string::npos) return std::nullopt;
    auto v = values_after("icmpv6 type ");
    if (!v) return std::nullopt;
    return match(json{{"payload", {{"protocol", "icmpv6"}, {"field", "type"}}}}, *v);
  }
  if (name == "hl") {  // ip6tables -m hl --hl-eq N
    auto v = values_after("ip6 hoplimit ");
    if (!v) return std::nullopt;
    return match(json{{"payload", {{"protocol", "ip6"}, {"field", "hoplimit"}}}}, *v);
  }
  if (name == "comment") return json::array();  // always matches
  return std::nullopt;
}

Evaluator::RuleResult Evaluator::EvalRule(const Chain& chain, const json& rule) {
  RuleResult result;
  Action action;
  auto note_unknown = [&](const std::string& what) {
    result.match = And(result.match, Tri::kUnknown);
    if (result.why.empty()) result.why = what;
  };
  auto eval_match = [&](const json& m) {
    std::string why;
    Tri t = EvalMatch(chain, m, why);
    if (t == Tri::kUnknown && result.why.empty()) result.why = why;
    result.match = And(result.match, t);
  };
  const json& expressions = rule.contains("expr") ? rule["expr"] : json::array();
  for (const json& e : expressions) {
    if (result.match == Tri::kNo) break;
    if (!e.is_object() || e.empty()) continue;
    const std::string kind = e.begin().key();
    const json& body = e.begin().value();
    if (kind == "match") {
      eval_match(body);
    } else if (kind == "counter" || kind == "log" || kind == "mangle" || kind == "notrack" ||
               kind == "set" || kind == "ct helper" || kind == "ct timeout" ||
               kind == "ct expectation" || kind == "secmark" || kind == "dup" || kind == "meter" ||
               kind == "continue") {
      // no effect on the verdict (a meter/set statement only records the packet)
    } else if (kind == "limit" || kind == "quota" || kind == "ct count" || kind == "flow" ||
               kind == "synproxy") {
      note_unknown(RenderExpression(e));
    } else if (kind == "accept" || kind == "masquerade" || kind == "snat" || kind == "dnat" ||
               kind == "redirect" || kind == "tproxy") {
      action.kind = ActionKind::kAccept;
      break;
    } else if (kind == "drop" || kind == "reject") {
      action.kind = ActionKind::kDrop;
      action.reject = kind == "reject";
      break;
    } else if (kind == "return") {
      action.kind = ActionKind::kReturn;
      break;
    } else if (kind == "jump" || kind == "goto") {
      action.kind = kind == "jump" ? ActionKind::kJump : ActionKind::kGoto;
      action.target = body.value("target", "");
      break;
    } else if (kind == "queue" || kind == "fwd") {
      action.kind = ActionKind::kUnknownTerminal;
      action.what = RenderExpression(e);
      break;
    } else if (kind == "xt" && body.is_object()) {
      std::string name = body.value("name", "");
      // ip6tables' extension-header matches (ufw's before6.rules drop `-m rt --rt-type 0`)
      // need that header, negated options included; the probes carry none.
      static const std::set<std::string> kExtensionHeader = {"rt", "frag", "hbh", "dst"};
      if (body.value("type", "") == "match") {
        if (kExtensionHeader.count(name)) {
          result.match = Tri::kNo;
        } else if (auto native = TranslateXt(rule, name)) {
          if (native->is_array()) {
            for (const json& m : *native) eval_match(m["match"]);
          } else {
            eval_match((*native)["match"]);
          }
        } else {
          note_unknown("iptables' xt match " + name);
        }
      } else {
        static const std::set<std::string> kNoEffect = {
            "LOG",     "NFLOG",    "ULOG",     "MARK",  "CONNMARK", "CT",
            "NOTRACK", "TCPMSS",   "CHECKSUM", "TOS",   "DSCP",     "TTL",
            "HL",      "CLASSIFY", "TRACE",    "AUDIT", "SECMARK",  "CONNSECMARK"};
        static const std::set<std::string> kNat = {"MASQUERADE", "SNAT",   "DNAT",
                                                   "REDIRECT",   "NETMAP", "ACCEPT"};
        if (kNoEffect.count(name)) continue;
        if (kNat.count(name)) {
          action.kind = ActionKind::kAccept;
        } else if (name == "REJECT" || name == "DROP") {
          action.kind = ActionKind::kDrop;
          action.reject = name == "REJECT";
        } else {
          action.kind = ActionKind::kUnknownTerminal;
          action.what = "iptables' xt target " + name;
        }
        break;
      }
    } else if (kind == "vmap" && body.is_object()) {
      // A verdict map: each element is its own way (at most one element matches).
      const json& key = body.contains("key") ? body["key"] : json();
      json data = body.contains("data") ? body["data"] : json();
      const json* elements = nullptr;
      if (data.is_string() && StartsWith(data.get<std::string>(), "@")) {
        const json* map = LookupSet(chain, data.get<std::string>().substr(1));
        if (map != nullptr && map->contains("elem")) elements = &(*map)["elem"];
      } else if (data.is_object() && data.contains("set") && data["set"].is_array()) {
        elements = &data["set"];
      }
      if (elements == nullptr) {
        action.kind = ActionKind::kUnknownTerminal;
        action.what = RenderExpression(e);
        break;
      }
      Field field = FieldOf(key);
      for (const json& el : *elements) {
        if (!el.is_array() || el.size() != 2) continue;
        Tri t;
        std::string why;
        if (field.kind == Field::kAbsent) {
          t = Tri::kNo;
        } else if (field.kind == Field::kUnknown) {
          t = Tri::kUnknown;
          why = field.why;
        } else {
          t = Compare(chain, field, json{{"set", json::array({el[0]})}}, why);
        }
        if (t == Tri::kUnknown && result.why.empty()) result.why = why;
        if (t == Tri::kNo) continue;
        Action a;
        const json& verdict = el[1];
        if (verdict.contains("accept")) {
          a.kind = ActionKind::kAccept;
        } else if (verdict.contains("drop")) {
          a.kind = ActionKind::kDrop;
        } else if (verdict.contains("return")) {
          a.kind = ActionKind::kReturn;
        } else if (verdict.contains("jump") || verdict.contains("goto")) {
          a.kind = verdict.contains("jump") ? ActionKind::kJump : ActionKind::kGoto;
          a.target = verdict.begin().value().value("target", "");
        } else if (verdict.contains("continue")) {
          continue;
        } else {
          a.kind = ActionKind::kUnknownTerminal;
          a.what = RenderVerdict(verdict);
        }
        result.branches.emplace_back(And(result.match, t), a);
      }
      return result;  // a vmap is the last expression with effect
    } else {
      note_unknown(RenderExpression(e));
    }
  }
  if (result.match != Tri::kNo && action.kind != ActionKind::kNone) {
    result.branches.emplace_back(result.match, action);
  }
  return result;
}

Outcome Evaluator::EvalChain(const Chain& chain, int depth) {
  if (auto it = memo_.find(&chain); it != memo_.end()) return it->second;
  Outcome out;
  if (depth > 64 || active_.count(&chain)) {  // nft forbids loops; be safe anyway
    out.may_accept = out.may_drop = out.may_return = true;
    out.first_reason = "a chain loop at " + chain.name;
    out.default_end = EndKind::kMaybe;
    out.first_drop = Hit{&chain, nullptr, out.first_reason, true};
    out.default_hit = out.first_drop;
    return out;
  }
  active_.insert(&chain);
  bool default_alive = true;  // the default way still runs through this chain
  auto note_reason = [&](const std::string& why) {
    if (out.first_reason.empty()) out.first_reason = why;
  };
  auto end_default = [&](EndKind kind, std::optional<Hit> hit) {
    if (!default_alive) return;
    out.default_end = kind;
    out.default_hit = std::move(hit);
    default_alive = false;
  };
  auto record_drop = [&](const Hit& hit) {
    out.may_drop = true;
    if (!out.first_drop) out.first_drop = hit;
  };
  bool reachable = true;
  for (const json* rule : chain.rules) {
    if (!reachable) break;
    RuleResult rr = EvalRule(chain, *rule);  // (an unsure rule without a verdict is harmless)
    for (const auto& [tri, action] : rr.branches) {
      if (!reachable) break;
      if (tri == Tri::kNo) continue;
      const bool sure = tri == Tri::kYes;
      std::string guard = sure ? "" : rr.why;
      if (!sure) note_reason(rr.why);
      Hit hit{&chain, rule, guard, false};
      switch (action.kind) {
        case ActionKind::kNone:
          break;
        case ActionKind::kAccept:
          out.may_accept = true;
          if (sure) {
            end_default(EndKind::kAccept, std::nullopt);
            reachable = false;
          }
          break;
        case ActionKind::kDrop:
          record_drop(hit);
          if (sure) {
            end_default(EndKind::kDrop, hit);
            reachable = false;
          }
          break;
        case ActionKind::kUnknownTerminal:
          hit.unknown_verdict = true;
          hit.reason = guard.empty() ? action.what : guard + "; " + action.what;
          note_reason(action.what);
          out.may_accept = true;
          record_drop(hit);
          if (sure) {
            end_default(EndKind::kMaybe, hit);
            reachable = false;
          }
          break;
        case ActionKind::kReturn:
          out.may_return = true;
          if (sure) {
            end_default(EndKind::kReturn, std::nullopt);
            reachable = false;
          }
          break;
        case ActionKind::kJump:
        case ActionKind::kGoto: {
          auto target = rs_.chains.find(Key(chain.family, chain.table, action.target));
          if (target == rs_.chains.end()) {
            Hit missing{&chain, rule, "a jump to a chain that the ruleset does not hold", true};
            note_reason(missing.reason);
            out.may_accept = true;
            record_drop(missing);
            if (sure) {
              end_default(EndKind::kMaybe, missing);
              reachable = false;
            }
            break;
          }
          Outcome sub = EvalChain(target->second, depth + 1);
          out.may_accept |= sub.may_accept;
          if (sub.may_drop) {
            out.may_drop = true;
            if (!out.first_drop && sub.first_drop) {
              out.first_drop = *sub.first_drop;
              if (!sure && out.first_drop->reason.empty()) out.first_drop->reason = rr.why;
            }
          }
          if (!sub.first_reason.empty()) note_reason(sub.first_reason);
          const bool is_goto = action.kind == ActionKind::kGoto;
          if (is_goto && sub.may_return) out.may_return = true;  // back to our caller
          if (sure) {
            if (is_goto || sub.default_end != EndKind::kReturn) {
              EndKind kind = sub.default_end;
              std::optional<Hit> sub_hit = sub.default_hit;
              end_default(kind, sub_hit);
            }
            // Every way goes into the target: only its returns (for a jump) come back.
            if (is_goto || !sub.may_return) reachable = false;
          }
          break;
        }
      }
    }
  }
  if (reachable) {
    out.may_return = true;
    end_default(EndKind::kReturn, std::nullopt);
  }
  active_.erase(&chain);
  memo_[&chain] = out;
  return out;
}

// ------------------------------------------------------------------ findings and fixes

std::string ProbeMatchesNft(const RulesetProbe& p) {
  std::vector<std::string> parts;
  if (!p.iifname.empty()) parts.push_back(fmt::format("iifname \"{}\"", p.iifname));
  if (!p.oifname.empty()) parts.push_back(fmt::format("oifname \"{}\"", p.oifname));
  if (p.daddr)
    parts.push_back(fmt::format("{} daddr {}", p.family == "ip6" ? "ip6" : "ip", *p.daddr));
  if (p.dport && (p.protocol == "tcp" || p.protocol == "udp")) {
    parts.push_back(fmt::format("{} dport {}", p.protocol, *p.dport));
  } else if (p.protocol == "icmpv6" && p.icmpv6_type) {
    parts.push_back(fmt::format("icmpv6 type {}", *p.icmpv6_type));
  } else if (!p.protocol.empty()) {
    parts.push_back(fmt::format("meta l4proto {}", p.protocol));
  }
  if (p.ct_status_dnat && *p.ct_status_dnat) parts.push_back("ct status dnat");
  std::string out;
  for (const auto& s : parts) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string ProbeMatchesIptables(const RulesetProbe& p) {
  std::vector<std::string> parts;
  if (!p.iifname.empty()) parts.push_back("-i " + p.iifname);
  if (!p.oifname.empty()) parts.push_back("-o " + p.oifname);
  if (p.daddr) parts.push_back("-d " + *p.daddr);
  if (!p.protocol.empty()) parts.push_back("-p " + p.protocol);
  if (p.dport && (p.protocol == "tcp" || p.protocol == "udp")) {
    parts.push_back(fmt::format("--dport {}", *p.dport));
  } else if (p.protocol == "icmpv6" && p.icmpv6_type) {
    parts.push_back(fmt::format("--icmpv6-type {}", *p.icmpv6_type));
  }
  if (p.ct_status_dnat && *p.ct_status_dnat) parts.push_back("-m conntrack --ctstate DNAT");
  std::string out;
  for (const auto& s : parts) out += (out.empty() ? "" : " ") + s;
  return out;
}

bool TableHasChain(const Ruleset& rs, const Chain& base, std::string_view prefix) {
  for (const auto& [key, chain] : rs.chains) {
    if (chain.family == base.family && chain.table == base.table &&
        StartsWith(chain.name, prefix)) {
      return true;
    }
  }
  return false;
}

std::string SuggestFix(const Ruleset& rs, const RulesetProbe& p, const Chain& base,
                       const Hit& hit) {
  std::string nft = ProbeMatchesNft(p);
  std::string ipt = ProbeMatchesIptables(p);
  const Chain& chain = *hit.chain;
  std::string fix;
  if (base.table == "firewalld") {
    std::string iface = !p.iifname.empty() ? p.iifname : p.oifname;
    if (p.hook == "input") {
      fix = fmt::format(
          "firewalld: put {} into a zone of its own (as libvirt's `libvirt` zone) that allows "
          "this service, e.g. `firewall-cmd --zone=Z --add-interface={}` and "
          "`firewall-cmd --zone=Z --add-service={}` (runtime and --permanent)",
          iface, iface, p.family == "ip6" ? "dhcpv6|dns" : "dhcp|dns");
    } else {
      fix = fmt::format(
          "firewalld: put {} into a zone (or a policy) that forwards this traffic, e.g. "
          "`firewall-cmd --zone=Z --add-interface={}` with a zone whose target or policy accepts "
          "it (runtime and --permanent); firewalld passes DNATed connections by itself "
          "(`ct status dnat accept`)",
          iface, iface);
    }
  } else if (base.family != "inet" && base.table == "filter" && p.hook == "forward" &&
             TableHasChain(rs, base, "DOCKER-USER")) {
    fix = fmt::format(
        "Docker: accept this traffic on top of DOCKER-USER (Docker's place for an admin's "
        "rules; keep Docker's policy): `{} -I DOCKER-USER {} -j ACCEPT`",
        base.family == "ip6" ? "ip6tables" : "iptables", ipt);
  } else if (base.family == "ip6" && base.table == "filter" && p.hook == "forward" &&
             TableHasChain(rs, base, "DOCKER")) {
    // Docker 20.10 with --ip6tables: policy DROP in ip6tables, and no DOCKER-USER there.
    fix = fmt::format(
        "Docker: accept this traffic on top of ip6tables' FORWARD (this Docker makes no "
        "DOCKER-USER in ip6tables; `virtnat apply` adds its bridges' accepts there): "
        "`ip6tables -I FORWARD {} -j ACCEPT`",
        ipt);
  } else if (base.family != "inet" && base.table == "filter" && TableHasChain(rs, base, "ufw")) {
    if (p.hook == "forward") {
      fix = fmt::format("ufw: `ufw route allow in on {} out on {}{}{}`", p.iifname, p.oifname,
                        p.daddr ? " to " + *p.daddr : std::string(),
                        p.dport ? fmt::format(" port {} proto {}", *p.dport, p.protocol) : "");
    } else {
      fix =
          fmt::format("ufw: `ufw allow in on {}{}`", p.iifname.empty() ? "IFACE" : p.iifname,
                      p.dport ? fmt::format(" to any port {} proto {}", *p.dport, p.protocol) : "");
    }
  } else if (base.table == "libvirt_network" &&
             (chain.name == "guest_input" || chain.name == "guest_output")) {
    fix = fmt::format(
        "libvirt: an accept for this traffic before libvirt's reject (virtnat's shim): "
        "`nft insert rule {} libvirt_network {} {} accept`",
        chain.family, chain.name, nft);
  } else if (hit.rule == nullptr) {
    fix = fmt::format(
        "the policy of {} {} {} drops it: add an accept for this traffic in that chain, e.g. "
        "`nft insert rule {} {} {} {} accept`, or ask the owner of table {} {}",
        base.family, base.table, base.name, base.family, base.table, base.name, nft, base.family,
        base.table);
  } else {
    std::string position;
    if (hit.rule->contains("handle")) position = " position " + (*hit.rule)["handle"].dump();
    fix = fmt::format(
        "accept this traffic before that rule, e.g. `nft insert rule {} {} {}{} {} accept`, or "
        "narrow or remove the rule (ask the owner of table {} {})",
        chain.family, chain.table, chain.name, position, nft, chain.family, chain.table);
  }
  return fix;
}

bool FamilyApplies(const std::string& table_family, const std::string& probe_family) {
  if (table_family == "inet") return true;
  return table_family == probe_family;
}

}  // namespace

const char* ProbeVerdictName(ProbeVerdict verdict) {
  switch (verdict) {
    case ProbeVerdict::kPasses:
      return "passes";
    case ProbeVerdict::kMayBlock:
      return "may_block";
    case ProbeVerdict::kBlocked:
      return "blocked";
  }
  return "?";
}

std::string RenderRuleExpressions(const json& expressions) {
  std::string out;
  if (!expressions.is_array()) return expressions.dump();
  for (const json& e : expressions) out += (out.empty() ? "" : " ") + RenderExpression(e);
  return out;
}

std::vector<RulesetProbeResult> DiagnoseRuleset(const json& ruleset,
                                                const std::vector<RulesetProbe>& probes,
                                                const RulesetDoctorOptions& options) {
  Ruleset rs = LoadRuleset(ruleset, options.nft_listing);
  std::vector<RulesetProbeResult> results;
  for (const RulesetProbe& probe : probes) {
    RulesetProbeResult result;
    result.probe = probe.label;
    std::vector<const Chain*> bases;
    for (const auto& [key, chain] : rs.chains) {
      if (!chain.base || chain.hook != probe.hook) continue;
      if (!FamilyApplies(chain.family, probe.family)) continue;
      if (!options.own_table.empty() && chain.table == options.own_table &&
          chain.family == options.own_family) {
        continue;
      }
      if (chain.type == "nat" && probe.ct_state != "new") continue;  // first packet only
      bases.push_back(&chain);
    }
    std::stable_sort(bases.begin(), bases.end(), [](const Chain* a, const Chain* b) {
      if (a->priority != b->priority) return a->priority < b->priority;
      return std::tie(a->family, a->table, a->name) < std::tie(b->family, b->table, b->name);
    });
    Evaluator evaluator(rs, probe);
    for (const Chain* base : bases) {
      result.traversed.push_back(fmt::format("{} {} {}", base->family, base->table, base->name));
      Outcome o = evaluator.EvalChain(*base);
      const bool policy_drops = base->policy == "drop";
      bool may_drop = o.may_drop;
      bool may_pass = o.may_accept;
      std::optional<Hit> first = o.first_drop;
      Hit policy_hit{base, nullptr, "", false};
      if (o.may_return) {
        if (policy_drops) {
          may_drop = true;
          if (!first) first = policy_hit;
        } else {
          may_pass = true;
        }
      }
      if (!may_drop) continue;
      RulesetFinding f;
      f.probe = probe.label;
      f.family = base->family;
      f.table = base->table;
      f.base_chain = base->name;
      f.hook = base->hook;
      f.priority = base->priority;
      Hit hit;
      if (!may_pass) {
        f.verdict = ProbeVerdict::kBlocked;
        if (o.default_end == EndKind::kDrop && o.default_hit) {
          hit = *o.default_hit;
        } else if (o.default_end == EndKind::kReturn) {
          hit = policy_hit;
        } else {
          hit = *first;
        }
      } else {
        f.verdict = ProbeVerdict::kMayBlock;
        hit = *first;
        f.reason = hit.reason.empty() ? o.first_reason : hit.reason;
      }
      f.chain = hit.chain->name;
      if (hit.rule == nullptr) {
        f.rule = fmt::format("policy {}", hit.chain->policy);
      } else {
        if (hit.rule->contains("handle") && (*hit.rule)["handle"].is_number_unsigned()) {
          f.handle = (*hit.rule)["handle"].get<uint64_t>();
        }
        auto text = rs.listing_text.find(hit.rule);
        f.rule = text != rs.listing_text.end()
                     ? StripCounters(text->second)
                     : RenderRuleExpressions(hit.rule->contains("expr") ? (*hit.rule)["expr"]
                                                                        : json::array());
      }
      f.fix = SuggestFix(rs, probe, *base, hit);
      if (f.verdict == ProbeVerdict::kMayBlock) {
        f.fix = fmt::format("check it by hand (virtnat cannot evaluate {}); if it does block: {}",
                            f.reason.empty() ? "a part of it" : f.reason, f.fix);
      }
      if (f.verdict == ProbeVerdict::kBlocked) {
        result.verdict = ProbeVerdict::kBlocked;
      } else if (result.verdict == ProbeVerdict::kPasses) {
        result.verdict = ProbeVerdict::kMayBlock;
      }
      result.findings.push_back(std::move(f));
    }
    results.push_back(std::move(result));
  }
  return results;
}

std::vector<RulesetFinding> RulesetFindings(const json& ruleset,
                                            const std::vector<RulesetProbe>& probes,
                                            const RulesetDoctorOptions& options) {
  std::vector<RulesetFinding> all;
  for (auto& result : DiagnoseRuleset(ruleset, probes, options)) {
    for (auto& f : result.findings) all.push_back(std::move(f));
  }
  return all;
}

std::string FormatFinding(const RulesetFinding& f) {
  std::string where = fmt::format("{} {} {}", f.family, f.table, f.chain);
  if (f.chain != f.base_chain) where += fmt::format(" (from {} {})", f.base_chain, f.hook);
  std::string rule = f.handle ? fmt::format("rule handle {}: {}", *f.handle, f.rule) : f.rule;
  std::string reason = f.reason.empty() ? "" : fmt::format(" (cannot evaluate: {})", f.reason);
  return fmt::format("{}: {}: {}: {}{}; fix: {}", ProbeVerdictName(f.verdict), f.probe, where, rule,
                     reason, f.fix);
}

}  // namespace virtnat
