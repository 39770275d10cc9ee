// A valid config shared by unit tests, and a helper that parses config text.
#pragma once

#include <string>

#include "config/config_loader.h"
#include "lab_network_config.h"

namespace virtnat::testing {

// The lab's network (tests/data/lab-network.toml) and one forward; [settings] is on line 2.
inline const std::string kBaseConfig = std::string("\n") + kLabNetworkConfig + R"(
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
