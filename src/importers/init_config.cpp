#include "importers/init_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "base/errors.h"
#include "config/validate.h"
#include "config/toml_text.h"
#include "model/net.h"

namespace virtnat {
namespace {

// vm-tools' layout of the /24: gateway .1, static hosts from .5, DHCP from .100 to .254.
constexpr int kGatewayOctet = 1;
constexpr int kFirstHostOctet = 5;
constexpr int kDhcpFirstOctet = 100;
constexpr int kDhcpLastOctet = 254;

[[noreturn]] void Refuse(const std::string& reason) {
  throw BadInput("virtnat: init: " + PrintableLine(reason));
}

void AppendSeries(std::vector<std::string>& names, const std::string& stem, int count, int digits) {
  for (int number = 1; number <= count; ++number)
    names.push_back(fmt::format("{}{:0{}}", stem, number, digits));
}

// "10.1.1" -> the /24 base address, or nullopt unless exactly three decimal octets.
std::optional<Ipv4Address> ParseNetworkStem(const std::string& network) {
  int dots = 0;
  for (char c : network) dots += c == '.';
  if (dots != 2) return std::nullopt;
  return Ipv4Address::Parse(network + ".0");
}

struct PlannedHost {
  std::string name;
  std::string address;
  std::string mac;
};

std::vector<PlannedHost> PlanHosts(const InitOptions& options, const std::string& stem,
                                   const std::array<std::uint8_t, 5>& prefix) {
  std::vector<std::string> names;
  if (options.default_nodes) names = DefaultInitNodeNames();
  std::set<std::string> seen(names.begin(), names.end());
  for (const auto& node : options.nodes) {
    if (!IsValidHostName(node) || node.find('.') != std::string::npos)
      Refuse(
          fmt::format("'{}' is not a valid host name (letters, digits and '-', at most 63, "
                      "no dots)",
                      node));
    if (!seen.insert(node).second)
      Refuse(fmt::format("host name '{}' is given twice{}", node,
                         options.default_nodes ? " (the default names include it already; "
                                                 "use --no-default-nodes to list every host)"
                                               : ""));
    names.push_back(node);
  }

  int last_octet = kFirstHostOctet + static_cast<int>(names.size()) - 1;
  std::string range = fmt::format("{0}.{1}-{0}.{2}", stem, kFirstHostOctet, last_octet);
  if (last_octet > kDhcpLastOctet)
    Refuse(fmt::format("{} hosts need addresses {}, past {}.{}; at most {} hosts fit", names.size(),
                       range, stem, kDhcpLastOctet, kDhcpFirstOctet - kFirstHostOctet));
  if (last_octet >= kDhcpFirstOctet)
    Refuse(
        fmt::format("{} hosts need addresses {}, which runs into the DHCP range {}.{}-{}.{}; "
                    "at most {} hosts fit",
                    names.size(), range, stem, kDhcpFirstOctet, stem, kDhcpLastOctet,
                    kDhcpFirstOctet - kFirstHostOctet));

  std::vector<PlannedHost> hosts;
  int octet = kFirstHostOctet;
  for (const auto& name : names) {
    MacAddress mac;
    std::copy(prefix.begin(), prefix.end(), mac.bytes.begin());
    mac.bytes[5] = static_cast<std::uint8_t>(octet);
    hosts.push_back({name, fmt::format("{}.{}", stem, octet), mac.ToString()});
    ++octet;
  }
  return hosts;
}

// An example IPv6 prefix that reads like the IPv4 one: "10.1.1" -> "fd00:10:1:1" (the
// octets' digits as hexadecimal groups).
std::string Ipv6Stem(const std::string& stem) {
  std::string groups = stem;
  std::replace(groups.begin(), groups.end(), '.', ':');
  return "fd00:" + groups;
}

std::string SettingsSection(const InitOptions& options) {
  std::string out =
      "[settings]\n"
      "# The nftables table (family inet) that holds every rule virtnat installs.\n"
      "table = \"virtnat\"\n"
      "# The address forwards listen on when they name no 'listen' of their own;\n"
      "# \"*\" means every local address.\n";
  if (options.public_address.empty())
    out +=
        "# Not set yet: until it is, every [[forward]] must name its 'listen' address.\n"
        "# public_address = \"198.51.100.1\"\n";
  else
    out += "public_address = " + TomlQuoted(options.public_address) + "\n";
  out +=
      "# IPv6: where forwards to dual-stack hosts listen too (see address6 below).\n"
      "# public_address6 = \"2001:db8:100::1\"\n";
  out +=
      "# \"libvirt\": a forward is open only while its VM runs; \"ignore\": always open.\n"
      "vm_lifecycle = " +
      TomlQuoted(options.provider == "libvirt" ? "libvirt" : "ignore") + "\n";
  return out;
}

std::string NetworkSection(const InitOptions& options, const std::string& stem,
                           const std::string& mac_prefix, const std::vector<PlannedHost>& hosts) {
  std::string provider_note =
      options.provider == "external"  ? "external: the bridge exists already; virtnat adds NAT."
      : options.provider == "libvirt" ? "libvirt: virtnat defines this network in libvirt."
                                      : "standalone: virtnat creates the bridge itself.";
  std::string out = fmt::format(
      "# The NAT network the VMs live on, as vm-tools' virsh-nat-bridge set it up.\n"
      "[[network]]\n"
      "name = \"nat_bridge\"\n"
      "mode = \"nat\"\n"
      "# {}\n"
      "provider = {}\n"
      "bridge = {}\n"
      "# The host's own address on the bridge (the VMs' gateway) and the subnet.\n"
      "address = \"{}.{}/24\"\n"
      "# Addresses handed out to VMs that are not listed below; static hosts stay outside it.\n"
      "dhcp_range = \"{}.{}-{}.{}\"\n"
      "domain = {}\n"
      "# A host without 'mac' gets this prefix plus the last octet of its address.\n"
      "mac_prefix = {}\n"
      "# IPv6 (dual-stack): the host's IPv6 address on the bridge, which defines the IPv6\n"
      "# subnet (a /64 for router advertisements; pick a random ULA prefix, RFC 4193, or one\n"
      "# of yours). Each host then gets the prefix plus the last octet of its IPv4 address\n"
      "# ({}.{} -> {}), unless it names an address6 of its own.\n"
      "# address6 = \"{}::1/64\"\n"
      "# dhcp_range6 = \"{}::100-{}::1ff\"\n",
      provider_note, TomlQuoted(options.provider), TomlQuoted(options.bridge), stem, kGatewayOctet,
      stem, kDhcpFirstOctet, stem, kDhcpLastOctet, TomlQuoted(options.domain),
      TomlQuoted(mac_prefix), stem, 28, Ipv6Stem(stem) + "::1c", Ipv6Stem(stem), Ipv6Stem(stem),
      Ipv6Stem(stem));
  if (hosts.empty()) {
    out += fmt::format(
        "\n# No hosts yet. Add one [[network.host]] per VM, from {}.{} up to {}.{}:\n"
        "# [[network.host]]\n"
        "# name = \"vm01\"\n"
        "# address = \"{}.{}\"\n",
        stem, kFirstHostOctet, stem, kDhcpFirstOctet - 1, stem, kFirstHostOctet);
    return out;
  }
  int next_free = kFirstHostOctet + static_cast<int>(hosts.size());
  out += "\n# Static hosts: name, fixed address and MAC.";
  out += next_free < kDhcpFirstOctet ? fmt::format(" Free for more hosts: {}.{}-{}.{}.\n", stem,
                                                   next_free, stem, kDhcpFirstOctet - 1)
                                     : std::string(" No address below the DHCP range is left.\n");
  for (const auto& host : hosts)
    out += fmt::format("\n[[network.host]]\nname = {}\naddress = {}\nmac = {}\n",
                       TomlQuoted(host.name), TomlQuoted(host.address), TomlQuoted(host.mac));
  return out;
}

std::string ForwardExample(const InitOptions& options, const std::vector<PlannedHost>& hosts) {
  std::string target = hosts.empty()
                           ? fmt::format("address = \"{}.{}\"", options.network, kFirstHostOctet)
                           : "host = " + TomlQuoted(hosts.front().name);
  std::string out = fmt::format(
      "# Port forwards: none yet. Add them here or with `virtnat forward add`, for example\n"
      "# ssh on port 2222 of this machine to port 22 of a VM:\n"
      "# [[forward]]\n"
      "# {}\n"
      "# port = 2222\n"
      "# to_port = 22\n"
      "# protocol = \"tcp\"\n",
      target);
  if (options.public_address.empty())
    out += "# listen = \"198.51.100.1\"  # needed while settings.public_address is not set\n";
  out += "# source = [\"198.51.100.0/24\"]  # optional: only these clients may connect\n";
  out += "# description = \"ssh\"\n";
  return out;
}

}  // namespace

const std::vector<std::string>& DefaultInitNodeNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    AppendSeries(list, "lxdns", 2, 2);
    AppendSeries(list, "lxcm", 2, 2);
    AppendSeries(list, "lxcc", 4, 2);
    AppendSeries(list, "lxrm", 2, 2);
    AppendSeries(list, "lxb", 10, 3);
    AppendSeries(list, "lxmon", 5, 2);
    AppendSeries(list, "lxdev", 4, 2);
    AppendSeries(list, "lxfs", 5, 2);
    AppendSeries(list, "lxhvs", 4, 2);
    AppendSeries(list, "lxdb", 3, 2);
    AppendSeries(list, "lxrepo", 3, 2);
    return list;
  }();
  return names;
}

std::string GenerateInitConfig(const InitOptions& options) {
  auto base = ParseNetworkStem(options.network);
  if (!base)
    Refuse(fmt::format("network '{}' is not three octets like 10.1.1 (the /24 to use)",
                       options.network));
  if (!IsValidInterfaceName(options.bridge))
    Refuse(
        fmt::format("bridge '{}' is not a valid interface name (1-15 bytes, no '/', ':' or "
                    "spaces)",
                    options.bridge));
  if (!IsValidDomain(options.domain))
    Refuse(fmt::format("domain '{}' is not a valid DNS domain", options.domain));
  auto prefix = ParseMacPrefix(options.mac_prefix);
  if (!prefix)
    Refuse(
        fmt::format("MAC prefix '{}' is not five bytes like 02:FF:0A:0A:06", options.mac_prefix));
  // An odd first byte is a multicast address, which no NIC may use.
  if ((*prefix)[0] & 1)
    Refuse(
        fmt::format("MAC prefix '{}' is a multicast address; its first byte must be even "
                    "(02 is the usual choice)",
                    options.mac_prefix));
  if (options.provider != "external" && options.provider != "libvirt" &&
      options.provider != "standalone")
    Refuse(fmt::format("provider '{}' is not external, libvirt or standalone", options.provider));
  if (!options.public_address.empty() && options.public_address != "*" &&
      !Ipv4Address::Parse(options.public_address))
    Refuse(
        fmt::format("public address '{}' is not an IPv4 address or \"*\"", options.public_address));

  auto hosts = PlanHosts(options, options.network, *prefix);
  std::string mac_prefix =
      MacAddress{{(*prefix)[0], (*prefix)[1], (*prefix)[2], (*prefix)[3], (*prefix)[4], 0}}
          .ToString()
          .substr(0, 14);

  return "# virtnat configuration, written by `virtnat init`.\n"
         "# Check it with `virtnat check`, see what would change with `virtnat plan`, and\n"
         "# install it with `virtnat apply`. Files in conf.d/ beside this one are read after it.\n"
         "\n" +
         SettingsSection(options) + "\n" +
         NetworkSection(options, options.network, mac_prefix, hosts) + "\n" +
         ForwardExample(options, hosts);
}

}  // namespace virtnat
