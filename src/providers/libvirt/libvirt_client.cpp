#include "providers/libvirt/libvirt_client.h"

#include <fmt/format.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "base/errors.h"

namespace virtnat {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  const char* message = virGetLastErrorMessage();
  throw RuntimeFailure(fmt::format("libvirt: {}: {}", what, message ? message : "unknown error"));
}

// Owns a virNetworkPtr.
struct NetworkHandle {
  virNetworkPtr network;
  ~NetworkHandle() {
    if (network) virNetworkFree(network);
  }
};

void IgnoreLibvirtErrors(void*, virErrorPtr) {}  // errors are reported through exceptions

}  // namespace

LibvirtClient::LibvirtClient(const std::string& uri) {
  virSetErrorFunc(nullptr, IgnoreLibvirtErrors);
  connection_ = virConnectOpen(uri.c_str());
  if (!connection_) Fail(fmt::format("cannot connect to {}", uri));
}

LibvirtClient::~LibvirtClient() {
  if (connection_ && owned_) virConnectClose(connection_);
}

std::vector<LibvirtNetworkState> LibvirtClient::ListNetworks() {
  virNetworkPtr* networks = nullptr;
  int count = virConnectListAllNetworks(connection_, &networks, 0);
  if (count < 0) Fail("cannot list networks");
  std::vector<LibvirtNetworkState> result;
  for (int i = 0; i < count; ++i) {
    NetworkHandle handle{networks[i]};
    int autostart = 0;
    virNetworkGetAutostart(handle.network, &autostart);
    char* bridge = virNetworkGetBridgeName(handle.network);
    result.push_back({virNetworkGetName(handle.network), virNetworkIsActive(handle.network) == 1,
                      autostart == 1, virNetworkIsPersistent(handle.network) == 1,
                      bridge ? bridge : ""});
    free(bridge);
  }
  free(networks);
  return result;
}

std::optional<LibvirtNetworkState> LibvirtClient::FindNetwork(const std::string& name) {
  for (auto& network : ListNetworks())
    if (network.name == name) return network;
  return std::nullopt;
}

std::string LibvirtClient::NetworkXml(const std::string& name) {
  NetworkHandle handle{virNetworkLookupByName(connection_, name.c_str())};
  if (!handle.network) Fail(fmt::format("no network {}", name));
  char* xml = virNetworkGetXMLDesc(handle.network, VIR_NETWORK_XML_INACTIVE);
  if (!xml) Fail(fmt::format("cannot read the XML of network {}", name));
  std::string text = xml;
  free(xml);
  return text;
}

void LibvirtClient::DefineNetwork(const std::string& xml) {
  NetworkHandle handle{virNetworkDefineXML(connection_, xml.c_str())};
  if (!handle.network) Fail("cannot define network");
}

void LibvirtClient::StartNetwork(const std::string& name) {
  NetworkHandle handle{virNetworkLookupByName(connection_, name.c_str())};
  if (!handle.network) Fail(fmt::format("no network {}", name));
  if (virNetworkIsActive(handle.network) == 1) return;
  if (virNetworkCreate(handle.network) != 0) Fail(fmt::format("cannot start network {}", name));
}

void LibvirtClient::StopNetwork(const std::string& name) {
  NetworkHandle handle{virNetworkLookupByName(connection_, name.c_str())};
  if (!handle.network) Fail(fmt::format("no network {}", name));
  if (virNetworkIsActive(handle.network) != 1) return;
  if (virNetworkDestroy(handle.network) != 0) Fail(fmt::format("cannot stop network {}", name));
}

void LibvirtClient::UndefineNetwork(const std::string& name) {
  NetworkHandle handle{virNetworkLookupByName(connection_, name.c_str())};
  if (!handle.network) Fail(fmt::format("no network {}", name));
  if (virNetworkIsActive(handle.network) == 1 && virNetworkDestroy(handle.network) != 0)
    Fail(fmt::format("cannot stop network {}", name));
  if (virNetworkUndefine(handle.network) != 0)
    Fail(fmt::format("cannot undefine network {}", name));
}

void LibvirtClient::SetAutostart(const std::string& name, bool autostart) {
  NetworkHandle handle{virNetworkLookupByName(connection_, name.c_str())};
  if (!handle.network) Fail(fmt::format("no network {}", name));
  if (virNetworkSetAutostart(handle.network, autostart ? 1 : 0) != 0)
    Fail(fmt::format("cannot set autostart of network {}", name));
}

void LibvirtClient::UpdateNetworkHost(const std::string& name, bool dhcp_section, bool add,
                                      const std::string& xml, int ip_index) {
  NetworkHandle handle{virNetworkLookupByName(connection_, name.c_str())};
  if (!handle.network) Fail(fmt::format("no network {}", name));
  unsigned flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG;
  if (virNetworkIsActive(handle.network) == 1) flags |= VIR_NETWORK_UPDATE_AFFECT_LIVE;
  unsigned command = add ? VIR_NETWORK_UPDATE_COMMAND_ADD_LAST : VIR_NETWORK_UPDATE_COMMAND_DELETE;
  unsigned section = dhcp_section ? VIR_NETWORK_SECTION_IP_DHCP_HOST : VIR_NETWORK_SECTION_DNS_HOST;
  if (virNetworkUpdate(handle.network, command, section, dhcp_section ? ip_index : -1, xml.c_str(),
                       flags) != 0)
    Fail(fmt::format("cannot update network {} with {}", name, xml));
}

std::vector<LibvirtClient::Lease> LibvirtClient::Leases(const std::string& name) {
  NetworkHandle handle{virNetworkLookupByName(connection_, name.c_str())};
  if (!handle.network) Fail(fmt::format("no network {}", name));
  virNetworkDHCPLeasePtr* leases = nullptr;
  int count = virNetworkGetDHCPLeases(handle.network, nullptr, &leases, 0);
  if (count < 0) Fail(fmt::format("cannot read the leases of network {}", name));
  std::vector<Lease> result;
  for (int i = 0; i < count; ++i) {
    const auto* lease = leases[i];
    result.push_back({lease->expirytime, lease->mac ? lease->mac : "",
                      lease->ipaddr ? lease->ipaddr : "", lease->hostname ? lease->hostname : "",
                      lease->clientid ? lease->clientid : ""});
    virNetworkDHCPLeaseFree(leases[i]);
  }
  free(leases);
  return result;
}

std::vector<DomainInfo> LibvirtClient::RunningDomains() {
  virDomainPtr* domains = nullptr;
  int count = virConnectListAllDomains(connection_, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (count < 0) Fail("cannot list domains");
  std::vector<DomainInfo> result;
  for (int i = 0; i < count; ++i) {
    char* xml = virDomainGetXMLDesc(domains[i], 0);
    if (xml) {
      try {
        result.push_back(ParseDomainXml(xml, "libvirt"));
      } catch (const std::exception&) {
        // A domain libvirt describes badly is skipped, not fatal.
      }
      free(xml);
    }
    virDomainFree(domains[i]);
  }
  free(domains);
  return result;
}

}  // namespace virtnat
