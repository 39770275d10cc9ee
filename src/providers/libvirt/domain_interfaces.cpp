#include "providers/libvirt/domain_interfaces.h"

#include <fmt/format.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <cctype>
#include <pugixml.hpp>

#include "base/errors.h"
#include "model/net.h"

namespace virtnat {
namespace {

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// The config's spelling of a MAC (upper case); text that is no MAC stays as written.
std::string NormalMac(const std::string& text) {
  if (auto mac = MacAddress::Parse(text)) return mac->ToString();
  return text;
}

// What the <source> of an interface names, by type: a libvirt network, a bridge, a host
// device (direct), a socket path (vhostuser), an address:port (udp, mcast, server, client).
void ReadSource(const pugi::xml_node& interface, DomainInterface& nic) {
  pugi::xml_node source = interface.child("source");
  if (!source) return;
  for (const char* attribute : {"network", "bridge", "dev", "path"}) {
    if (auto value = source.attribute(attribute)) {
      nic.source_type = attribute;
      nic.source = value.as_string();
      break;
    }
  }
  if (nic.source.empty() && source.attribute("address")) {
    nic.source_type = "address";
    nic.source = source.attribute("address").as_string();
    if (source.attribute("port"))
      nic.source += std::string(":") + source.attribute("port").as_string();
  }
  if (nic.source_type == "bridge")
    nic.bridge = nic.source;
  else if (source.attribute("bridge"))  // type network, live XML
    nic.bridge = source.attribute("bridge").as_string();
}

[[noreturn]] void Fail(const std::string& what) {
  const char* message = virGetLastErrorMessage();
  throw RuntimeFailure(fmt::format("libvirt: {}: {}", what, message ? message : "unknown error"));
}

void IgnoreLibvirtErrors(void*, virErrorPtr) {}  // errors are reported through exceptions

// A connection of our own (LibvirtClient keeps its connection to itself), read only in use.
struct Connection {
  virConnectPtr pointer = nullptr;
  explicit Connection(const std::string& uri) {
    virSetErrorFunc(nullptr, IgnoreLibvirtErrors);
    pointer = virConnectOpen(uri.c_str());
    if (!pointer) Fail(fmt::format("cannot connect to {}", uri));
  }
  ~Connection() {
    if (pointer) virConnectClose(pointer);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
};

// The DHCP leases of a running domain's interfaces, by upper-case MAC.
void ReadLeaseAddresses(virDomainPtr domain, std::vector<DomainInterface>& interfaces) {
  virDomainInterfacePtr* found = nullptr;
  int count =
      virDomainInterfaceAddresses(domain, &found, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);
  if (count < 0) return;  // no leases to be had (no libvirt network): no addresses
  for (int i = 0; i < count; ++i) {
    const virDomainInterface* entry = found[i];
    std::string mac = entry->hwaddr ? NormalMac(entry->hwaddr) : "";
    for (auto& nic : interfaces) {
      if (nic.mac.empty() || Upper(nic.mac) != Upper(mac)) continue;
      for (unsigned j = 0; j < entry->naddrs; ++j) {
        std::string address = entry->addrs[j].addr ? entry->addrs[j].addr : "";
        if (!address.empty() &&
            std::find(nic.addresses.begin(), nic.addresses.end(), address) == nic.addresses.end())
          nic.addresses.push_back(address);
      }
    }
    virDomainInterfaceFree(found[i]);
  }
  free(found);
}

}  // namespace

std::vector<DomainInterface> ParseDomainInterfaces(const std::string& xml,
                                                   const std::string& source_name) {
  pugi::xml_document document;
  auto result = document.load_buffer(xml.data(), xml.size());
  if (!result) {
    auto offset = static_cast<std::size_t>(std::max<std::ptrdiff_t>(result.offset, 0));
    int line = 1 + static_cast<int>(
                       std::count(xml.begin(), xml.begin() + std::min(offset, xml.size()), '\n'));
    throw BadInput(fmt::format("{}:{}: domain XML: {}", source_name, line, result.description()));
  }
  auto domain = document.child("domain");
  if (!domain) throw BadInput(fmt::format("{}:1: domain XML: no <domain> element", source_name));
  std::vector<DomainInterface> interfaces;
  for (auto interface : domain.child("devices").children("interface")) {
    DomainInterface nic;
    nic.type = interface.attribute("type").as_string();
    nic.model = interface.child("model").attribute("type").as_string();
    nic.mac = NormalMac(interface.child("mac").attribute("address").as_string());
    nic.target = interface.child("target").attribute("dev").as_string();
    ReadSource(interface, nic);
    interfaces.push_back(std::move(nic));
  }
  return interfaces;
}

std::string DomainStateName(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
      return "running";
    case VIR_DOMAIN_BLOCKED:
      return "idle";
    case VIR_DOMAIN_PAUSED:
      return "paused";
    case VIR_DOMAIN_SHUTDOWN:
      return "in shutdown";
    case VIR_DOMAIN_SHUTOFF:
      return "shut off";
    case VIR_DOMAIN_CRASHED:
      return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
      return "pmsuspended";
    default:
      return "no state";
  }
}

std::vector<DomainInterfaces> ReadDomainInterfaces(const std::string& uri) {
  Connection connection(uri);
  virDomainPtr* domains = nullptr;
  int count = virConnectListAllDomains(connection.pointer, &domains, 0);
  if (count < 0) Fail("cannot list domains");
  std::vector<DomainInterfaces> result;
  for (int i = 0; i < count; ++i) {
    virDomainPtr domain = domains[i];
    DomainInterfaces item;
    const char* name = virDomainGetName(domain);
    item.name = name ? name : "";
    int state = VIR_DOMAIN_NOSTATE, reason = 0;
    if (virDomainGetState(domain, &state, &reason, 0) == 0)
      item.state = DomainStateName(state);
    else
      item.state = DomainStateName(VIR_DOMAIN_NOSTATE);
    item.active = virDomainIsActive(domain) == 1;
    item.persistent = virDomainIsPersistent(domain) == 1;
    // A running domain's live XML (with its tap device and bridge); else its definition.
    if (char* xml = virDomainGetXMLDesc(domain, 0)) {
      try {
        item.interfaces = ParseDomainInterfaces(xml, "libvirt domain " + item.name);
      } catch (const BadInput&) {
        // A domain libvirt describes badly is shown without interfaces, not fatal.
      }
      free(xml);
    }
    if (item.active) ReadLeaseAddresses(domain, item.interfaces);
    result.push_back(std::move(item));
    virDomainFree(domain);
  }
  free(domains);
  std::sort(result.begin(), result.end(),
            [](const DomainInterfaces& a, const DomainInterfaces& b) { return a.name < b.name; });
  return result;
}

}  // namespace virtnat
