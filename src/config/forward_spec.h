// The command-line form of a forward, `HOST:PORT[-PORT] PUBLICPORT[-PORT]` (HOST a name, an
// IPv4 address or an IPv6 address in brackets, `[fd00:77::29]:22`) plus options,
// and its TOML text for conf.d/50-cli.toml.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace virtnat {

struct ForwardSpec {
  std::string host;     // a host name, or empty when `address` is set
  std::string address;  // an IPv4 or IPv6 address, or empty when `host` is set
  std::string to_port;  // guest port(s) as written
  std::string port;     // public port(s) as written
  std::string protocol = "tcp";
  std::optional<std::string> listen;
  std::vector<std::string> sources;
  std::string description;
};

// Parses the two positional arguments; throws BadInput with a one-line reason.
ForwardSpec ParseForwardSpec(const std::string& target, const std::string& public_port);

// "[[forward]]\nhost = ...\n..." with TOML string escaping.
std::string ForwardSpecToToml(const ForwardSpec& spec);

// Removes the [[forward]] table that starts at `line` (1-based) up to the next table header.
std::string RemoveTomlTableAt(const std::string& text, int line);

}  // namespace virtnat
