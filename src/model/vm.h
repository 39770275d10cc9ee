// A VM and its network interfaces as the VM inventory reports them (`virtnat vm list`, the
// web console), with the host of the config each interface is.
#pragma once

#include <string>
#include <vector>

namespace virtnat {

struct VmInterface {
  std::string type;         // network, bridge, direct, user, vhostuser, hostdev, ...
  std::string model;        // virtio, e1000, ...; empty when the XML names none
  std::string mac;          // upper case like the config's; as written when it is no MAC
  std::string source_type;  // what `source` is: network, bridge, dev, path, address; or empty
  std::string source;       // the libvirt network, the bridge, the host device, ...
  std::string bridge;       // the bridge it is plugged into, when known (a running domain's
                            // type network interface names it in its live XML)
  std::string target;       // the host-side device of a running domain (vnet0)
  std::vector<std::string> addresses;  // from the DHCP leases, while the domain runs
  // The config's host this interface is (by MAC, else by the domain's name), or empty.
  std::string host;
  std::string host_network;
  std::string host_address;
};

struct VmInfo {
  std::string name;
  std::string state;  // as virsh says it: running, shut off, paused, idle, in shutdown, ...
  bool active = false;
  bool persistent = false;
  std::vector<VmInterface> interfaces;
};

}  // namespace virtnat
