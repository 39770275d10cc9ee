// Every domain libvirt knows and its network interfaces, as `virtnat vm list` shows them (and
// the web console's "VMs and interfaces" view): for each <interface> the type, model, MAC,
// source network or bridge, target device, the addresses from the DHCP leases and which host
// of the config it is. Parsing and host matching are pure; ReadDomainInterfaces talks to
// libvirt (read only).
#pragma once

#include <string>
#include <vector>

#include "model/model.h"
#include "model/vm.h"

namespace virtnat {

using DomainInterface = VmInterface;
using DomainInterfaces = VmInfo;

// The interfaces of one domain XML, in document order (no addresses, no hosts). Throws
// BadInput "SOURCE:LINE: domain XML: ..." when the XML is malformed or has no <domain>.
std::vector<DomainInterface> ParseDomainInterfaces(const std::string& xml,
                                                   const std::string& source_name);

// virsh's word for a virDomainState value ("running", "shut off", ...).
std::string DomainStateName(int state);

// Every domain behind `uri` (running or not), sorted by name, with its interfaces; the
// addresses of a running domain's interfaces from libvirt's leases
// (virDomainInterfaceAddresses, source LEASE). No host matching. Throws RuntimeFailure with
// libvirt's message when libvirt cannot be reached or cannot list its domains.
std::vector<DomainInterfaces> ReadDomainInterfaces(const std::string& uri);

}  // namespace virtnat
