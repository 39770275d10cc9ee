// A valid config shared by unit tests, and a helper that parses config text.
#pragma once

#include <string>

#include "config/config_loader.h"

namespace virtnat::testing {

inline const char* kBaseConfig = R"(
[settings]
table = "virtnat"
public_address = "198.51.100.1"
vm_lifecycle = "ignore"

[[network]]
name = "nat_bridge"
mode = "nat"
provider = "external"
bridge = "nbr0"
address = "10.1.1.1/24"
dhcp_range = "10.1.1.100-10.1.1.254"
domain = "devops.test"
mac_prefix = "02:FF:0A:0A:06"

[[network.host]]
name = "lxdev01"
address = "10.1.1.28"
mac = "02:FF:0A:0A:06:1C"

[[network.host]]
name = "lxdev02"
address = "10.1.1.29"

[[forward]]
host = "lxdev01"
port = "2222"
to_port = "22"
description = "ssh"
)";

inline Config Parse(const std::string& text, Diagnostics& diagnostics,
                    const std::string& extra = "") {
  std::vector<ConfigSource> sources{{"virtnat.toml", text}};
  if (!extra.empty()) sources.push_back({"conf.d/50-cli.toml", extra});
  return ParseConfig(sources, diagnostics);
}

}  // namespace virtnat::testing
