#include "providers/libvirt/domain_xml.h"

#include <gtest/gtest.h>

#include "base/errors.h"

namespace virtnat {
namespace {

TEST(DomainXml, NameAndMacs) {
  DomainInfo info = ParseDomainXml(R"(<domain type='qemu'><name>web1</name><devices>
    <interface type='bridge'><mac address='02:ff:0a:0a:06:1c'/><source bridge='nbr0'/></interface>
    <interface type='network'><mac address='52:54:00:00:00:01'/></interface>
    </devices></domain>)",
                                   "stdin");
  EXPECT_EQ(info.name, "web1");
  EXPECT_EQ(info.macs, (std::set<std::string>{"02:FF:0A:0A:06:1C", "52:54:00:00:00:01"}));
}

TEST(DomainXml, MalformedNamesSourceAndLine) {
  try {
    ParseDomainXml("<domain>\n<name>x</name>\n<devices>\n</domain>", "stdin");
    FAIL() << "no exception";
  } catch (const BadInput& error) {
    EXPECT_EQ(std::string(error.what()).rfind("stdin:4: domain XML:", 0), 0u) << error.what();
  }
  EXPECT_THROW(ParseDomainXml("<network/>", "stdin"), BadInput);
}

}  // namespace
}  // namespace virtnat
