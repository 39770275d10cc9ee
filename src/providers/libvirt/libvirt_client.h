// Thin adapter over libvirt's C API: networks and the running domains. Never used by the
// hook (libvirt documents that calling back from a hook deadlocks).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "providers/libvirt/domain_xml.h"

struct _virConnect;

namespace virtnat {

struct LibvirtNetworkState {
  std::string name;
  bool active = false;
  bool autostart = false;
  bool persistent = false;
  std::string bridge;
};

class LibvirtClient {
 public:
  // Throws RuntimeFailure with libvirt's message when the URI cannot be reached.
  explicit LibvirtClient(const std::string& uri);
  // Uses a connection somebody else owns (and closes).
  explicit LibvirtClient(_virConnect* borrowed) : connection_(borrowed), owned_(false) {}
  ~LibvirtClient();
  LibvirtClient(const LibvirtClient&) = delete;
  LibvirtClient& operator=(const LibvirtClient&) = delete;

  std::vector<LibvirtNetworkState> ListNetworks();
  std::optional<LibvirtNetworkState> FindNetwork(const std::string& name);
  // The persistent (inactive) definition, as libvirt stores it.
  std::string NetworkXml(const std::string& name);
  void DefineNetwork(const std::string& xml);
  void StartNetwork(const std::string& name);
  void StopNetwork(const std::string& name);
  void UndefineNetwork(const std::string& name);
  void SetAutostart(const std::string& name, bool autostart);
  // Adds or deletes one DHCP host or DNS host entry, live and in the definition. A DHCP host
  // goes to the <ip> element at `ip_index` (among the network's <ip> elements); -1 lets
  // libvirt pick the one with DHCP.
  void UpdateNetworkHost(const std::string& name, bool dhcp_section, bool add,
                         const std::string& xml, int ip_index = -1);

  std::vector<DomainInfo> RunningDomains();

  struct Lease {
    long long expiry = 0;
    std::string mac, address, hostname, client_id;
  };
  std::vector<Lease> Leases(const std::string& network);

 private:
  _virConnect* connection_ = nullptr;
  bool owned_ = true;
};

}  // namespace virtnat
