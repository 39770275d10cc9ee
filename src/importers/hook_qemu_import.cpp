#include "importers/hook_qemu_import.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/errors.h"
#include "config/forward_spec.h"
#include "config/toml_text.h"
#include "config/validate.h"
#include "model/net.h"

namespace virtnat {
namespace {

// Keeps the file's key order, so forwards come out in the order the domains were written.
using Json = nlohmann::ordered_json;

constexpr std::array<const char*, 2> kProtocols = {"tcp", "udp"};

// One hooks.json object (or one machine of config.json): the forwards of one address.
struct Entry {
  std::string domain;
  std::string label;  // "domain NAME", or "domain NAME[i]" inside a list
  std::string private_ip;
  std::optional<std::string> listen;  // nullopt: settings.public_address
  std::vector<std::string> sources;
  bool usable = true;     // false once something that must not be widened failed
  bool listen_ok = true;  // false while the listen address in force is unusable
  // Per protocol (index into kProtocols): public port -> guest port.
  std::array<std::map<std::uint16_t, std::uint16_t>, 2> ports;
};

std::string Shown(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string TypeName(const Json& value) {
  return std::string(value.type_name());
}

// A port written as a JSON integer or as a decimal string (the fork wrote "2222").
std::optional<std::uint16_t> ReadPort(const Json& value) {
  std::int64_t number = 0;
  if (value.is_number_unsigned()) {
    if (value.get<std::uint64_t>() > 65535) return std::nullopt;
    number = static_cast<std::int64_t>(value.get<std::uint64_t>());
  } else if (value.is_number_integer()) {
    number = value.get<std::int64_t>();
  } else if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.find('-') != std::string::npos) return std::nullopt;
    auto range = ParsePortRange(text);
    if (!range) return std::nullopt;
    number = range->first;
  } else {
    return std::nullopt;
  }
  if (number < 1 || number > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(number);
}

// An address of either family: the hook's IPv6 proposal (libvirt-hook-qemu #37, PR #39) wrote
// IPv6 addresses in the same keys.
bool IsAddress(const Json& value) {
  if (!value.is_string()) return false;
  const auto& text = value.get_ref<const std::string&>();
  return Ipv4Address::Parse(text) || Ipv6Address::Parse(text);
}

bool IsIpv6(const std::string& address) {
  return Ipv6Address::Parse(address).has_value();
}

int ProtocolIndex(const std::string& name) {
  for (std::size_t i = 0; i < kProtocols.size(); ++i)
    if (name == kProtocols[i]) return static_cast<int>(i);
  return -1;
}

class HookImporter {
 public:
  explicit HookImporter(std::string file) : file_(std::move(file)) {}

  void ReadHooksJson(const Json& root) {
    format_ = "hooks.json";
    for (const auto& [domain, value] : root.items()) {
      std::string label = "domain " + domain;
      if (value.is_object()) {
        ReadEntry(domain, label, value);
      } else if (value.is_array()) {
        if (value.empty()) Problem(label, "empty list; nothing to forward");
        for (std::size_t i = 0; i < value.size(); ++i) {
          std::string item_label = fmt::format("{}[{}]", label, i);
          if (!value[i].is_object())
            WrongShape(fmt::format("{}: must be an object with private_ip and port_map, not {}",
                                   item_label, TypeName(value[i])));
          ReadEntry(domain, item_label, value[i]);
        }
      } else {
        WrongShape(
            fmt::format("{}: must be an object with private_ip and port_map (or a list "
                        "of such objects), not {}",
                        label, TypeName(value)));
      }
    }
  }

  void ReadForkConfig(const Json& root) {
    format_ = "config.json";
    const Json* machines = nullptr;
    for (const auto& [key, value] : root.items()) {
      if (key == "machines") {
        machines = &value;
      } else if (key == "public_ip") {
        if (IsAddress(value)) {
          default_listen_ = value.get<std::string>();
        } else {
          default_listen_ok_ = false;
          Problem("public_ip", fmt::format("'{}' is not an IP address; machines without a "
                                           "public_ip of their own are not imported",
                                           Shown(value)));
        }
      } else if (key == "networks") {
        ReportForkNetworks(value);
      } else if (key == "debug") {
        Problem("debug", "not imported; it only switched the old hook's logging");
      } else {
        Problem(key, "unknown key; not imported");
      }
    }
    for (const auto& [name, value] : machines->items()) {
      std::string label = "domain " + name;
      if (!value.is_object())
        WrongShape(
            fmt::format("machines.{}: must be an object with private_ip and port_map, "
                        "not {}",
                        name, TypeName(value)));
      ReadEntry(name, label, value);
    }
  }

  ImportResult Finish() const {
    ImportResult result;
    result.problems = problems_;
    result.forwards = forward_count_;
    std::string header = fmt::format(
        "# Forwards imported from {} (libvirt-hook-qemu {}) by\n"
        "# `virtnat import libvirt-hook-qemu`: {} forward{}.\n",
        PrintableLine(file_), format_, forward_count_, forward_count_ == 1 ? "" : "s");
    header +=
        "# A forward without 'listen' listens on settings.public_address (the hook used the\n"
        "# address of the default route). Each guest address should lie in a [[network]].\n";
    if (any_ipv6_)
      header +=
          "# A forward to an IPv6 guest without 'listen' listens on settings.public_address6.\n";
    if (problems_.empty()) {
      header += "# Everything in the file was imported.\n";
    } else {
      header += "#\n# Not imported (fix by hand where still needed):\n";
      for (const auto& problem : problems_) header += "#   " + problem + "\n";
    }
    result.toml = header + forwards_toml_;
    return result;
  }

 private:
  void Problem(const std::string& where, const std::string& what) {
    problems_.push_back(PrintableLine(fmt::format("{}: {}: {}", file_, where, what)));
  }

  [[noreturn]] void WrongShape(const std::string& what) const {
    throw BadInput(PrintableLine(fmt::format("{}: {}", file_, what)));
  }

  void ReportForkNetworks(const Json& networks) {
    if (!networks.is_object()) {
      Problem("networks", fmt::format("must be an object of name -> subnet, not {}; not imported",
                                      TypeName(networks)));
      return;
    }
    for (const auto& [name, subnet] : networks.items())
      Problem("networks." + name,
              fmt::format("'{}' not imported: the fork accepted all forwarded traffic to this "
                          "subnet, virtnat accepts only its forwards; declare a [[network]] for "
                          "it if virtnat should serve it",
                          Shown(subnet)));
  }

  void ReadEntry(const std::string& domain, const std::string& label, const Json& object) {
    Entry entry;
    entry.domain = domain;
    entry.label = label;
    if (format_ == "config.json") {
      entry.listen = default_listen_;
      entry.listen_ok = default_listen_ok_;
    }
    bool has_ports = false;
    for (const auto& [key, value] : object.items()) {
      if (key == "private_ip") {
        if (IsAddress(value)) {
          entry.private_ip = value.get<std::string>();
        } else {
          entry.usable = false;
          Problem(label, fmt::format("private_ip: '{}' is not an IP address; the forwards "
                                     "of this entry are not imported",
                                     Shown(value)));
        }
      } else if (key == "public_ip") {
        if (IsAddress(value)) {
          entry.listen = value.get<std::string>();
          entry.listen_ok = true;
        } else {
          entry.listen_ok = false;
          Problem(label, fmt::format("public_ip: '{}' is not an IP address; the forwards of "
                                     "this entry are not imported",
                                     Shown(value)));
        }
      } else if (key == "source_ip") {
        ReadSources(value, entry);
      } else if (key == "interface") {
        Problem(label, fmt::format("interface: '{}' not carried over: virtnat forwards name no "
                                   "interface; the guest is reached through whichever bridge "
                                   "holds its address",
                                   Shown(value)));
      } else if (key == "port_map") {
        has_ports = true;
        ReadPortMap(value, entry);
      } else if (key == "port_range") {
        has_ports = true;
        ReadPortRanges(value, entry);
      } else {
        Problem(label, fmt::format("{}: unknown key; not imported", key));
      }
    }
    if (!object.contains("private_ip")) {
      entry.usable = false;
      Problem(label, "private_ip: missing; the forwards of this entry are not imported");
    }
    if (!has_ports) Problem(label, "no port_map or port_range; nothing to forward");
    // virtnat translates no address family into the other (no NAT46 or NAT64).
    if (entry.usable && entry.listen_ok && entry.listen && !entry.private_ip.empty() &&
        IsIpv6(*entry.listen) != IsIpv6(entry.private_ip)) {
      entry.usable = false;
      Problem(label, fmt::format("public_ip '{}' and private_ip '{}' are of different address "
                                 "families, which virtnat does not translate; the forwards of "
                                 "this entry are not imported",
                                 *entry.listen, entry.private_ip));
    }
    if (entry.usable && entry.listen_ok) Emit(entry);
  }

  // A restriction that cannot be expressed drops the entry: importing it without the
  // restriction would open the ports to everybody.
  void ReadSources(const Json& value, Entry& entry) {
    if (!value.is_string()) {
      entry.usable = false;
      Problem(entry.label, fmt::format("source_ip: must be a string, not {}; the forwards of "
                                       "this entry are not imported",
                                       TypeName(value)));
      return;
    }
    const auto& text = value.get_ref<const std::string&>();
    std::size_t start = 0;
    while (start <= text.size()) {
      auto comma = text.find(',', start);
      std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
      auto first = item.find_first_not_of(" \t");
      auto last = item.find_last_not_of(" \t");
      item = first == std::string::npos ? "" : item.substr(first, last - first + 1);
      // Each family's sources apply to that family (a forward to an IPv6 guest with only
      // IPv4 sources stays closed, never open).
      if (Ipv4Prefix::Parse(item) || Ipv6Prefix::Parse(item)) {
        entry.sources.push_back(item);
      } else {
        entry.usable = false;
        Problem(entry.label, fmt::format("source_ip: '{}' is not an IP address or network "
                                         "like 198.51.100.0/24 or 2001:db8::/48; the forwards "
                                         "of this entry are not imported (they would open to "
                                         "everybody)",
                                         item));
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }

  void ReadPortMap(const Json& port_map, Entry& entry) {
    // The fork wrote a plain list of [public, private] pairs, all tcp.
    if (port_map.is_array()) {
      for (std::size_t i = 0; i < port_map.size(); ++i)
        ReadPortItem(port_map[i], fmt::format("port_map[{}]", i), 0, entry);
      return;
    }
    if (!port_map.is_object()) {
      Problem(entry.label, fmt::format("port_map: must be an object like {{\"tcp\": [22, [2222, "
                                       "22]]}}, not {}; not imported",
                                       TypeName(port_map)));
      return;
    }
    for (const auto& [protocol, list] : port_map.items()) {
      std::string where = "port_map." + protocol;
      int index = ProtocolIndex(protocol);
      if (index < 0) {
        Problem(entry.label, fmt::format("{}: virtnat forwards only tcp and udp ports; not "
                                         "imported",
                                         where));
        continue;
      }
      if (!list.is_array()) {
        Problem(entry.label, fmt::format("{}: must be a list of ports, not {}; not imported", where,
                                         TypeName(list)));
        continue;
      }
      for (std::size_t i = 0; i < list.size(); ++i)
        ReadPortItem(list[i], fmt::format("{}[{}]", where, i), index, entry);
    }
  }

  // `22` maps a port to itself; `[2222, 22]` maps public 2222 to guest port 22.
  void ReadPortItem(const Json& item, const std::string& where, int protocol, Entry& entry) {
    std::optional<std::uint16_t> published, guest;
    if (item.is_array() && item.size() == 2) {
      published = ReadPort(item[0]);
      guest = ReadPort(item[1]);
    } else if (!item.is_array()) {
      published = guest = ReadPort(item);
    }
    if (!published || !guest) {
      Problem(entry.label, fmt::format("{}: '{}' is not a port (1-65535) or a [public, private] "
                                       "pair of ports; not imported",
                                       where, item.dump()));
      return;
    }
    AddMapping(entry, protocol, *published, *guest, where);
  }

  void ReadPortRanges(const Json& ranges, Entry& entry) {
    if (!ranges.is_array()) {
      Problem(entry.label, fmt::format("port_range: must be a list of {{init_port, ports_num, "
                                       "protocol}} objects, not {}; not imported",
                                       TypeName(ranges)));
      return;
    }
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      std::string where = fmt::format("port_range[{}]", i);
      const Json& range = ranges[i];
      if (!range.is_object()) {
        Problem(entry.label, fmt::format("{}: must be an object with init_port, ports_num and "
                                         "protocol, not {}; not imported",
                                         where, TypeName(range)));
        continue;
      }
      for (const auto& [key, value] : range.items())
        if (key != "init_port" && key != "ports_num" && key != "protocol")
          Problem(entry.label, fmt::format("{}.{}: unknown key; not imported", where, key));
      auto first = range.contains("init_port") ? ReadPort(range["init_port"]) : std::nullopt;
      std::int64_t count = 0;
      if (range.contains("ports_num") && range["ports_num"].is_number_integer())
        count = range["ports_num"].get<std::int64_t>();
      std::string protocol = range.contains("protocol") && range["protocol"].is_string()
                                 ? range["protocol"].get<std::string>()
                                 : std::string();
      int index = ProtocolIndex(protocol);
      if (!first || count < 1 || count > 65535 || *first + count - 1 > 65535 || index < 0) {
        Problem(entry.label,
                fmt::format("{}: {} is not a tcp or udp range within 1-65535 (init_port, "
                            "ports_num >= 1, protocol); not imported",
                            where, range.dump()));
        continue;
      }
      for (std::int64_t offset = 0; offset < count; ++offset) {
        auto port = static_cast<std::uint16_t>(*first + offset);
        AddMapping(entry, index, port, port, where);
      }
    }
  }

  void AddMapping(Entry& entry, int protocol, std::uint16_t published, std::uint16_t guest,
                  const std::string& where) {
    auto [it, fresh] = entry.ports[protocol].emplace(published, guest);
    if (!fresh && it->second != guest)
      Problem(entry.label, fmt::format("{}: {} port {} is already mapped to guest port {}; the "
                                       "mapping to {} is not imported",
                                       where, kProtocols[protocol], published, it->second, guest));
  }

  // Drops ports another entry already forwards on the same listen address (reported as runs,
  // so a clashing range gives one line), then writes one forward per consecutive run.
  void Emit(Entry& entry) {
    for (std::size_t protocol = 0; protocol < kProtocols.size(); ++protocol) {
      auto& ports = entry.ports[protocol];
      // Without public_ip an IPv6 guest's forward listens on settings.public_address6.
      std::string default_listen =
          IsIpv6(entry.private_ip) ? "settings.public_address6" : "settings.public_address";
      auto& claimed = claimed_[{entry.listen.value_or(default_listen), protocol}];
      std::vector<std::pair<PortRange, std::string>> clashes;
      for (auto it = ports.begin(); it != ports.end();) {
        auto owner = claimed.find(it->first);
        if (owner == claimed.end()) {
          ++it;
          continue;
        }
        if (!clashes.empty() && clashes.back().first.last + 1 == it->first &&
            clashes.back().second == owner->second)
          clashes.back().first.last = it->first;
        else
          clashes.push_back({{it->first, it->first}, owner->second});
        it = ports.erase(it);
      }
      for (const auto& [range, owner] : clashes)
        Problem(entry.label,
                fmt::format("{} {} {} on {} {} already forwarded to {}; not imported again",
                            kProtocols[protocol], range.Size() == 1 ? "port" : "ports",
                            ToString(range), entry.listen.value_or(default_listen),
                            range.Size() == 1 ? "is" : "are", owner));
      for (const auto& [published, guest] : ports) claimed.emplace(published, entry.label);

      for (auto it = ports.begin(); it != ports.end();) {
        PortRange published{it->first, it->first};
        PortRange guest{it->second, it->second};
        for (++it; it != ports.end() && published.last < 65535 && guest.last < 65535 &&
                   it->first == published.last + 1 && it->second == guest.last + 1;
             ++it) {
          ++published.last;
          ++guest.last;
        }
        ForwardSpec spec;
        spec.address = entry.private_ip;
        spec.protocol = kProtocols[protocol];
        spec.port = ToString(published);
        spec.to_port = ToString(guest);
        spec.listen = entry.listen;
        spec.sources = entry.sources;
        spec.description = fmt::format("imported from {}: domain {}", file_, entry.domain);
        forwards_toml_ += "\n" + ForwardSpecToToml(spec);
        ++forward_count_;
        any_ipv6_ = any_ipv6_ || IsIpv6(entry.private_ip);
      }
    }
  }

  std::string file_;
  std::string format_;
  std::optional<std::string> default_listen_;  // config.json's top-level public_ip
  bool default_listen_ok_ = true;
  std::vector<std::string> problems_;
  std::string forwards_toml_;
  std::size_t forward_count_ = 0;
  bool any_ipv6_ = false;  // some forward goes to an IPv6 guest
  // (listen address or the setting it defaults to, protocol index) -> public port -> the entry
  // that forwards it.
  std::map<std::pair<std::string, std::size_t>, std::map<std::uint16_t, std::string>> claimed_;
};

int LineAtByte(const std::string& text, std::size_t byte) {
  int line = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

// nlohmann's message without its "[json.exception...] parse error at line L, column C: " lead.
std::string ParseErrorReason(const std::string& what) {
  auto column = what.find("column ");
  auto colon = column == std::string::npos ? what.find("] ") : what.find(": ", column);
  if (colon == std::string::npos) return what;
  return what.substr(colon + 2);
}

// config.json of the fork has a `machines` object; hooks.json is keyed by domain names, so a
// domain called "machines" would hold a private_ip of its own.
bool IsForkConfig(const Json& root) {
  auto machines = root.find("machines");
  return machines != root.end() && machines->is_object() && !machines->contains("private_ip");
}

}  // namespace

std::string BlankJsonComments(const std::string& text) {
  std::string out = text;
  bool in_string = false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '/') {
      for (; i < out.size() && out[i] != '\n'; ++i) out[i] = ' ';
    } else if (c == '/' && i + 1 < out.size() && out[i + 1] == '*') {
      auto end = out.find("*/", i + 2);
      if (end == std::string::npos) break;  // left for the parser to report at its line
      for (std::size_t j = i; j < end + 2; ++j)
        if (out[j] != '\n') out[j] = ' ';
      i = end + 1;
    }
  }
  return out;
}

ImportResult ImportLibvirtHookQemu(const std::string& text, const std::string& file_name) {
  std::string json_text = BlankJsonComments(text);
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::parse_error& error) {
    throw BadInput(PrintableLine(fmt::format("{}:{}: not valid JSON: {}", file_name,
                                             LineAtByte(json_text, error.byte ? error.byte - 1 : 0),
                                             ParseErrorReason(error.what()))));
  } catch (const Json::exception& error) {  // e.g. a number too large for a double
    throw BadInput(PrintableLine(
        fmt::format("{}: not valid JSON: {}", file_name, ParseErrorReason(error.what()))));
  }
  if (!root.is_object())
    throw BadInput(PrintableLine(
        fmt::format("{}: expected a JSON object: domain names (hooks.json) or public_ip and "
                    "machines (config.json), not {}",
                    file_name, root.type_name())));
  HookImporter importer(file_name);
  if (IsForkConfig(root))
    importer.ReadForkConfig(root);
  else
    importer.ReadHooksJson(root);
  return importer.Finish();
}

}  // namespace virtnat
