// Which host of the config a VM's interface is.
#pragma once

#include <string>
#include <vector>

#include "model/model.h"
#include "model/vm.h"

namespace virtnat {

// Fills host, host_network and host_address of each interface: the host whose MAC is the
// interface's; else, for a domain named like a host, the interface on that host's network
// (its libvirt network or bridge), or the only interface the domain has. As the hook does.
void MatchConfigHosts(const Config& config, const std::string& domain_name,
                      std::vector<VmInterface>& interfaces);

}  // namespace virtnat
