#include "providers/libvirt/domain_xml.h"

#include <fmt/format.h>

#include <algorithm>
#include <pugixml.hpp>

#include "base/errors.h"
#include "model/net.h"

namespace virtnat {

DomainInfo ParseDomainXml(const std::string& xml, const std::string& source_name) {
  pugi::xml_document document;
  auto result = document.load_buffer(xml.data(), xml.size());
  if (!result) {
    auto offset = static_cast<std::size_t>(std::max<std::ptrdiff_t>(result.offset, 0));
    int line = 1 + static_cast<int>(
                       std::count(xml.begin(), xml.begin() + std::min(offset, xml.size()), '\n'));
    throw BadInput(fmt::format("{}:{}: domain XML: {}", source_name, line, result.description()));
  }
  auto domain = document.child("domain");
  if (!domain) throw BadInput(fmt::format("{}:1: domain XML: no <domain> element", source_name));
  DomainInfo info;
  info.name = domain.child_value("name");
  for (auto interface : domain.child("devices").children("interface")) {
    std::string text = interface.child("mac").attribute("address").as_string();
    if (auto mac = MacAddress::Parse(text)) info.macs.insert(mac->ToString());
  }
  return info;
}

}  // namespace virtnat
