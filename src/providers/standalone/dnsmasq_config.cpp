#include "providers/standalone/dnsmasq_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <sstream>

#include "base/errors.h"
#include "providers/standalone/link_names.h"

namespace virtnat {
namespace {

bool HasMac(const Host& host) {
  return host.mac != MacAddress{};
}

std::string Netmask(const Ipv4Prefix& subnet) {
  return Ipv4Address{subnet.Mask()}.ToString();
}

// The number of addresses of an IPv6 range, capped: dnsmasq counts leases in an int.
std::int64_t RangeSize6(const Ipv6Range& range, std::int64_t cap) {
  std::int64_t size = 0;
  // last - first, byte by byte (a byte's difference may be negative: the sum stays exact, and
  // never negative once a higher byte differs); stops as soon as it passes the cap.
  for (std::size_t i = 0; i < range.first.bytes.size(); ++i) {
    size = size * 256 + (range.last.bytes[i] - range.first.bytes[i]);
    if (size >= cap) return cap;
  }
  return std::min(size + 1, cap);
}

// The IPv6 half of a dual-stack network's dnsmasq.conf: router advertisements and DHCPv6.
std::string RenderIpv6Conf(const Network& network) {
  const Ipv6Interface& address6 = *network.address6;
  std::string subnet = address6.Subnet().network.ToString();
  bool any_mac = std::any_of(network.hosts.begin(), network.hosts.end(), HasMac);
  std::string conf;
  if (network.dhcp_range6)  // stateful DHCPv6: the static hosts and unknown clients
    conf += fmt::format("dhcp-range={},{},{}\n", network.dhcp_range6->first.ToString(),
                        network.dhcp_range6->last.ToString(), address6.length);
  else if (any_mac || address6.length != 64)
    // DHCPv6 answers the static hosts only. dnsmasq advertises SLAAC (ra-only, ra-stateless)
    // on a /64 only: on a longer prefix the RA still gives the route, and guests with no
    // static entry configure their address themselves.
    conf += fmt::format("dhcp-range={},static,{}\n", subnet, address6.length);
  else  // nobody to give a DHCPv6 address to: SLAAC, with names guessed from DHCPv4 leases
    conf += fmt::format("dhcp-range={},ra-stateless,ra-names,{}\n", subnet, address6.length);
  conf += "enable-ra\n";
  // Isolated guests get no default route: router lifetime 0 (the interval stays the default).
  if (network.mode == NetworkMode::kIsolated)
    conf += fmt::format("ra-param={},0,0\n", network.bridge);
  return conf;
}

}  // namespace

std::filesystem::path StandalonePaths::NetworkDir(const std::string& network) const {
  // The loader allows names like "." or ".."; as a path component they would escape lib_dir.
  if (network.empty() || network == "." || network == ".." ||
      network.find('/') != std::string::npos)
    throw BadInput(fmt::format("network name '{}' cannot name a folder", network));
  return lib_dir / network;
}

std::filesystem::path StandalonePaths::ConfFile(const std::string& network) const {
  return NetworkDir(network) / "dnsmasq.conf";
}

std::filesystem::path StandalonePaths::HostsFile(const std::string& network) const {
  return NetworkDir(network) / "hostsfile";
}

std::filesystem::path StandalonePaths::AddnHostsFile(const std::string& network) const {
  return NetworkDir(network) / "addnhosts";
}

std::filesystem::path StandalonePaths::LeaseFile(const std::string& network) const {
  return NetworkDir(network) / "leases";
}

std::filesystem::path StandalonePaths::PidFile(const std::string& network) const {
  NetworkDir(network);  // the same check of the name
  return run_dir / ("dnsmasq-" + network + ".pid");
}

int DhcpLeaseMax(const Network& network) {
  // Every lease lies in the subnet: its addresses but the network, broadcast and host ones.
  std::int64_t addresses = std::int64_t{1} << (32 - network.address.length);
  std::int64_t leases = std::max<std::int64_t>(addresses - 3, 1);
  if (!network.DualStack()) return static_cast<int>(leases);
  // dnsmasq counts IPv4 and IPv6 leases against the one limit. The static hosts' IPv6 leases
  // are bound by the IPv4 subnet (each host has an IPv4 address in it), unknown clients' by
  // the IPv6 range.
  constexpr std::int64_t kMaxLeases = std::int64_t{1} << 24;
  std::int64_t leases6 = leases;
  if (network.dhcp_range6) leases6 += RangeSize6(*network.dhcp_range6, kMaxLeases);
  return static_cast<int>(std::min(leases + leases6, kMaxLeases));
}

DnsmasqFiles RenderDnsmasqFiles(const Network& network, const StandalonePaths& paths) {
  Ipv4Prefix subnet = network.address.Subnet();
  DnsmasqFiles files;
  std::string& conf = files.conf;
  conf += fmt::format("# Written by virtnat for network {}: `virtnat apply` overwrites changes.\n",
                      network.name);
  // Bound to this bridge's addresses only, so other dnsmasq instances (libvirt's, other
  // networks') coexist and the LAN side is never served.
  conf += fmt::format("interface={}\n", network.bridge);
  conf += "except-interface=lo\n";
  conf += "bind-dynamic\n";
  conf += "strict-order\n";
  conf += fmt::format("pid-file={}\n", paths.PidFile(network.name).string());
  conf += fmt::format("user={}\ngroup={}\n", kDnsmasqUser, kDnsmasqGroup);
  if (!network.domain.empty()) {
    conf += fmt::format("domain={}\n", network.domain);
    // Names of the domain are answered here only, never forwarded upstream.
    conf += fmt::format("local=/{}/\n", network.domain);
    conf += "expand-hosts\n";
  }
  if (network.dhcp_range)
    conf += fmt::format("dhcp-range={},{},{}\n", network.dhcp_range->first.ToString(),
                        network.dhcp_range->last.ToString(), Netmask(subnet));
  else  // no dynamic addresses: DHCP answers the static hosts only
    conf += fmt::format("dhcp-range={},static,{}\n", subnet.network.ToString(), Netmask(subnet));
  // Isolated guests get no default route (an empty router option), as libvirt does.
  if (network.mode == NetworkMode::kIsolated) conf += "dhcp-option=3\n";
  if (network.DualStack()) conf += RenderIpv6Conf(network);
  conf += "dhcp-no-override\n";
  conf += "dhcp-authoritative\n";
  conf += fmt::format("dhcp-lease-max={}\n", DhcpLeaseMax(network));
  conf += fmt::format("dhcp-hostsfile={}\n", paths.HostsFile(network.name).string());
  conf += fmt::format("addn-hosts={}\n", paths.AddnHostsFile(network.name).string());
  conf += fmt::format("dhcp-leasefile={}\n", paths.LeaseFile(network.name).string());

  for (const auto& host : network.hosts) {
    // One line per host carries both families: "mac,10.77.0.28,[fd00:77::1c],name". DHCPv6
    // finds the client's MAC in its DUID or the neighbour table.
    std::optional<Ipv6Address> address6 = network.DualStack() ? host.address6 : std::nullopt;
    std::string addresses = host.address.ToString();
    if (address6) addresses += fmt::format(",[{}]", address6->ToString());
    if (HasMac(host))
      files.hostsfile += fmt::format("{},{},{}\n", LowerCaseMac(host.mac), addresses, host.name);
    std::string fqdn = network.Fqdn(host);
    std::string names = fqdn == host.name ? host.name : fqdn + " " + host.name;
    files.addnhosts += fmt::format("{} {}\n", host.address.ToString(), names);
    if (address6) files.addnhosts += fmt::format("{} {}\n", address6->ToString(), names);  // AAAA
  }
  return files;
}

std::vector<DhcpLease> ParseDnsmasqLeases(const std::string& text) {
  std::vector<DhcpLease> leases;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string expiry, mac, address, hostname, client_id;
    if (!(fields >> expiry >> mac >> address >> hostname)) continue;
    fields >> client_id;  // optional in old files
    DhcpLease lease;
    auto [end, error] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), lease.expiry);
    if (error != std::errc{} || end != expiry.data() + expiry.size()) continue;  // "duid ..."
    auto parsed = Ipv4Address::Parse(address);
    if (!parsed) continue;  // an IPv6 lease
    lease.mac = mac;
    lease.address = *parsed;
    lease.hostname = hostname == "*" ? "" : hostname;
    lease.client_id = client_id == "*" ? "" : client_id;
    leases.push_back(std::move(lease));
  }
  return leases;
}

namespace {

// "00:01:00:01:2c:8a:1b:2f:52:54:00:12:34:56" (LLT) or "00:03:00:01:52:54:00:12:34:56" (LL):
// the Ethernet MAC at its end; "" for any other DUID.
std::string MacOfDuid(const std::string& duid) {
  std::string lower = duid;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::size_t mac_start = lower.starts_with("00:01:00:01:")   ? 24  // type, hw type, time
                          : lower.starts_with("00:03:00:01:") ? 12  // type, hw type
                                                              : std::string::npos;
  if (mac_start == std::string::npos || lower.size() != mac_start + 17) return "";
  std::string mac = lower.substr(mac_start);
  return MacAddress::Parse(mac) ? mac : "";
}

}  // namespace

std::vector<DhcpLease6> ParseDnsmasqLeases6(const std::string& text) {
  std::vector<DhcpLease6> leases;
  std::istringstream lines(text);
  std::string line;
  bool after_duid = false;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string expiry, iaid, address, hostname, duid;
    if (line.starts_with("duid ")) {
      after_duid = true;
      continue;
    }
    if (!after_duid || !(fields >> expiry >> iaid >> address >> hostname >> duid)) continue;
    DhcpLease6 lease;
    auto [end, error] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), lease.expiry);
    auto parsed = Ipv6Address::Parse(address);
    if (error != std::errc{} || end != expiry.data() + expiry.size() || !parsed) continue;
    lease.address = *parsed;
    lease.hostname = hostname == "*" ? "" : hostname;
    lease.duid = duid == "*" ? "" : duid;
    lease.mac = MacOfDuid(lease.duid);
    leases.push_back(std::move(lease));
  }
  return leases;
}

StandalonePaths StandalonePathsFromEnvironment() {
  StandalonePaths paths;
  if (const char* folder = std::getenv("VIRTNAT_LIB_DIR"); folder && *folder)
    paths.lib_dir = folder;
  if (const char* folder = std::getenv("VIRTNAT_RUN_DIR"); folder && *folder)
    paths.run_dir = folder;
  return paths;
}

}  // namespace virtnat
