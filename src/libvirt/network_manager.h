// Brings libvirt's networks in line with the config (define, start, autostart; hosts updated
// live where libvirt allows, else redefine + restart) and reads which VMs run.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "libvirt/libvirt_client.h"
#include "model/model.h"

namespace virtnat {

// Networks with provider = "libvirt" and define = true. Returns one line per action.
std::vector<std::string> ApplyLibvirtNetworks(LibvirtClient& client, const Config& config);

// Running domains -> the config's hosts each stands for (by name or NIC MAC).
std::map<std::string, std::set<std::string>> RunningDomainsFromLibvirt(LibvirtClient& client,
                                                                       const Config& config);

bool ConfigNeedsLibvirt(const Config& config);

}  // namespace virtnat
