// Names and MAC addresses derived for a standalone network's links. They are stable across
// restarts, so guests' ARP caches and DHCP never see the bridge change.
#pragma once

#include <string>

#include "model/net.h"

namespace virtnat {

// The dummy NIC that holds the bridge's MAC: "<bridge>-nic" when that fits the kernel's
// 15-byte limit (bridge names up to 11 bytes), else the bridge's first 6 bytes, '-', 4 hex
// digits of a hash of the whole bridge name and "-nic" (e.g. "virtna-1f3a-nic").
std::string DummyNicName(const std::string& bridge);

// 52:54:00:xx:xx:xx (the prefix libvirt and QEMU use) with the last three bytes taken from a
// hash of the network name.
MacAddress StableBridgeMac(const std::string& network_name);

// Lower-case "52:54:00:ab:cd:ef", the form dnsmasq and the kernel print.
std::string LowerCaseMac(const MacAddress& mac);

}  // namespace virtnat
