#include "config/config_loader.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "base/files.h"
#include "config/toml_text.h"
#include "config/validate.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

int LineOf(const toml::node& node) {
  return static_cast<int>(node.source().begin.line);
}

// Reads one TOML table against the keys it may hold, remembering which were used so that
// every other key is reported as unknown.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, const std::string& file,
              Diagnostics& diagnostics)
      : table_(table), path_(std::move(path)), file_(file), diagnostics_(diagnostics) {}

  SourceLocation Where(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return {file_, node ? LineOf(*node) : LineOf(table_), Field(key), {}};
  }
  // The table's location, with the line of every key it holds.
  SourceLocation WhereTable() const {
    SourceLocation where{file_, LineOf(table_), path_, {}};
    for (auto&& [key, node] : table_) where.key_lines[std::string(key.str())] = LineOf(node);
    return where;
  }

  std::string Field(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const toml::node* Get(std::string_view key) {
    known_.insert(std::string(key));
    return table_.get(key);
  }

  std::optional<std::string> String(std::string_view key, bool required = false) {
    const toml::node* node = Get(key);
    if (!node) {
      if (required) diagnostics_.Error(WhereTable(), fmt::format("missing key '{}'", key));
      return std::nullopt;
    }
    if (auto value = node->value<std::string>(); value && node->is_string()) return *value;
    diagnostics_.Error(Where(key), fmt::format("must be a string, not {}", TypeName(*node)));
    return std::nullopt;
  }

  std::optional<bool> Bool(std::string_view key) {
    const toml::node* node = Get(key);
    if (!node) return std::nullopt;
    if (node->is_boolean()) return node->as_boolean()->get();
    diagnostics_.Error(Where(key), fmt::format("must be true or false, not {}", TypeName(*node)));
    return std::nullopt;
  }

  // A port may be written as a string ("22", "8000-8010") or an integer.
  std::optional<std::string> StringOrInteger(std::string_view key, bool required = false) {
    const toml::node* node = Get(key);
    if (node && node->is_integer()) return std::to_string(node->as_integer()->get());
    return String(key, required);
  }

  std::optional<std::vector<std::pair<std::string, int>>> StringList(std::string_view key) {
    const toml::node* node = Get(key);
    if (!node) return std::nullopt;
    std::vector<std::pair<std::string, int>> items;
    if (node->is_string()) {  // a single string is taken as a list of one
      items.emplace_back(node->as_string()->get(), LineOf(*node));
      return items;
    }
    const toml::array* array = node->as_array();
    if (!array) {
      diagnostics_.Error(Where(key),
                         fmt::format("must be a list of strings, not {}", TypeName(*node)));
      return std::nullopt;
    }
    for (const toml::node& item : *array) {
      if (!item.is_string()) {
        diagnostics_.Error({file_, LineOf(item), Field(key), {}},
                           fmt::format("must be a list of strings, found {}", TypeName(item)));
        return std::nullopt;
      }
      items.emplace_back(item.as_string()->get(), LineOf(item));
    }
    return items;
  }

  // Array of tables, e.g. [[network.host]]. Calls `each(table, index)`.
  template <typename Each>
  void Tables(std::string_view key, Each each) {
    const toml::node* node = Get(key);
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array || !array->is_array_of_tables()) {
      diagnostics_.Error(Where(key), fmt::format("must be written as [[{}]] tables", Field(key)));
      return;
    }
    int index = 0;
    for (const toml::node& item : *array) each(*item.as_table(), index++);
  }

  void ReportUnknownKeys() {
    for (auto&& [key, node] : table_) {
      if (known_.contains(std::string(key.str()))) continue;
      diagnostics_.Error(
          {file_,
           static_cast<int>(key.source().begin.line) > 0 ? static_cast<int>(key.source().begin.line)
                                                         : LineOf(node),
           Field(key.str()),
           {}},
          "unknown key");
    }
  }

  static std::string TypeName(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::table:
        return "a table";
      case toml::node_type::array:
        return "a list";
      case toml::node_type::string:
        return "a string";
      case toml::node_type::integer:
        return "an integer";
      case toml::node_type::floating_point:
        return "a number";
      case toml::node_type::boolean:
        return "a boolean";
      default:
        return "a date/time";
    }
  }

 private:
  const toml::table& table_;
  std::string path_;
  const std::string& file_;
  Diagnostics& diagnostics_;
  std::set<std::string> known_;
};

template <typename Enum>
std::optional<Enum> ParseChoice(TableReader& reader, std::string_view key,
                                std::initializer_list<std::pair<const char*, Enum>> choices,
                                Diagnostics& diagnostics) {
  auto text = reader.String(key);
  if (!text) return std::nullopt;
  std::string names;
  for (auto& [name, value] : choices) {
    if (*text == name) return value;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  diagnostics.Error(reader.Where(key), fmt::format("'{}' is not one of {}", *text, names));
  return std::nullopt;
}

// One OVSDB remote as ovn-nbctl takes it: unix:/ABSOLUTE/PATH, tcp:IP:PORT or ssl:IP:PORT
// (an IPv6 address in brackets).
bool IsValidOvsdbRemote(std::string_view remote) {
  if (remote.starts_with("unix:")) return remote.size() > 6 && remote[5] == '/';
  if (!remote.starts_with("tcp:") && !remote.starts_with("ssl:")) return false;
  std::string_view rest = remote.substr(4);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  auto parsed = ParsePortRange(port);
  if (!parsed || parsed->first != parsed->last) return false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    for (char c : host.substr(1, host.size() - 2))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    return true;
  }
  return Ipv4Address::Parse(host).has_value();
}

// provider ovn: ovn_northbound (a comma-separated list of remotes, as for a clustered
// database), ovn_southbound, and the files an ssl: remote needs.
void ParseFleetSettings(TableReader& reader, FleetSettings& fleet, Diagnostics& diagnostics) {
  bool uses_ssl = false;
  for (const char* key : {"ovn_northbound", "ovn_southbound"}) {
    auto remotes = reader.String(key);
    if (!remotes) continue;
    (std::string_view(key) == "ovn_northbound" ? fleet.northbound : fleet.southbound) = *remotes;
    bool ok = !remotes->empty();
    std::string_view rest = *remotes;
    while (ok) {
      auto comma = rest.find(',');
      std::string_view remote = rest.substr(0, comma);
      ok = IsValidOvsdbRemote(remote);
      uses_ssl = uses_ssl || remote.starts_with("ssl:");
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    if (!ok)
      diagnostics.Error(reader.Where(key),
                        fmt::format("'{}' is not an OVSDB remote like unix:/run/ovn/ovnnb_db.sock, "
                                    "tcp:192.0.2.10:6641 or ssl:192.0.2.10:6641",
                                    *remotes));
  }
  for (auto [key, value] : {std::pair{"ovn_ssl_private_key", &fleet.ssl_private_key},
                            {"ovn_ssl_certificate", &fleet.ssl_certificate},
                            {"ovn_ssl_ca_cert", &fleet.ssl_ca_cert}}) {
    auto path = reader.String(key);
    if (path) {
      *value = *path;
      if (path->empty() || (*path)[0] != '/')
        diagnostics.Error(reader.Where(key),
                          fmt::format("'{}' is not an absolute file path", *path));
      else if (!uses_ssl)
        diagnostics.Error(reader.Where(key),
                          "only an ssl: ovn_northbound or ovn_southbound needs the ssl files");
    } else if (uses_ssl) {
      diagnostics.Error(reader.WhereTable(),
                        fmt::format("missing key '{}' (an ssl: remote needs ovn_ssl_private_key, "
                                    "ovn_ssl_certificate and ovn_ssl_ca_cert)",
                                    key));
    }
  }
}

// Why an IPv6 address cannot be a listen address or an address on a network (nullopt: it can).
// Link-local addresses need an interface to mean anything, and the bridge has its own.
std::optional<std::string> Ipv6UnusableReason(const Ipv6Address& address) {
  const auto& bytes = address.bytes;
  if (address == Ipv6Address{}) return "the unspecified address";
  if (address == *Ipv6Address::Parse("::1")) return "the loopback address";
  if (bytes[0] == 0xff) return "a multicast address";
  if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80) return "a link-local address";
  return std::nullopt;
}

void ParseSettings(TableReader& reader, Settings& settings, Diagnostics& diagnostics) {
  if (auto table = reader.String("table")) {
    settings.ruleset_name = *table;
    bool ok = !table->empty() && table->size() <= 64 &&
              std::isalpha(static_cast<unsigned char>((*table)[0]));
    for (char c : *table) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok)
      diagnostics.Error(reader.Where("table"),
                        fmt::format("'{}' is not a valid table name (letters, digits, '_', "
                                    "starting with a letter, at most 64)",
                                    *table));
  }
  if (auto address = reader.String("public_address")) {
    settings.has_public_address = true;
    if (*address == "*") {
      settings.public_address.reset();
    } else if (auto parsed = Ipv4Address::Parse(*address)) {
      settings.public_address = *parsed;
    } else {
      diagnostics.Error(
          reader.Where("public_address"),
          fmt::format(
              "'{}' is not an IPv4 address or \"*\"{}", *address,
              Ipv6Address::Parse(*address) ? " (an IPv6 address goes in public_address6)" : ""));
    }
  }
  if (auto address = reader.String("public_address6")) {
    settings.has_public_address6 = true;
    if (*address == "*") {
      settings.public_address6.reset();
    } else if (auto parsed = Ipv6Address::Parse(*address)) {
      settings.public_address6 = *parsed;
      if (auto reason = Ipv6UnusableReason(*parsed))
        diagnostics.Error(reader.Where("public_address6"),
                          fmt::format("'{}' is {}, no address for forwards to listen on (\"*\" "
                                      "is every address)",
                                      *address, *reason));
    } else {
      diagnostics.Error(reader.Where("public_address6"),
                        fmt::format("'{}' is not an IPv6 address or \"*\"", *address));
    }
  }
  if (auto lifecycle = ParseChoice<VmLifecycle>(
          reader, "vm_lifecycle",
          {{"libvirt", VmLifecycle::kLibvirt}, {"ignore", VmLifecycle::kIgnore}}, diagnostics))
    settings.vm_lifecycle = *lifecycle;
  if (auto uri = reader.String("libvirt_uri")) {
    settings.libvirt_uri = *uri;
    if (uri->empty() || uri->find(':') == std::string::npos)
      diagnostics.Error(reader.Where("libvirt_uri"),
                        fmt::format("'{}' is not a libvirt URI like qemu:///system", *uri));
  }
  if (auto strict = reader.Bool("strict_hook")) settings.strict_hook = *strict;
  ParseFleetSettings(reader, settings.fleet, diagnostics);
  reader.ReportUnknownKeys();
}

void ParseHost(TableReader& reader, Network& network, Diagnostics& diagnostics) {
  Host host;
  host.where = reader.WhereTable();
  if (auto name = reader.String("name", true)) {
    host.name = *name;
    if (!IsValidHostName(*name) || name->find('.') != std::string::npos)
      diagnostics.Error(reader.Where("name"),
                        fmt::format("'{}' is not a valid host name (letters, digits and '-', "
                                    "at most 63)",
                                    *name));
  }
  if (auto address = reader.String("address", true)) {
    if (auto parsed = Ipv4Address::Parse(*address))
      host.address = *parsed;
    else
      diagnostics.Error(
          reader.Where("address"),
          fmt::format("'{}' is not an IPv4 address{}", *address,
                      Ipv6Address::Parse(*address) ? " (an IPv6 address goes in address6)" : ""));
  }
  // Checked against the network's IPv6 subnet (or derived from `address`) by validation.
  if (auto address6 = reader.String("address6")) {
    if (auto parsed = Ipv6Address::Parse(*address6)) {
      host.address6 = *parsed;
      if (auto reason = Ipv6UnusableReason(*parsed))
        diagnostics.Error(reader.Where("address6"),
                          fmt::format("'{}' is {}, no address for a host", *address6, *reason));
    } else
      diagnostics.Error(reader.Where("address6"),
                        fmt::format("'{}' is not an IPv6 address like fd00:77::29", *address6));
  }
  if (auto mac = reader.String("mac")) {
    if (auto parsed = MacAddress::Parse(*mac))
      host.mac = *parsed;
    else
      diagnostics.Error(reader.Where("mac"),
                        fmt::format("'{}' is not a MAC address like 02:FF:0A:0A:06:1C", *mac));
  } else {
    host.mac_derived = true;  // filled in by validation from the network's mac_prefix
  }
  host.where = reader.WhereTable();
  reader.ReportUnknownKeys();
  network.hosts.push_back(std::move(host));
}

// A name OVN takes for a provider network or a chassis: letters, digits, '_', '-', '.'.
bool IsValidOvnName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  return true;
}

// provider = "ovn": the modes it has, its name, the uplink to the provider network and the
// gateway chassis. The keys of the uplink belong to networks with a router on the uplink.
void ParseOvnNetwork(TableReader& reader, Network& network, Diagnostics& diagnostics) {
  if (network.mode != NetworkMode::kNat && network.mode != NetworkMode::kRouted &&
      network.mode != NetworkMode::kIsolated)
    diagnostics.Error(reader.Where("mode"),
                      fmt::format("mode {} is not available with provider = \"ovn\" (nat, routed "
                                  "or isolated)",
                                  ToString(network.mode)));
  // Every other row of the network is named NETWORK.SUFFIX: no two networks' rows can collide.
  if (network.name.find('.') != std::string::npos)
    diagnostics.Error(reader.Where("name"),
                      fmt::format("'{}': the name of an ovn network has no '.' (virtnat names its "
                                  "OVN rows NETWORK.SUFFIX)",
                                  network.name));
  const bool has_uplink = network.mode != NetworkMode::kIsolated;
  auto refuse = [&](const char* key) {
    if (reader.Get(key))
      diagnostics.Error(reader.Where(key),
                        fmt::format("an isolated network has no uplink: leave {} out", key));
  };
  if (!has_uplink) {
    for (const char* key : {"uplink", "uplink_address", "uplink_gateway", "uplink_address6",
                            "uplink_gateway6", "gateway_chassis"})
      refuse(key);
    return;
  }
  if (auto uplink = reader.String("uplink", true)) {
    network.uplink = *uplink;
    if (!IsValidOvnName(*uplink))
      diagnostics.Error(reader.Where("uplink"),
                        fmt::format("'{}' is not a provider network's name as in "
                                    "ovn-bridge-mappings (letters, digits, '_', '-', '.')",
                                    *uplink));
  }
  if (auto address = reader.String("uplink_address", true)) {
    if (auto parsed = Ipv4Interface::Parse(*address))
      network.uplink_address = *parsed;
    else
      diagnostics.Error(
          reader.Where("uplink_address"),
          fmt::format("'{}' is not an address with prefix like 198.51.100.50/24", *address));
  }
  if (auto gateway = reader.String("uplink_gateway")) {
    if (auto parsed = Ipv4Address::Parse(*gateway))
      network.uplink_gateway = *parsed;
    else
      diagnostics.Error(reader.Where("uplink_gateway"),
                        fmt::format("'{}' is not an IPv4 address", *gateway));
  }
  if (auto address = reader.String("uplink_address6")) {
    if (auto parsed = Ipv6Interface::Parse(*address); parsed && parsed->length <= 126)
      network.uplink_address6 = *parsed;
    else
      diagnostics.Error(reader.Where("uplink_address6"),
                        fmt::format("'{}' is not an IPv6 address with prefix like "
                                    "2001:db8:100::50/64",
                                    *address));
    if (!reader.Get("address6"))
      diagnostics.Error(reader.Where("uplink_address6"),
                        "uplink_address6 needs the network's IPv6 subnet: add address6");
  }
  if (auto gateway = reader.String("uplink_gateway6")) {
    if (auto parsed = Ipv6Address::Parse(*gateway))
      network.uplink_gateway6 = *parsed;
    else
      diagnostics.Error(reader.Where("uplink_gateway6"),
                        fmt::format("'{}' is not an IPv6 address", *gateway));
    if (!reader.Get("uplink_address6"))
      diagnostics.Error(reader.Where("uplink_gateway6"),
                        "uplink_gateway6 is reached through uplink_address6: add it");
  }
  auto chassis = reader.StringList("gateway_chassis");
  if (!chassis && !reader.Get("gateway_chassis"))
    diagnostics.Error(reader.WhereTable(),
                      "missing key 'gateway_chassis' (the chassis that carry the uplink, in "
                      "priority order)");
  if (chassis) {
    std::set<std::string> seen;
    for (auto& [name, line] : *chassis) {
      SourceLocation where{
          reader.Where("gateway_chassis").file, line, reader.Field("gateway_chassis"), {}};
      if (!IsValidOvnName(name))
        diagnostics.Error(where, fmt::format("'{}' is not a chassis name (letters, digits, '_', "
                                             "'-', '.')",
                                             name));
      else if (!seen.insert(name).second)
        diagnostics.Error(where, fmt::format("chassis '{}' is listed twice", name));
      network.gateway_chassis.push_back(name);
    }
    if (chassis->empty())
      diagnostics.Error(reader.Where("gateway_chassis"), "name at least one chassis");
  }
}

// The keys only provider ovn has.
void RefuseOvnKeys(TableReader& reader, const Network& network, Diagnostics& diagnostics) {
  if (network.provider == NetworkProvider::kOvn) return;
  for (const char* key : {"uplink_address", "uplink_gateway", "uplink_address6", "uplink_gateway6",
                          "gateway_chassis"})
    if (reader.Get(key))
      diagnostics.Error(reader.Where(key),
                        fmt::format("only networks with provider = \"ovn\" have {}", key));
}

// "fd00:77::1/64": the reason a text is no IPv6 interface address, for its message.
std::string Ipv6InterfaceProblem(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos || !Ipv6Address::Parse(text.substr(0, slash)))
    return fmt::format("'{}' is not an IPv6 address with prefix like fd00:77::1/64", text);
  std::string length = text.substr(slash + 1);
  bool digits = !length.empty() && length.size() <= 3 && (length[0] != '0' || length == "0") &&
                length.find_first_not_of("0123456789") == std::string::npos;
  if (digits && std::stoi(length) <= 128)
    return fmt::format(
        "'{}': prefix /{} is outside 64-126 (a network's guests need a /64 for "
        "router advertisements, or at least room beside the host's address)",
        text, length);
  return fmt::format("'{}' is not an IPv6 address with prefix like fd00:77::1/64 (prefix 64-126)",
                     text);
}

// The dual-stack keys: address6 (the host's IPv6 address on the bridge, which defines the
// IPv6 subnet), dhcp_range6 and nat6. Checked against each other by validation.
void ParseNetworkIpv6(TableReader& reader, Network& network, Diagnostics& diagnostics) {
  if (auto address = reader.String("address6")) {
    if (auto parsed = Ipv6Interface::Parse(*address)) {
      network.address6 = *parsed;
      // The bridge has a link-local address of its own; the subnet is for global or ULA ones.
      if (auto reason = Ipv6UnusableReason(parsed->address))
        diagnostics.Error(reader.Where("address6"),
                          fmt::format("'{}' is {}, no subnet for guests (use a ULA prefix like "
                                      "fd00:77::1/64, or a global one)",
                                      *address, *reason));
    } else {
      diagnostics.Error(reader.Where("address6"), Ipv6InterfaceProblem(*address));
    }
  }
  if (auto range = reader.String("dhcp_range6")) {
    // OVN's DHCPv6 answers each port with the port's own address: no pool for unknown clients.
    if (network.provider == NetworkProvider::kOvn)
      diagnostics.Error(reader.Where("dhcp_range6"),
                        "provider \"ovn\" gives IPv6 by DHCPv6 to the network's hosts only (each "
                        "port's own address): leave dhcp_range6 out");
    if (auto parsed = Ipv6Range::Parse(*range))
      network.dhcp_range6 = *parsed;
    else
      diagnostics.Error(reader.Where("dhcp_range6"),
                        fmt::format("'{}' is not a range like fd00:77::100-fd00:77::1ff", *range));
    if (!reader.Get("address6"))
      diagnostics.Error(reader.Where("dhcp_range6"),
                        "dhcp_range6 needs the network's IPv6 subnet: add address6");
  }
  if (auto nat6 = reader.Bool("nat6")) {
    network.nat6 = *nat6;
    if (network.mode != NetworkMode::kNat)
      diagnostics.Error(reader.Where("nat6"),
                        fmt::format("only a network with mode = \"nat\" has nat6 (mode {} "
                                    "routes IPv6 as it routes IPv4)",
                                    ToString(network.mode)));
    else if (!reader.Get("address6"))
      diagnostics.Error(reader.Where("nat6"), "nat6 needs the network's IPv6 subnet: add address6");
  }
}

void ParseNetwork(TableReader& reader, const std::string& file, Network& network,
                  Diagnostics& diagnostics) {
  network.where = reader.WhereTable();
  if (auto name = reader.String("name", true)) {
    network.name = *name;
    // The name becomes a folder name for standalone networks: no "." or "..".
    bool ok = !name->empty() && name->size() <= 64 && *name != "." && *name != "..";
    for (char c : *name)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
    if (!ok)
      diagnostics.Error(reader.Where("name"),
                        fmt::format("'{}' is not a valid network name (letters, digits, '_', '-', "
                                    "'.', at most 64)",
                                    *name));
  }
  if (auto mode = ParseChoice<NetworkMode>(reader, "mode",
                                           {{"nat", NetworkMode::kNat},
                                            {"routed", NetworkMode::kRouted},
                                            {"isolated", NetworkMode::kIsolated},
                                            {"open", NetworkMode::kOpen},
                                            {"bridged", NetworkMode::kBridged}},
                                           diagnostics)) {
    network.mode = *mode;
  }
  if (auto provider = ParseChoice<NetworkProvider>(reader, "provider",
                                                   {{"external", NetworkProvider::kExternal},
                                                    {"libvirt", NetworkProvider::kLibvirt},
                                                    {"standalone", NetworkProvider::kStandalone},
                                                    {"ovn", NetworkProvider::kOvn}},
                                                   diagnostics)) {
    network.provider = *provider;
  }
  const bool ovn = network.provider == NetworkProvider::kOvn;
  if (ovn) ParseOvnNetwork(reader, network, diagnostics);
  if (ovn) {
    // ParseOvnNetwork read the uplink.
  } else if (auto uplink = reader.String("uplink")) {
    network.uplink = *uplink;
    if (network.mode != NetworkMode::kBridged)
      diagnostics.Error(reader.Where("uplink"),
                        "only a network with mode = \"bridged\" has an "
                        "uplink");
    else if (!IsValidInterfaceName(*uplink))
      diagnostics.Error(reader.Where("uplink"),
                        fmt::format("'{}' is not a valid interface name", *uplink));
  } else if (network.mode == NetworkMode::kBridged) {
    diagnostics.Error(reader.WhereTable(),
                      "missing key 'uplink' (mode \"bridged\" enslaves "
                      "this interface to the bridge)");
  }
  if (auto define = reader.Bool("define")) {
    network.define = *define;
    if (network.provider != NetworkProvider::kLibvirt)
      diagnostics.Error(reader.Where("define"),
                        "only networks with provider = \"libvirt\" "
                        "can be defined or not");
  }
  if (auto forward = reader.String("libvirt_forward")) {
    network.provider_nat = *forward == "nat";
    if (*forward != "nat")
      diagnostics.Error(reader.Where("libvirt_forward"),
                        fmt::format("'{}' is not \"nat\" (leave it out to let virtnat own the "
                                    "firewall)",
                                    *forward));
    else if (network.provider != NetworkProvider::kLibvirt)
      diagnostics.Error(reader.Where("libvirt_forward"),
                        "only networks with provider = \"libvirt\" can hand NAT to libvirt");
    else if (network.mode != NetworkMode::kNat)
      diagnostics.Error(reader.Where("libvirt_forward"),
                        fmt::format("only a network with mode = \"nat\" can hand NAT to libvirt "
                                    "(mode {} gets its rules from virtnat)",
                                    ToString(network.mode)));
  }
  if (auto bridge = reader.String("bridge", !ovn)) {
    network.bridge = *bridge;
    if (ovn)
      diagnostics.Error(reader.Where("bridge"),
                        "an ovn network has no bridge of its own: VMs plug into br-int (`virtnat "
                        "vm interface NETWORK HOST` prints their <interface>)");
    else if (!IsValidInterfaceName(*bridge))
      diagnostics.Error(reader.Where("bridge"),
                        fmt::format("'{}' is not a valid interface name (1-15 bytes, no '/', ':' "
                                    "or spaces)",
                                    *bridge));
  }
  // A bridged network's guests live on the LAN: the host needs no address of its own there.
  if (auto address = reader.String("address", network.mode != NetworkMode::kBridged)) {
    if (auto parsed = Ipv4Interface::Parse(*address))
      network.address = *parsed, network.has_address = true;
    else
      diagnostics.Error(
          reader.Where("address"),
          fmt::format(
              "'{}' is not a host address with prefix like 10.1.1.1/24 "
              "(prefix 8-30){}",
              *address,
              address->find(':') != std::string::npos ? "; an IPv6 address goes in address6" : ""));
  }
  ParseNetworkIpv6(reader, network, diagnostics);
  if (auto range = reader.String("dhcp_range")) {
    if (auto parsed = Ipv4Range::Parse(*range))
      network.dhcp_range = *parsed;
    else
      diagnostics.Error(reader.Where("dhcp_range"),
                        fmt::format("'{}' is not a range like 10.1.1.100-10.1.1.254", *range));
  }
  if (auto domain = reader.String("domain")) {
    network.domain = *domain;
    if (!IsValidDomain(*domain))
      diagnostics.Error(reader.Where("domain"),
                        fmt::format("'{}' is not a valid DNS domain", *domain));
  }
  if (auto prefix = reader.String("mac_prefix")) {
    network.mac_prefix = *prefix;
    if (!ParseMacPrefix(*prefix))
      diagnostics.Error(reader.Where("mac_prefix"),
                        fmt::format("'{}' is not five MAC bytes like 02:FF:0A:0A:06", *prefix));
  }
  RefuseOvnKeys(reader, network, diagnostics);
  std::string path = reader.Field("host");
  reader.Tables("host", [&](const toml::table& table, int index) {
    TableReader host_reader(table, fmt::format("{}[{}]", path, index), file, diagnostics);
    ParseHost(host_reader, network, diagnostics);
  });
  reader.ReportUnknownKeys();
}

void ParseForward(TableReader& reader, const Settings& settings, Config& config,
                  Diagnostics& diagnostics) {
  Forward forward;
  forward.where = reader.WhereTable();
  auto host = reader.String("host");
  auto address = reader.String("address");
  if (host && address) {
    diagnostics.Error(reader.Where("address"), "give either host or address, not both");
  } else if (!host && !address) {
    diagnostics.Error(reader.WhereTable(), "missing key 'host' (or 'address')");
  } else if (host) {
    forward.host = *host;
  } else if (auto parsed = Ipv4Address::Parse(*address)) {
    forward.target = *parsed;
  } else if (auto parsed6 = Ipv6Address::Parse(*address)) {
    forward.target6 = *parsed6;  // validation finds the host that owns it, if any
  } else {
    diagnostics.Error(reader.Where("address"),
                      fmt::format("'{}' is not an IPv4 address or an IPv6 address", *address));
  }

  forward.protocols = {Protocol::kTcp};
  if (auto protocol = reader.String("protocol")) {
    if (auto parsed = ParseProtocols(*protocol))
      forward.protocols = *parsed;
    else
      diagnostics.Error(reader.Where("protocol"),
                        fmt::format("'{}' is not \"tcp\", \"udp\" or \"tcp,udp\"", *protocol));
  }
  bool ports_ok = false;
  if (auto port = reader.StringOrInteger("port", true)) {
    if (auto parsed = ParsePortRange(*port)) {
      forward.port = forward.to_port = *parsed;
      ports_ok = true;
    } else {
      diagnostics.Error(reader.Where("port"),
                        fmt::format("'{}' is not a port or range within 1-65535", *port));
    }
  }
  if (auto to_port = reader.StringOrInteger("to_port")) {
    if (auto parsed = ParsePortRange(*to_port)) {
      if (ports_ok && parsed->Size() != forward.port.Size())
        diagnostics.Error(reader.Where("to_port"),
                          fmt::format("range {} has {} ports but port {} has {}", *to_port,
                                      parsed->Size(), ToString(forward.port), forward.port.Size()));
      forward.to_port = *parsed;
    } else {
      diagnostics.Error(reader.Where("to_port"),
                        fmt::format("'{}' is not a port or range within 1-65535", *to_port));
    }
  }
  forward.listen = settings.public_address;
  auto listen = reader.String("listen");
  // Without `listen`: settings.public_address, or the target network's uplink_address
  // (validation checks that there is one).
  forward.listen_defaulted = !listen && !reader.Get("listen");
  // The families a written `listen` opens: its own, or for "*" both (validation keeps those
  // the target has). Without `listen` validation decides from the target and the settings.
  if (listen) {
    forward.listen.reset();
    if (*listen == "*") {
      forward.open4 = forward.open6 = true;
    } else if (auto parsed = Ipv4Address::Parse(*listen)) {
      forward.listen = *parsed;
      forward.open4 = true, forward.open6 = false;
    } else if (auto parsed6 = Ipv6Address::Parse(*listen)) {
      forward.listen6 = *parsed6;
      forward.open4 = false, forward.open6 = true;
      if (auto reason = Ipv6UnusableReason(*parsed6))
        diagnostics.Error(reader.Where("listen"),
                          fmt::format("'{}' is {}, no address to listen on (\"*\" is every "
                                      "address)",
                                      *listen, *reason));
    } else {
      diagnostics.Error(
          reader.Where("listen"),
          fmt::format("'{}' is not an IPv4 address, an IPv6 address or \"*\"", *listen));
    }
  }
  if (auto sources = reader.StringList("source")) {
    for (auto& [text, line] : *sources) {
      if (auto parsed = Ipv4Prefix::Parse(text))
        forward.sources.push_back(*parsed);
      else if (auto parsed6 = Ipv6Prefix::Parse(text))
        forward.sources6.push_back(*parsed6);
      else
        diagnostics.Error({reader.Where("source").file, line, reader.Field("source"), {}},
                          fmt::format("'{}' is not a network like 198.51.100.0/24 or "
                                      "2001:db8:1::/48 (host bits must be zero)",
                                      text));
    }
  }
  if (auto description = reader.String("description")) forward.description = *description;
  reader.ReportUnknownKeys();
  config.forwards.push_back(std::move(forward));
}

// Settings apply to forwards of every file, so they are read from all files first.
void ParseSettingsOf(const std::vector<std::pair<const ConfigSource*, toml::table>>& parsed,
                     Settings& settings, Diagnostics& diagnostics) {
  for (auto& [source, root] : parsed) {
    const toml::node* node = root.get("settings");
    if (!node) continue;
    if (const toml::table* table = node->as_table()) {
      TableReader reader(*table, "settings", source->path, diagnostics);
      ParseSettings(reader, settings, diagnostics);
    } else {
      diagnostics.Error({source->path, LineOf(*node), "settings", {}},
                        "must be a [settings] table");
    }
  }
}

}  // namespace

fs::path CliConfigPath(const fs::path& main_file) {
  return main_file.parent_path() / "conf.d" / "50-cli.toml";
}

// Run as root, virtnat writes the host's firewall from these files: anybody who can change
// them could open any port. Refuse files and folders that a non-root user can write.
static void CheckOwnership(const fs::path& main_file) {
  if (geteuid() != 0) return;
  std::vector<fs::path> paths{
      main_file, main_file.parent_path().empty() ? fs::path(".") : main_file.parent_path()};
  fs::path conf_d = main_file.parent_path() / "conf.d";
  std::error_code error;
  if (fs::is_directory(conf_d, error)) {
    paths.push_back(conf_d);
    for (const auto& entry : fs::directory_iterator(conf_d, error))
      if (entry.path().extension() == ".toml") paths.push_back(entry.path());
  }
  for (const auto& path : paths) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) continue;
    bool group_writable = (info.st_mode & S_IWGRP) && info.st_gid != 0;
    if (info.st_uid == 0 && !group_writable && !(info.st_mode & S_IWOTH)) continue;
    throw BadInput(fmt::format(
        "virtnat: {}: writable by a user other than root (owner uid {}, mode {:o}); virtnat runs "
        "as root and will not read it: chown root:root {} && chmod go-w {}",
        path.string(), info.st_uid, info.st_mode & 07777, path.string(), path.string()));
  }
}

std::vector<ConfigSource> ReadConfigSources(const fs::path& main_file) {
  auto read = [](const fs::path& path) {
    auto text = ReadFileIfExists(path);
    if (!text) throw BadInput(fmt::format("{}: cannot read config file", path.string()));
    return ConfigSource{path.string(), std::move(*text)};
  };
  std::error_code error;
  if (!fs::is_regular_file(main_file, error))
    throw BadInput(fmt::format("virtnat: {}: config file does not exist (give --config FILE)",
                               main_file.string()));
  CheckOwnership(main_file);  // every command that reads the config, edits included
  std::vector<ConfigSource> sources{read(main_file)};
  fs::path conf_d = main_file.parent_path() / "conf.d";
  if (fs::is_directory(conf_d, error)) {
    std::vector<fs::path> names;
    for (const auto& entry : fs::directory_iterator(conf_d, error))
      if (entry.path().extension() == ".toml" && entry.is_regular_file())
        names.push_back(entry.path());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) sources.push_back(read(name));
  }
  return sources;
}

Config ParseConfig(const std::vector<ConfigSource>& sources, Diagnostics& diagnostics) {
  Config config;
  std::vector<std::pair<const ConfigSource*, toml::table>> parsed;
  for (const auto& source : sources) {
    config.files.push_back(source.path);
    try {
      parsed.emplace_back(&source, toml::parse(source.text, source.path));
    } catch (const toml::parse_error& error) {
      diagnostics.Error({source.path, static_cast<int>(error.source().begin.line), "syntax", {}},
                        PrintableLine(std::string(error.description())));
    }
  }
  ParseSettingsOf(parsed, config.settings, diagnostics);
  for (auto& [source, root] : parsed) {
    // A named copy: lambdas may not capture structured bindings before clang 16.
    const std::string& file = source->path;
    TableReader top(root, "", file, diagnostics);
    top.Get("settings");
    top.Tables("network", [&](const toml::table& table, int index) {
      TableReader reader(table, fmt::format("network[{}]", index), file, diagnostics);
      Network network;
      ParseNetwork(reader, file, network, diagnostics);
      config.networks.push_back(std::move(network));
    });
    top.Tables("forward", [&](const toml::table& table, int index) {
      TableReader reader(table, fmt::format("forward[{}]", index), file, diagnostics);
      ParseForward(reader, config.settings, config, diagnostics);
    });
    top.ReportUnknownKeys();
  }
  ValidateConfig(config, diagnostics);
  return config;
}

std::optional<std::vector<Forward>> ParseForwardOnlyFile(const ConfigSource& source,
                                                         const Settings& settings,
                                                         Diagnostics& diagnostics) {
  toml::table root;
  try {
    root = toml::parse(source.text, source.path);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
  for (auto&& [key, node] : root)
    if (key.str() != "forward") return std::nullopt;
  Config config;
  config.settings = settings;
  TableReader top(root, "", source.path, diagnostics);
  top.Tables("forward", [&](const toml::table& table, int index) {
    TableReader reader(table, fmt::format("forward[{}]", index), source.path, diagnostics);
    ParseForward(reader, config.settings, config, diagnostics);
  });
  top.ReportUnknownKeys();
  return std::move(config.forwards);
}

Config LoadConfig(const fs::path& main_file, Diagnostics& diagnostics) {
  Config config = ParseConfig(ReadConfigSources(main_file), diagnostics);
  if (diagnostics.HasErrors()) throw BadInput(FormatErrors(diagnostics));
  return config;
}

std::string FormatErrors(const Diagnostics& diagnostics) {
  std::string text;
  for (const auto& error : diagnostics.errors())
    text += (text.empty() ? "" : "\n") + error.ToString();
  return text;
}

}  // namespace virtnat
