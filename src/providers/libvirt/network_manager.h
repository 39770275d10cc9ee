// Brings libvirt's networks in line with the config (define, start, autostart; hosts updated
// live where libvirt allows, else redefine + restart) and reads which VMs run.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "providers/libvirt/libvirt_client.h"
#include "model/model.h"

namespace virtnat {

// Networks with provider = "libvirt" and define = true. A bridged network's host bridge is
// created (and its uplink enslaved) before libvirt defines or starts the network. Returns one
// line per action.
std::vector<std::string> ApplyLibvirtNetworks(LibvirtClient& client, const Config& config);

// `network start`: the host bridge of a bridged network, then the network: defined, started
// and autostarted when libvirt does not have it, else started.
std::vector<std::string> StartLibvirtNetwork(LibvirtClient& client, const Config& config,
                                             const Network& network);

// `network stop` / `network undefine`: the network stopped (and undefined) in libvirt, then
// the host bridge of a bridged network removed (the uplink released, never deleted).
std::vector<std::string> StopLibvirtNetwork(LibvirtClient& client, const Network& network,
                                            bool undefine);

// Running domains -> the config's hosts each stands for (by name or NIC MAC).
std::map<std::string, std::set<std::string>> RunningDomainsFromLibvirt(LibvirtClient& client,
                                                                       const Config& config);

bool ConfigNeedsLibvirt(const Config& config);

}  // namespace virtnat
