#include "config/forward_spec.h"

#include <fmt/format.h>

#include "base/errors.h"
#include "config/toml_text.h"
#include "config/validate.h"
#include "model/net.h"

namespace virtnat {

ForwardSpec ParseForwardSpec(const std::string& target, const std::string& public_port) {
  ForwardSpec spec;
  auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw BadInput(
        fmt::format("virtnat: '{}' is not HOST:PORT[-PORT] (for example lxdev01:22)", target));
  std::string host = target.substr(0, colon);
  spec.to_port = target.substr(colon + 1);
  // An IPv6 address is written in brackets, as in URLs: its own colons are no port's.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    std::string address = host.substr(1, host.size() - 2);
    if (!Ipv6Address::Parse(address))
      throw BadInput(fmt::format("virtnat: '{}' is not an IPv6 address", address));
    spec.address = address;
  } else if (Ipv4Address::Parse(host)) {
    spec.address = host;
  } else if (host.find(':') != std::string::npos) {
    throw BadInput(
        fmt::format("virtnat: '{}': write an IPv6 address in brackets, like "
                    "[fd00:77::29]:22",
                    target));
  } else if (IsValidHostName(host) && host.find('.') == std::string::npos) {
    spec.host = host;
  } else {
    throw BadInput(fmt::format(
        "virtnat: '{}' is not a host name, an IPv4 address or an [IPv6] address", host));
  }
  auto guest = ParsePortRange(spec.to_port);
  if (!guest)
    throw BadInput(fmt::format("virtnat: guest port '{}' is not a port or range within 1-65535",
                               spec.to_port));
  auto published = ParsePortRange(public_port);
  if (!published)
    throw BadInput(fmt::format("virtnat: public port '{}' is not a port or range within 1-65535",
                               public_port));
  if (guest->Size() != published->Size())
    throw BadInput(
        fmt::format("virtnat: public ports {} ({}) and guest ports {} ({}) differ in "
                    "length",
                    public_port, published->Size(), spec.to_port, guest->Size()));
  spec.port = public_port;
  return spec;
}

std::string ForwardSpecToToml(const ForwardSpec& spec) {
  std::string out = "[[forward]]\n";
  if (!spec.host.empty())
    out += "host = " + TomlQuoted(spec.host) + "\n";
  else
    out += "address = " + TomlQuoted(spec.address) + "\n";
  out += "protocol = " + TomlQuoted(spec.protocol) + "\n";
  out += "port = " + TomlQuoted(spec.port) + "\n";
  out += "to_port = " + TomlQuoted(spec.to_port) + "\n";
  if (spec.listen) out += "listen = " + TomlQuoted(*spec.listen) + "\n";
  if (!spec.sources.empty()) {
    out += "source = [";
    for (std::size_t i = 0; i < spec.sources.size(); ++i)
      out += (i ? ", " : "") + TomlQuoted(spec.sources[i]);
    out += "]\n";
  }
  if (!spec.description.empty()) out += "description = " + TomlQuoted(spec.description) + "\n";
  return out;
}

std::string RemoveTomlTableAt(const std::string& text, int line) {
  std::string out;
  int number = 0;
  bool removing = false;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    std::size_t next = end == std::string::npos ? text.size() : end + 1;
    std::string_view current(text.data() + start, next - start);
    ++number;
    auto first = current.find_first_not_of(" \t");
    bool header = first != std::string_view::npos && current[first] == '[';
    if (number == line)
      removing = true;
    else if (removing && header)
      removing = false;
    if (!removing) out.append(current);
    start = next;
  }
  // Collapse the blank lines a removal leaves behind.
  std::string collapsed;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\n' && collapsed.size() >= 2 && collapsed.back() == '\n' &&
        collapsed[collapsed.size() - 2] == '\n')
      continue;
    collapsed += out[i];
  }
  return collapsed;
}

}  // namespace virtnat
