// Fuzz target: the libvirt hook's reader of the domain XML that libvirt writes to its stdin,
// ParseDomainXml (src/providers/libvirt/domain_xml.h), and what the hook does with the result
// (HostsOfDomain). The same text also goes to ParseNetworkFacts (src/providers/libvirt/network_xml.h),
// virtnat's other reader of XML from libvirt.
//
// Input: the XML text as libvirt would write it.
#include <cctype>

#include "fuzz_common.h"
#include "engine/hook_index.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/network_xml.h"
#include "model/net.h"

namespace virtnat::fuzz {
namespace {

void CheckDomain(const DomainInfo& info) {
  ConsumeMessage(info.name);
  for (const auto& mac : info.macs) {
    // Upper case like the config's, in MacAddress's canonical form.
    auto parsed = MacAddress::Parse(mac);
    FUZZ_CHECK(parsed && parsed->ToString() == mac);
  }
  HookIndex index;
  index.host_macs = {{"lxdev01", "02:FF:0A:0A:06:1C"}, {"lxdev02", ""}, {info.name, ""}};
  for (const auto& mac : info.macs) index.host_macs["nic-" + mac] = mac;
  std::set<std::string> hosts = HostsOfDomain(index, info.name, info.macs);
  for (const auto& mac : info.macs) FUZZ_CHECK(hosts.contains("nic-" + mac));
}

}  // namespace
}  // namespace virtnat::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtnat;
  using namespace virtnat::fuzz;
  std::string xml = AsString(data, size);
  DomainInfo info;
  if (RunExpectingRefusal([&] { info = ParseDomainXml(xml, "stdin"); })) CheckDomain(info);
  LibvirtNetworkFacts facts;
  if (RunExpectingRefusal([&] { facts = ParseNetworkFacts(xml); })) {
    ConsumeMessage(facts.address);
    ConsumeMessage(facts.dhcp_range);
    for (const auto& host : facts.dhcp_hosts) ConsumeMessage(host);
    for (const auto& host : facts.dns_hosts) ConsumeMessage(host);
  }
  return 0;
}
