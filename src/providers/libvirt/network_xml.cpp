#include "providers/libvirt/network_xml.h"

#include <fmt/format.h>

#include <algorithm>
#include <pugixml.hpp>
#include <sstream>

#include "base/errors.h"
#include "config/validate.h"

namespace virtnat {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string ToXml(const pugi::xml_document& document) {
  std::ostringstream out;
  document.save(out, "  ", pugi::format_indent | pugi::format_no_declaration);
  return out.str();
}

int PrefixFromNetmask(const std::string& netmask) {
  auto mask = Ipv4Address::Parse(netmask);
  if (!mask) return -1;
  int length = 0;
  for (std::uint32_t bit = 1u << 31; bit && (mask->value & bit); bit >>= 1) ++length;
  return length;
}

// libvirt writes IPv6 addresses as inet_ntop does; compare them in RFC 5952 form.
std::string CanonicalIp(const std::string& text) {
  if (text.find(':') == std::string::npos) return text;
  auto address = Ipv6Address::Parse(text);
  return address ? address->ToString() : text;
}

constexpr const char* kMetadataElement = "bridged";

// The namespace URI of an element: its prefix's xmlns declaration on it or an ancestor.
std::string NamespaceOf(pugi::xml_node element) {
  std::string name = element.name();
  auto colon = name.find(':');
  std::string declaration = colon == std::string::npos ? "xmlns" : "xmlns:" + name.substr(0, colon);
  for (auto node = element; node; node = node.parent())
    if (auto attribute = node.attribute(declaration.c_str())) return attribute.as_string();
  return "";
}

std::string LocalName(pugi::xml_node element) {
  std::string name = element.name();
  auto colon = name.find(':');
  return colon == std::string::npos ? name : name.substr(colon + 1);
}

std::optional<BridgedMetadata> ParseBridgedMetadata(pugi::xml_node network) {
  for (auto element : network.child("metadata").children()) {
    if (element.type() != pugi::node_element || LocalName(element) != kMetadataElement ||
        NamespaceOf(element) != kVirtnatXmlns)
      continue;
    return BridgedMetadata{element.attribute("uplink").as_string(),
                           element.attribute("address").as_string()};
  }
  return std::nullopt;
}

// <ip family='ipv6'>: libvirt puts the address on the bridge, and its dnsmasq sends router
// advertisements and serves DHCPv6 for the range and the hosts.
void AppendIpv6(pugi::xml_node root, const Network& network) {
  auto ip = root.append_child("ip");
  ip.append_attribute("family") = "ipv6";
  ip.append_attribute("address") = network.address6->address.ToString().c_str();
  ip.append_attribute("prefix") = network.address6->length;
  auto dhcp = ip.append_child("dhcp");
  if (network.dhcp_range6) {
    auto range = dhcp.append_child("range");
    range.append_attribute("start") = network.dhcp_range6->first.ToString().c_str();
    range.append_attribute("end") = network.dhcp_range6->last.ToString().c_str();
  }
  for (const auto& host : network.hosts) {
    if (host.mac == MacAddress{} || !host.address6) continue;  // as for IPv4: MAC hosts only
    auto entry = dhcp.append_child("host");
    entry.append_attribute("id") = DuidLl(host.mac).c_str();
    entry.append_attribute("name") = network.Fqdn(host).c_str();
    entry.append_attribute("ip") = host.address6->ToString().c_str();
  }
  if (!dhcp.first_child()) ip.remove_child(dhcp);
}

}  // namespace

std::string LibvirtForwardMode(const Network& network) {
  if (network.mode == NetworkMode::kBridged) return "bridge";
  // virtnat's table implements nat, routed and isolated: libvirt must add no rules.
  return network.provider_nat ? "nat" : "open";
}

std::optional<std::string> StaleHostBridge(const LibvirtNetworkFacts& have,
                                           const Network& network) {
  if (have.forward_mode != "bridge" || have.bridge.empty()) return std::nullopt;
  if (network.mode == NetworkMode::kBridged && have.bridge == network.bridge) return std::nullopt;
  return have.bridge;
}

std::string DhcpHostXml(const std::string& mac, const std::string& name, const std::string& ip) {
  return fmt::format("<host mac='{}' name='{}' ip='{}'/>", Lower(mac), name, ip);
}

std::string DnsHostXml(const std::string& ip, const std::string& hostname) {
  return fmt::format("<host ip='{}'><hostname>{}</hostname></host>", ip, hostname);
}

std::string DhcpHost6Xml(const std::string& id, const std::string& name, const std::string& ip) {
  std::string xml = "<host";
  if (!id.empty()) xml += fmt::format(" id='{}'", Lower(id));
  if (!name.empty()) xml += fmt::format(" name='{}'", name);
  return xml + fmt::format(" ip='{}'/>", ip);
}

std::string DuidLl(const MacAddress& mac) {
  return "00:03:00:01:" + Lower(mac.ToString());
}

std::string RenderNetworkXml(const Network& network, const std::string& uuid) {
  pugi::xml_document document;
  auto root = document.append_child("network");
  root.append_child("name").text().set(network.name.c_str());
  if (!uuid.empty()) root.append_child("uuid").text().set(uuid.c_str());
  if (network.mode == NetworkMode::kBridged) {
    auto bridged = root.append_child("metadata")
                       .append_child((std::string("virtnat:") + kMetadataElement).c_str());
    bridged.append_attribute("xmlns:virtnat") = kVirtnatXmlns;
    bridged.append_attribute("uplink") = network.uplink.c_str();
    if (network.has_address)
      bridged.append_attribute("address") = network.address.ToString().c_str();
  }
  auto forward = root.append_child("forward");
  forward.append_attribute("mode") = LibvirtForwardMode(network).c_str();
  // libvirt's NAT masquerades IPv6 too when asked (libvirt >= 6.5); else it routes IPv6.
  if (network.provider_nat && network.mode == NetworkMode::kNat && network.DualStack() &&
      network.nat6)
    forward.append_child("nat").append_attribute("ipv6") = "yes";
  auto bridge = root.append_child("bridge");
  bridge.append_attribute("name") = network.bridge.c_str();
  if (network.mode == NetworkMode::kBridged) return ToXml(document);  // the LAN serves DHCP
  bridge.append_attribute("stp") = "on";
  bridge.append_attribute("delay") = "0";
  if (!network.domain.empty()) {
    auto domain = root.append_child("domain");
    domain.append_attribute("name") = network.domain.c_str();
    domain.append_attribute("localOnly") = "yes";
  }
  if (!network.hosts.empty()) {
    auto dns = root.append_child("dns");
    auto add_dns_host = [&](const std::string& ip, const std::string& name) {
      auto entry = dns.append_child("host");
      entry.append_attribute("ip") = ip.c_str();
      entry.append_child("hostname").text().set(name.c_str());
    };
    for (const auto& host : network.hosts) {
      add_dns_host(host.address.ToString(), host.name);
      // The AAAA record. libvirt's live updates refuse a DNS host whose name another one has
      // (virNetworkUpdate matches on any field), so it carries the FQDN where the A record
      // has the bare name: guests resolve both families through their search domain.
      if (network.DualStack() && host.address6)
        add_dns_host(host.address6->ToString(), network.Fqdn(host));
    }
  }
  auto ip = root.append_child("ip");
  ip.append_attribute("address") = network.address.address.ToString().c_str();
  ip.append_attribute("prefix") = network.address.length;
  auto dhcp = ip.append_child("dhcp");
  if (network.dhcp_range) {
    auto range = dhcp.append_child("range");
    range.append_attribute("start") = network.dhcp_range->first.ToString().c_str();
    range.append_attribute("end") = network.dhcp_range->last.ToString().c_str();
  }
  for (const auto& host : network.hosts) {
    if (host.mac == MacAddress{}) continue;  // libvirt needs a MAC for a static lease
    auto entry = dhcp.append_child("host");
    entry.append_attribute("mac") = Lower(host.mac.ToString()).c_str();
    entry.append_attribute("name") = network.Fqdn(host).c_str();
    entry.append_attribute("ip") = host.address.ToString().c_str();
  }
  if (!dhcp.first_child()) ip.remove_child(dhcp);
  if (network.DualStack()) AppendIpv6(root, network);
  return ToXml(document);
}

LibvirtNetworkFacts DesiredNetworkFacts(const Network& network) {
  return ParseNetworkFacts(RenderNetworkXml(network));
}

LibvirtNetworkFacts ParseNetworkFacts(const std::string& xml, const std::string& source) {
  pugi::xml_document document;
  auto result = document.load_string(xml.c_str());
  if (!result && source.empty())
    throw RuntimeFailure(
        fmt::format("libvirt returned unreadable network XML: {}", result.description()));
  if (!result)
    throw RuntimeFailure(fmt::format("unreadable network XML on {}: {} at byte {}", source,
                                     result.description(), result.offset));
  auto root = document.child("network");
  if (!root) root = document.child("hookData").child("network");
  LibvirtNetworkFacts facts;
  facts.name = root.child_value("name");
  facts.uuid = root.child_value("uuid");
  auto forward = root.child("forward");
  facts.forward_mode = forward ? forward.attribute("mode").as_string("nat") : "";
  facts.bridge = root.child("bridge").attribute("name").as_string();
  facts.domain = root.child("domain").attribute("name").as_string();
  facts.nat_ipv6 = std::string(forward.child("nat").attribute("ipv6").as_string()) == "yes";
  std::set<std::string> dns_names;
  for (auto host : root.child("dns").children("host"))
    for (auto hostname : host.children("hostname")) {
      facts.dns_hosts.insert(
          DnsHostXml(CanonicalIp(host.attribute("ip").as_string()), hostname.child_value()));
      if (!dns_names.insert(hostname.child_value()).second) facts.dns_names_repeat = true;
    }
  int index = -1;
  for (auto ip : root.children("ip")) {
    ++index;
    std::string family = ip.attribute("family").as_string("ipv4");
    auto dhcp = ip.child("dhcp");
    if (family == "ipv6" && facts.ip6_index < 0) {  // the first one: the one virtnat writes
      facts.ip6_index = index;
      facts.address6 = fmt::format("{}/{}", CanonicalIp(ip.attribute("address").as_string()),
                                   ip.attribute("prefix").as_int(64));
      if (auto range = dhcp.child("range"))
        facts.dhcp_range6 = fmt::format("{}-{}", CanonicalIp(range.attribute("start").as_string()),
                                        CanonicalIp(range.attribute("end").as_string()));
      for (auto host : dhcp.children("host"))
        facts.dhcp_hosts6.insert(DhcpHost6Xml(host.attribute("id").as_string(),
                                              host.attribute("name").as_string(),
                                              CanonicalIp(host.attribute("ip").as_string())));
    }
    if (family != "ipv4" || facts.ip_index >= 0) continue;
    facts.ip_index = index;
    int prefix = ip.attribute("prefix") ? ip.attribute("prefix").as_int()
                                        : PrefixFromNetmask(ip.attribute("netmask").as_string());
    facts.address = fmt::format("{}/{}", ip.attribute("address").as_string(), prefix);
    if (auto range = dhcp.child("range"))
      facts.dhcp_range = fmt::format("{}-{}", range.attribute("start").as_string(),
                                     range.attribute("end").as_string());
    for (auto host : dhcp.children("host"))
      facts.dhcp_hosts.insert(DhcpHostXml(host.attribute("mac").as_string(),
                                          host.attribute("name").as_string(),
                                          host.attribute("ip").as_string()));
  }
  facts.bridged = ParseBridgedMetadata(root);
  return facts;
}

Network BridgedNetworkFromFacts(const LibvirtNetworkFacts& facts) {
  if (!facts.bridged)
    throw RuntimeFailure(fmt::format("network {}: no virtnat metadata", facts.name));
  auto invalid = [&](const std::string& what) {
    return RuntimeFailure(fmt::format("network {}: virtnat's metadata is not usable: {}",
                                      facts.name.empty() ? "?" : facts.name, what));
  };
  if (facts.name.empty()) throw invalid("the network has no name");
  if (!IsValidInterfaceName(facts.bridge))
    throw invalid(fmt::format("bridge name '{}' is not a valid interface name", facts.bridge));
  if (!IsValidInterfaceName(facts.bridged->uplink))
    throw invalid(fmt::format("uplink '{}' is not a valid interface name", facts.bridged->uplink));
  Network network;
  network.name = facts.name;
  network.mode = NetworkMode::kBridged;
  network.provider = NetworkProvider::kLibvirt;
  network.define = true;
  network.bridge = facts.bridge;
  network.uplink = facts.bridged->uplink;
  if (!facts.bridged->address.empty()) {
    auto address = Ipv4Interface::Parse(facts.bridged->address);
    if (!address)
      throw invalid(fmt::format("address '{}' is not an IPv4 address with a prefix length",
                                facts.bridged->address));
    network.address = *address;
    network.has_address = true;
  }
  return network;
}

}  // namespace virtnat
