#include "backends/firewalld/firewalld_zone.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <pugixml.hpp>

#include "backends/nftables/nftables.h"
#include "base/errors.h"
#include "base/files.h"
#include "base/process.h"

namespace virtnat {
namespace {

constexpr const char* kFirewallCmd = "/usr/bin/firewall-cmd";
constexpr const char* kFirewallOfflineCmd = "/usr/bin/firewall-offline-cmd";
constexpr const char* kDbusSend = "/usr/bin/dbus-send";
constexpr const char* kBusSocket = "/run/dbus/system_bus_socket";
constexpr const char* kZonesDir = "/etc/firewalld/zones";

std::string Joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

ProcessResult FirewallCmd(std::vector<std::string> args) {
  args.insert(args.begin(), kFirewallCmd);
  return RunProgram(args);
}

std::string FirewallCmdOrThrow(std::vector<std::string> args) {
  args.insert(args.begin(), kFirewallCmd);
  ProcessResult result = RunProgram(args);
  if (result.exit_status != 0) {
    std::string output = result.output;
    while (!output.empty() && output.back() == '\n') output.pop_back();
    throw RuntimeFailure(fmt::format("firewalld: `{}` failed: {}", Joined(args), output));
  }
  return result.output;
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string List(const std::set<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// firewalld's runtime D-Bus API through dbus-send (a C program: milliseconds, where
// firewall-cmd's Python start takes most of a second; watch repairs through it).
struct BusReply {
  bool ok = false;
  std::string output;
};

BusReply Bus(const std::string& interface, const std::string& method,
             const std::vector<std::string>& args) {
  std::vector<std::string> argv{kDbusSend,
                                "--system",
                                "--print-reply",
                                "--reply-timeout=30000",
                                "--dest=org.fedoraproject.FirewallD1",
                                "/org/fedoraproject/FirewallD1",
                                "org.fedoraproject.FirewallD1" + interface + "." + method};
  for (const auto& arg : args) argv.push_back("string:" + arg);
  ProcessResult result = RunProgram(argv);
  return {result.exit_status == 0, result.output};
}

std::string BusOrThrow(const std::string& interface, const std::string& method,
                       const std::vector<std::string>& args) {
  BusReply reply = Bus(interface, method, args);
  if (!reply.ok) {
    std::string call = method;
    for (const auto& arg : args) call += " " + arg;
    throw RuntimeFailure(fmt::format("firewalld: {} failed: {}", call, Trimmed(reply.output)));
  }
  return reply.output;
}

// The `string "..."` values of dbus-send's printed reply.
std::set<std::string> BusStrings(const std::string& output) {
  std::set<std::string> strings;
  std::size_t at = 0;
  while ((at = output.find("string \"", at)) != std::string::npos) {
    at += 8;
    std::size_t end = output.find('"', at);
    if (end == std::string::npos) break;
    strings.insert(output.substr(at, end - at));
    at = end + 1;
  }
  return strings;
}

}  // namespace

std::set<std::string> FirewalldZoneBridges(const DesiredState& state) {
  std::set<std::string> bridges;
  for (const auto& network : state.networks) {
    bool filtered = network.mode == NetworkMode::kNat || network.mode == NetworkMode::kRouted ||
                    network.mode == NetworkMode::kIsolated;
    if (filtered && network.VirtnatOwnsFirewall() && !network.bridge.empty())
      bridges.insert(network.bridge);
  }
  return bridges;
}

std::string FirewalldZoneXml() {
  return R"(<?xml version="1.0" encoding="utf-8"?>
<zone target="ACCEPT">
  <short>virtnat</short>
  <description>virtnat's bridges (added and removed by virtnat). Guests reach the host's DHCP, DHCPv6, DNS and ICMP, nothing else of the host. Forwarded traffic is accepted here: virtnat's own nftables table filters it by each network's mode.</description>
  <service name="dhcp"/>
  <service name="dhcpv6"/>
  <service name="dns"/>
  <protocol value="icmp"/>
  <protocol value="ipv6-icmp"/>
  <rule priority="32767">
    <reject/>
  </rule>
</zone>
)";
}

std::optional<std::set<std::string>> ZoneFileInterfaces(const std::string& xml) {
  pugi::xml_document document;
  if (!document.load_string(xml.c_str())) return std::nullopt;
  pugi::xml_node zone = document.child("zone");
  if (!zone) return std::nullopt;
  std::set<std::string> interfaces;
  for (pugi::xml_node node : zone.children("interface"))
    interfaces.insert(node.attribute("name").as_string());
  return interfaces;
}

std::set<std::string> NftZoneInterfaces(const nlohmann::json& chain, const std::string& zone) {
  std::set<std::string> interfaces;
  const std::string target = "filter_IN_" + zone;
  for (const auto& item : chain.value("nftables", nlohmann::json::array())) {
    if (!item.contains("rule")) continue;
    std::string iface;
    bool to_zone = false;
    for (const auto& expression : item["rule"].value("expr", nlohmann::json::array())) {
      if (expression.contains("match")) {
        const auto& match = expression["match"];
        const auto& left = match.value("left", nlohmann::json::object());
        if (left.contains("meta") && left["meta"].value("key", "") == "iifname" &&
            match.value("right", nlohmann::json()).is_string())
          iface = match["right"].get<std::string>();
      }
      for (const char* jump : {"goto", "jump"})
        if (expression.contains(jump) && expression[jump].value("target", "") == target)
          to_zone = true;
    }
    if (to_zone && !iface.empty()) interfaces.insert(iface);
  }
  return interfaces;
}

bool FirewalldZone::Running() {
  if (!std::filesystem::exists(kBusSocket) || access(kDbusSend, X_OK) != 0) return false;
  ProcessResult owner =
      RunProgram({kDbusSend, "--system", "--print-reply", "--reply-timeout=2000",
                  "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                  "org.freedesktop.DBus.NameHasOwner", "string:org.fedoraproject.FirewallD1"});
  // No answer: no bus daemon there, so no firewalld either.
  return owner.exit_status == 0 && owner.output.find("boolean true") != std::string::npos;
}

std::optional<std::set<std::string>> FirewalldZone::PermanentInterfaces() const {
  auto text = ReadFileIfExists(std::filesystem::path(kZonesDir) / (zone_ + ".xml"));
  if (!text) return std::nullopt;
  auto interfaces = ZoneFileInterfaces(*text);
  return interfaces ? interfaces : std::set<std::string>{};
}

std::optional<std::set<std::string>> FirewalldZone::RuntimeInterfacesFast() const {
  try {
    Nftables nft;
    auto chain = nft.ListJson("list chain inet firewalld filter_INPUT_ZONES");
    if (!chain) return std::nullopt;  // firewalld's iptables backend, or in the middle of a reload
    return NftZoneInterfaces(*chain, zone_);
  } catch (const RuntimeFailure&) {
    return std::nullopt;
  }
}

std::set<std::string> FirewalldZone::RuntimeInterfaces() const {
  BusReply reply = Bus(".zone", "getInterfaces", {zone_});
  if (!reply.ok) return {};  // no such zone in the runtime (yet)
  return BusStrings(reply.output);
}

std::vector<std::string> FirewalldZone::Ensure(const DesiredState& state) {
  std::set<std::string> wanted = FirewalldZoneBridges(state);
  std::optional<std::set<std::string>> permanent = PermanentInterfaces();
  if (wanted.empty() && !permanent) return {};
  if (!Running()) return {};
  if (permanent && *permanent == wanted)
    if (auto runtime = RuntimeInterfacesFast(); runtime && *runtime == wanted) return {};

  std::vector<std::string> done;
  // The zone itself: permanent, then loaded into the runtime (firewalld creates zones only in
  // its permanent configuration; a reload makes them runtime).
  if (!permanent) {
    // firewalld names the zone after the file (at most 17 characters) before --name applies.
    char folder[] = "/tmp/virtnat-zone-XXXXXX";
    if (!mkdtemp(folder)) throw RuntimeFailure("firewalld: cannot make a temporary folder");
    std::filesystem::path path = std::filesystem::path(folder) / (zone_ + ".xml");
    WriteFileAtomically(path, FirewalldZoneXml());
    ProcessResult made =
        FirewallCmd({"--permanent", "--new-zone-from-file=" + path.string(), "--name=" + zone_});
    std::filesystem::remove_all(folder);
    if (made.exit_status != 0)
      throw RuntimeFailure(
          fmt::format("firewalld: cannot create zone {}: {}", zone_, Trimmed(made.output)));
    permanent.emplace();
    done.push_back(fmt::format("firewalld: created zone {} (permanent)", zone_));
  }
  if (!BusStrings(BusOrThrow(".zone", "getZones", {})).contains(zone_)) {
    BusOrThrow("", "reload", {});
    done.push_back(
        fmt::format("firewalld: reloaded, so that zone {} is in its runtime too", zone_));
  }
  // Permanent: what a reload or reboot brings back.
  for (const auto& bridge : wanted) {
    if (permanent->contains(bridge)) continue;
    ProcessResult other = FirewallCmd({"--permanent", "--get-zone-of-interface=" + bridge});
    std::string zone = Trimmed(other.output);
    if (other.exit_status == 0 && !zone.empty() && zone != zone_) {
      done.push_back(fmt::format(
          "firewalld: bridge {} is in zone {} (the admin's choice): left there; its guests "
          "may get no DHCP/DNS or forwarding (`virtnat doctor` checks)",
          bridge, zone));
      continue;
    }
    FirewallCmdOrThrow({"--permanent", "--zone=" + zone_, "--add-interface=" + bridge});
    done.push_back(fmt::format("firewalld: added {} to zone {} (permanent)", bridge, zone_));
  }
  for (const auto& bridge : *permanent)
    if (!wanted.contains(bridge)) {
      FirewallCmdOrThrow({"--permanent", "--zone=" + zone_, "--remove-interface=" + bridge});
      done.push_back(fmt::format("firewalld: removed {} from zone {} (permanent)", bridge, zone_));
    }
  // Runtime.
  std::set<std::string> runtime = RuntimeInterfaces();
  std::optional<std::set<std::string>> now_permanent = PermanentInterfaces();
  for (const auto& bridge : wanted) {
    if (runtime.contains(bridge)) continue;
    if (now_permanent && !now_permanent->contains(bridge)) continue;  // the admin's zone
    BusOrThrow(".zone", "changeZoneOfInterface", {zone_, bridge});
    done.push_back(fmt::format("firewalld: added {} to zone {}", bridge, zone_));
  }
  for (const auto& bridge : runtime)
    if (!wanted.contains(bridge)) {
      BusOrThrow(".zone", "removeInterface", {zone_, bridge});
      done.push_back(fmt::format("firewalld: removed {} from zone {}", bridge, zone_));
    }
  return done;
}

std::vector<std::string> FirewalldZone::Remove() {
  std::vector<std::string> done;
  std::optional<std::set<std::string>> permanent = PermanentInterfaces();
  if (!Running()) {
    // firewalld is installed but stopped: its permanent configuration, offline.
    if (permanent && access(kFirewallOfflineCmd, X_OK) == 0 &&
        RunProgram({kFirewallOfflineCmd, "--delete-zone=" + zone_}).exit_status == 0)
      done.push_back(fmt::format("firewalld (not running): deleted zone {} (permanent)", zone_));
    return done;
  }
  std::set<std::string> runtime = RuntimeInterfaces();
  for (const auto& bridge : runtime) BusOrThrow(".zone", "removeInterface", {zone_, bridge});
  if (!runtime.empty())
    done.push_back(fmt::format("firewalld: removed {} from zone {}", List(runtime), zone_));
  if (permanent) {
    FirewallCmdOrThrow({"--permanent", "--delete-zone=" + zone_});
    // firewalld keeps the deleted zone's file as ZONE.xml.old: virtnat's, so it goes too.
    std::error_code ignored;
    std::filesystem::remove(std::filesystem::path(kZonesDir) / (zone_ + ".xml.old"), ignored);
    done.push_back(
        fmt::format("firewalld: deleted zone {} (permanent; the empty runtime zone "
                    "goes with firewalld's next reload)",
                    zone_));
  }
  return done;
}

}  // namespace virtnat
