// The MACs of a domain's NICs from the XML libvirt hands its qemu hook, without an XML
// library: the hook binary links libmnl and libnftnl only. The same answer as
// ParseDomainXml(xml).macs (domain_xml.h) for well-formed XML: <domain><devices><interface>
// <mac address='...'/>; comments, processing instructions and CDATA are skipped.
#pragma once

#include <set>
#include <string>

namespace virtnat {

// Upper-case MACs. Throws BadInput "SOURCE:LINE: domain XML: ..." when the XML is malformed
// (unterminated markup, mismatched tags) or its root is not <domain>.
std::set<std::string> ScanDomainMacs(const std::string& xml, const std::string& source_name);

}  // namespace virtnat
