// Reads the config: the main file, then every conf.d/*.toml beside it in name order.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "model/model.h"

namespace virtnat {

struct ConfigSource {
  std::string path;  // as shown in messages
  std::string text;
};

inline constexpr const char* kDefaultConfigPath = "/etc/virtnat/virtnat.toml";

// The one file that commands edit; hand-written files are never rewritten.
std::filesystem::path CliConfigPath(const std::filesystem::path& main_file);

// Reads the main file and conf.d/*.toml. Throws BadInput when the main file is missing, or,
// run as root, when a non-root user could write one of them or their folders.
std::vector<ConfigSource> ReadConfigSources(const std::filesystem::path& main_file);

// Parses and validates; every problem lands in `diagnostics`.
Config ParseConfig(const std::vector<ConfigSource>& sources, Diagnostics& diagnostics);

// Parses a file that holds only [[forward]] tables (conf.d/50-cli.toml, as `forward add`
// writes it) the way ParseConfig parses it beside the rest of a config with `settings`: its
// forwards, not yet validated (ValidateConfig resolves them). nullopt when the file holds
// anything else or does not parse: only ParseConfig of the whole config can tell then.
std::optional<std::vector<Forward>> ParseForwardOnlyFile(const ConfigSource& source,
                                                        const Settings& settings,
                                                        Diagnostics& diagnostics);

// Read + parse + validate; throws BadInput listing every error.
Config LoadConfig(const std::filesystem::path& main_file, Diagnostics& diagnostics);

// Joins errors as one line each, for BadInput.
std::string FormatErrors(const Diagnostics& diagnostics);

}  // namespace virtnat
