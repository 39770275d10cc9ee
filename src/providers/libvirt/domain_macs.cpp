#include "providers/libvirt/domain_macs.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "base/errors.h"
#include "model/net.h"

namespace virtnat {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool IsNameChar(char c) {
  return c != '>' && c != '/' && c != '=' && !IsSpace(c) && c != '<' && c != '"' && c != '\'';
}

}  // namespace

std::set<std::string> ScanDomainMacs(const std::string& xml, const std::string& source_name) {
  std::string_view text = xml;
  std::size_t at = 0;
  auto fail = [&](const char* what) {
    int line = 1 + static_cast<int>(std::count(
                       xml.begin(),
                       xml.begin() + static_cast<std::ptrdiff_t>(std::min(at, xml.size())), '\n'));
    throw BadInput(source_name + ":" + std::to_string(line) + ": domain XML: " + what);
  };
  // Skips to the end of `close` from `at`; fails when it never comes.
  auto skip_past = [&](std::string_view close, const char* what) {
    auto end = text.find(close, at);
    if (end == std::string_view::npos) fail(what);
    at = end + close.size();
  };
  std::vector<std::string_view> open;  // the elements we are inside, outermost first
  bool seen_root = false, mac_taken = false;
  std::set<std::string> macs;
  while (true) {
    auto lt = text.find('<', at);
    if (lt == std::string_view::npos) break;
    at = lt;
    std::string_view rest = text.substr(at);
    if (rest.starts_with("<!--")) {
      skip_past("-->", "unterminated comment");
      continue;
    }
    if (rest.starts_with("<![CDATA[")) {
      skip_past("]]>", "unterminated CDATA section");
      continue;
    }
    if (rest.starts_with("<?")) {
      skip_past("?>", "unterminated processing instruction");
      continue;
    }
    if (rest.starts_with("<!")) {
      skip_past(">", "unterminated declaration");
      continue;
    }
    bool closing = rest.starts_with("</");
    std::size_t name_start = at + (closing ? 2 : 1);
    std::size_t name_end = name_start;
    while (name_end < text.size() && IsNameChar(text[name_end])) ++name_end;
    std::string_view name = text.substr(name_start, name_end - name_start);
    if (name.empty()) fail("malformed tag");
    at = name_end;
    if (closing) {
      while (at < text.size() && IsSpace(text[at])) ++at;
      if (at >= text.size() || text[at] != '>') fail("malformed end tag");
      ++at;
      if (open.empty() || open.back() != name) fail("mismatched end tag");
      open.pop_back();
      continue;
    }
    if (open.empty()) {
      if (seen_root) fail("more than one root element");
      seen_root = true;
      if (name != "domain") fail("no <domain> element");
    }
    // Attributes, up to '>' or '/>'.
    std::string address;
    bool self_closing = false;
    while (true) {
      while (at < text.size() && IsSpace(text[at])) ++at;
      if (at >= text.size()) fail("unterminated tag");
      if (text[at] == '>') {
        ++at;
        break;
      }
      if (text.substr(at).starts_with("/>")) {
        at += 2;
        self_closing = true;
        break;
      }
      std::size_t key_start = at;
      while (at < text.size() && IsNameChar(text[at])) ++at;
      std::string_view key = text.substr(key_start, at - key_start);
      while (at < text.size() && IsSpace(text[at])) ++at;
      if (key.empty() || at >= text.size() || text[at] != '=') fail("malformed attribute");
      ++at;
      while (at < text.size() && IsSpace(text[at])) ++at;
      if (at >= text.size() || (text[at] != '"' && text[at] != '\'')) fail("malformed attribute");
      char quote = text[at++];
      auto end = text.find(quote, at);
      if (end == std::string_view::npos) fail("unterminated attribute value");
      if (key == "address") address = std::string(text.substr(at, end - at));
      at = end + 1;
    }
    // domain > devices > interface > mac: the first <mac> of each interface counts.
    if (open.size() == 2 && name == "interface" && open[1] == "devices") mac_taken = false;
    if (open.size() == 3 && name == "mac" && open[1] == "devices" && open[2] == "interface" &&
        !mac_taken) {
      mac_taken = true;
      if (auto mac = MacAddress::Parse(address)) macs.insert(mac->ToString());
    }
    if (!self_closing) open.push_back(name);
  }
  at = xml.size();
  if (!open.empty()) fail("unterminated element");
  if (!seen_root) fail("no <domain> element");
  return macs;
}

}  // namespace virtnat
