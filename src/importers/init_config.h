// `virtnat init`: a complete, commented starting config with vm-tools' defaults
// (virsh-nat-bridge): network nat_bridge on nbr0, 10.1.1.0/24, and 44 named hosts from .5.
#pragma once

#include <string>
#include <vector>

namespace virtnat {

struct InitOptions {
  std::string bridge = "nbr0";
  std::string domain = "devops.test";
  std::string mac_prefix = "02:FF:0A:0A:06";  // five bytes; the host's last octet completes it
  std::string network = "10.1.1";             // three octets; the bridge gets NETWORK.1/24
  std::vector<std::string> nodes;             // appended after the default names
  bool default_nodes = true;
  std::string provider = "external";  // external | libvirt | standalone
  std::string public_address;         // empty = write a commented example
};

// vm-tools' 44 default host names, in address order (the first gets NETWORK.5).
const std::vector<std::string>& DefaultInitNodeNames();

// The TOML text of the starting config. Throws BadInput ("virtnat: init: ...", one line) for a
// malformed option, duplicate node names, or more hosts than fit below the DHCP range.
std::string GenerateInitConfig(const InitOptions& options);

}  // namespace virtnat
