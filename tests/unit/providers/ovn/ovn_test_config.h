// A fleet config for the ovn provider's unit tests: the issue's example network with two hosts
// and forwards of every kind, beside a standalone network.
#pragma once

#include <string>

#include "config/config_loader.h"

namespace virtnat::testing {

inline const std::string kFleetConfig = R"([settings]
public_address = "192.0.2.1"
ovn_northbound = "unix:/run/ovn/ovnnb_db.sock"

[[network]]
name = "fleet"
provider = "ovn"
mode = "nat"
address = "10.99.0.1/24"
dhcp_range = "10.99.0.100-10.99.0.200"
domain = "fleet.test"
uplink = "physnet1"
uplink_address = "198.51.100.50/24"
uplink_gateway = "198.51.100.254"
gateway_chassis = ["hv1", "hv2"]

[[network.host]]
name = "web1"
address = "10.99.0.11"
mac = "02:76:6e:0a:00:0b"

[[network.host]]
name = "Web2"
address = "10.99.0.12"
mac = "02:76:6E:0A:00:0C"

[[network]]
name = "local"
provider = "standalone"
bridge = "vnlocal0"
address = "10.1.1.1/24"

[[network.host]]
name = "db1"
address = "10.1.1.5"

[[forward]]
host = "web1"
port = 8080
to_port = 80

[[forward]]
host = "Web2"
protocol = "tcp,udp"
port = "9000-9002"

[[forward]]
host = "web1"
port = 2222
to_port = 22
source = ["198.51.100.10/32", "203.0.113.0/24"]

[[forward]]
host = "db1"
port = 5432
)";

// kFleetConfig made dual-stack: network fleet gets address6, uplink_address6 and
// uplink_gateway6 (web1 and Web2 derive fd00:99::b and fd00:99::c).
inline std::string FleetConfig6() {
  std::string text = kFleetConfig;
  const std::string after = "uplink_gateway = \"198.51.100.254\"\n";
  text.replace(text.find(after), after.size(),
               after +
                   "address6 = \"fd00:99::1/64\"\nuplink_address6 = \"2001:db8:100::50/64\"\n"
                   "uplink_gateway6 = \"2001:db8:100::fe\"\n");
  return text;
}

inline Config ParseFleet(const std::string& text, Diagnostics& diagnostics) {
  return ParseConfig({{"virtnat.toml", text}}, diagnostics);
}

}  // namespace virtnat::testing
