#include "providers/libvirt/domain_macs.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "base/errors.h"
#include "providers/libvirt/domain_xml.h"

#ifndef VIRTNAT_GOLDEN_DIR
#error "VIRTNAT_GOLDEN_DIR (tests/CMakeLists.txt) must name tests/golden"
#endif

namespace virtnat {
namespace {

// The hook binary's scanner finds what the XML parser finds.
TEST(DomainMacs, SameAsTheXmlParser) {
  std::ifstream in(std::string(VIRTNAT_GOLDEN_DIR) + "/../../bench/domain-vm28.xml");
  std::ostringstream bench;
  bench << in.rdbuf();
  ASSERT_FALSE(bench.str().empty());
  for (const std::string& xml : {
           bench.str(),
           std::string(R"(<domain type='qemu'><name>web1</name><devices>
    <interface type='bridge'><mac address='02:ff:0a:0a:06:1c'/><source bridge='nbr0'/></interface>
    <interface type="network"><mac   address = "52:54:00:00:00:01" /><mac address='52:54:00:00:00:02'/></interface>
    </devices></domain>)"),
           std::string(
               R"(<?xml version="1.0"?><!-- <interface><mac address='52:54:00:09:09:09'/> -->
<domain><name>x</name><metadata><interface><mac address='52:54:00:08:08:08'/></interface></metadata>
<devices><![CDATA[ <interface> ]]><interface type='user'><model type='virtio'/></interface>
<hostdev><mac address='52:54:00:07:07:07'/></hostdev>
<interface type='direct'><mac address='bogus'/></interface></devices></domain>)"),
       }) {
    EXPECT_EQ(ScanDomainMacs(xml, "stdin"), ParseDomainXml(xml, "stdin").macs) << xml;
  }
}

TEST(DomainMacs, MalformedNamesSourceAndLine) {
  try {
    ScanDomainMacs("<domain>\n<name>x</name>\n<devices>\n</domain>", "stdin");
    FAIL() << "no exception";
  } catch (const BadInput& error) {
    EXPECT_EQ(std::string(error.what()).rfind("stdin:4: domain XML:", 0), 0u) << error.what();
  }
  EXPECT_THROW(ScanDomainMacs("<network/>", "stdin"), BadInput);
  EXPECT_THROW(ScanDomainMacs("<domain><devices><interface", "stdin"), BadInput);
  EXPECT_THROW(ScanDomainMacs("<domain><!-- x", "stdin"), BadInput);
}

}  // namespace
}  // namespace virtnat
