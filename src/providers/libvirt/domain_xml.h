// What the hook needs from a domain's XML: its name and the MACs of its NICs (pure).
#pragma once

#include <set>
#include <string>
#include <vector>

namespace virtnat {

struct DomainInfo {
  std::string name;
  std::set<std::string> macs;  // upper case, like the config's
};

// Throws BadInput "SOURCE:LINE: domain XML: ..." when the XML is malformed.
DomainInfo ParseDomainXml(const std::string& xml, const std::string& source_name);

}  // namespace virtnat
