// Small helpers for writing TOML text by hand: the CLI config file and the importers.
#pragma once

#include <string>

namespace virtnat {

// A TOML basic string with quotes, backslashes and control characters escaped.
std::string TomlQuoted(const std::string& text);

// The text with control characters shown as escapes, safe for one-line messages and comments.
std::string PrintableLine(const std::string& text);

}  // namespace virtnat
