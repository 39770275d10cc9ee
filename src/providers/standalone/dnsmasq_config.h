// What virtnat hands one dnsmasq per standalone network: its configuration, the static hosts
// and where the files live. Pure: nothing here touches the system.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/model.h"

namespace virtnat {

inline constexpr const char* kDnsmasqPath = "/usr/sbin/dnsmasq";
// Debian's dnsmasq-base creates this user (group nogroup): dnsmasq drops root after binding.
inline constexpr const char* kDnsmasqUser = "dnsmasq";
inline constexpr const char* kDnsmasqGroup = "nogroup";

// Where the files of standalone networks live. Per network: lib_dir/<network>/{dnsmasq.conf,
// hostsfile, addnhosts, leases} and run_dir/dnsmasq-<network>.pid.
struct StandalonePaths {
  std::filesystem::path lib_dir = "/var/lib/virtnat";
  std::filesystem::path run_dir = "/run/virtnat";

  // Throw BadInput for a network name that is not a plain file name ("", ".", "..", "a/b").
  std::filesystem::path NetworkDir(const std::string& network) const;
  std::filesystem::path ConfFile(const std::string& network) const;
  std::filesystem::path HostsFile(const std::string& network) const;
  std::filesystem::path AddnHostsFile(const std::string& network) const;
  std::filesystem::path LeaseFile(const std::string& network) const;
  std::filesystem::path PidFile(const std::string& network) const;
};

// The default folders, unless VIRTNAT_LIB_DIR and VIRTNAT_RUN_DIR say otherwise.
StandalonePaths StandalonePathsFromEnvironment();

struct DnsmasqFiles {
  std::string conf;       // dnsmasq.conf: changing it needs a restart
  std::string hostsfile;  // dhcp-hostsfile: "mac,address,name" per host with a MAC
                          // ("mac,address,[address6],name" in a dual-stack network)
  std::string addnhosts;  // addn-hosts: "address fqdn name" per host (and one per address6)
};

// The files for `network`, which needs an address (Network::has_address). A dual-stack network
// (address6) gets router advertisements (enable-ra) and DHCPv6 too: its dhcp_range6, or the
// static hosts only, or SLAAC when there is nobody to give a DHCPv6 address to.
DnsmasqFiles RenderDnsmasqFiles(const Network& network, const StandalonePaths& paths);

// How many leases dnsmasq may hand out: every usable address of the subnet but the host's.
// The range and the static hosts bound the real number; a limit of the range's size would let
// a full range lock the static hosts out, and one that counted the hosts would change the
// configuration (so restart dnsmasq) whenever a host is added. dnsmasq counts IPv4 and IPv6
// leases together: a dual-stack network adds as many again for the hosts, and its dhcp_range6.
int DhcpLeaseMax(const Network& network);

struct DhcpLease {
  std::int64_t expiry = 0;  // seconds since the epoch; 0 = never expires
  std::string mac;          // as dnsmasq wrote it: lower case for Ethernet
  Ipv4Address address;
  std::string hostname;   // empty when the client sent none ("*" in the file)
  std::string client_id;  // empty when none ("*" in the file)
  bool operator==(const DhcpLease&) const = default;
};

// dnsmasq's lease file: "EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID" per line. IPv6 leases (after
// the "duid" line) and malformed lines are skipped.
std::vector<DhcpLease> ParseDnsmasqLeases(const std::string& text);

struct DhcpLease6 {
  std::int64_t expiry = 0;  // seconds since the epoch; 0 = never expires
  Ipv6Address address;
  std::string hostname;  // empty when the client sent none
  std::string duid;      // the client's DUID, as dnsmasq wrote it
  // The MAC in a DUID-LLT or DUID-LL of an Ethernet NIC (most DHCPv6 clients send one);
  // empty for other DUIDs. Lower case, as dnsmasq writes IPv4 leases' MACs.
  std::string mac;
  bool operator==(const DhcpLease6&) const = default;
};

// The IPv6 leases of dnsmasq's lease file: after the "duid SERVER-DUID" line, "EXPIRY IAID
// ADDRESS HOSTNAME CLIENT-DUID" per line. Malformed lines are skipped.
std::vector<DhcpLease6> ParseDnsmasqLeases6(const std::string& text);

}  // namespace virtnat
