#include "cli/listings.h"

#include <gtest/gtest.h>

#include "config/diagnostics.h"
#include "test_config.h"

namespace virtnat {
namespace {

Config BaseConfig() {
  Diagnostics diagnostics;
  Config config = testing::Parse(testing::kBaseConfig, diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  return config;
}

// The base config made dual-stack as the config layer would make it: fd00:1::1/64 on the
// network, each host the prefix plus its IPv4 address's last octet, public_address6, and the
// forward to lxdev01 opening on both families.
Config DualStackConfig() {
  Config config = BaseConfig();
  Network& network = config.networks.at(0);
  network.address6 = *Ipv6Interface::Parse("fd00:1::1/64");
  for (auto& host : network.hosts) {
    host.address6 = HostAddress6(network.address6->Subnet(), host.address);
    host.address6_derived = true;
  }
  config.settings.public_address6 = *Ipv6Address::Parse("2001:db8:100::1");
  config.settings.has_public_address6 = true;
  Forward& forward = config.forwards.at(0);
  forward.target6 = *Ipv6Address::Parse("fd00:1::1c");
  forward.open6 = true;
  forward.listen6 = config.settings.public_address6;
  return config;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Columns of a table line (TablePrinter separates them by two spaces or more).
std::vector<std::string> Columns(const std::string& line) {
  std::vector<std::string> columns;
  std::size_t start = 0;
  while (start < line.size()) {
    std::size_t end = line.find("  ", start);
    if (end == std::string::npos) end = line.size();
    columns.push_back(line.substr(start, end - start));
    start = line.find_first_not_of(' ', end);
    if (start == std::string::npos) break;
  }
  return columns;
}

TEST(Listings, Ipv4OnlyForwardHasOneRowAsBefore) {
  Config config = BaseConfig();
  auto lines = Lines(ForwardListText(config));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Columns(lines[1]), (std::vector<std::string>{"tcp", "198.51.100.1", "2222", "lxdev01",
                                                         "22", "any", "ssh", "virtnat.toml:26"}));
  EXPECT_EQ(ForwardSummary(config.forwards[0]), "tcp 198.51.100.1:2222 -> lxdev01:22");
}

TEST(Listings, DualStackForwardHasARowPerFamily) {
  Config config = DualStackConfig();
  auto lines = Lines(ForwardListText(config));
  ASSERT_EQ(lines.size(), 3u) << ForwardListText(config);
  EXPECT_EQ(Columns(lines[1])[1], "198.51.100.1");
  EXPECT_EQ(Columns(lines[2]),
            (std::vector<std::string>{"tcp", "2001:db8:100::1", "2222", "lxdev01", "22", "any",
                                      "ssh", "virtnat.toml:26"}));
  EXPECT_EQ(ForwardSummary(config.forwards[0]),
            "tcp 198.51.100.1:2222 and [2001:db8:100::1]:2222 -> lxdev01:22");
  // Any IPv6 address shows as "::"; an IPv6-only forward has its IPv6 row only.
  Forward& forward = config.forwards[0];
  forward.listen6.reset();
  forward.open4 = false;
  lines = Lines(ForwardListText(config));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Columns(lines[1])[1], "::");
  EXPECT_EQ(ForwardSummary(forward), "tcp [::]:2222 -> lxdev01:22");
  // By address: the target is the family's address, never an unset IPv4 one.
  forward.host.clear();
  forward.target = {};
  EXPECT_EQ(Columns(Lines(ForwardListText(config))[1])[3], "fd00:1::1c");
  EXPECT_EQ(ForwardSummary(forward), "tcp [::]:2222 -> [fd00:1::1c]:22");
}

TEST(Listings, SourcesApplyToTheirOwnFamily) {
  Config config = DualStackConfig();
  Forward& forward = config.forwards[0];
  EXPECT_EQ(SourcesText(forward, IpFamily::kIpv6, "WORLD"), "WORLD");
  forward.sources = {*Ipv4Prefix::Parse("192.0.2.0/24")};
  // A family without sources of its own stays closed.
  EXPECT_EQ(SourcesText(forward, IpFamily::kIpv4, "any"), "192.0.2.0/24");
  EXPECT_EQ(SourcesText(forward, IpFamily::kIpv6, "any"), "none");
  forward.sources6 = {*Ipv6Prefix::Parse("2001:db8:5::/48")};
  EXPECT_EQ(SourcesText(forward, IpFamily::kIpv6, "any"), "2001:db8:5::/48");
  auto lines = Lines(ForwardListText(config));
  EXPECT_EQ(Columns(lines[1])[5], "192.0.2.0/24");
  EXPECT_EQ(Columns(lines[2])[5], "2001:db8:5::/48");
}

TEST(Listings, ForwardJsonHasBothFamilies) {
  Config config = DualStackConfig();
  nlohmann::json json = ForwardListJson(config).at(0);
  EXPECT_EQ(json["target"], "10.1.1.28");
  EXPECT_EQ(json["listen"], "198.51.100.1");
  EXPECT_EQ(json["target6"], "fd00:1::1c");
  EXPECT_EQ(json["listen6"], "2001:db8:100::1");
  EXPECT_EQ(json["source6"], nlohmann::json::array());
  config.forwards[0].listen6.reset();
  config.forwards[0].open4 = false;
  json = ForwardJson(config.forwards[0]);
  EXPECT_EQ(json["listen6"], "*");
  EXPECT_TRUE(json["listen"].is_null());
  EXPECT_TRUE(json["target"].is_null());
  // Control: an IPv4-only forward has null IPv6 fields and its IPv4 ones as before.
  json = ForwardJson(BaseConfig().forwards[0]);
  EXPECT_EQ(json["target"], "10.1.1.28");
  EXPECT_EQ(json["listen"], "198.51.100.1");
  EXPECT_TRUE(json["target6"].is_null());
  EXPECT_TRUE(json["listen6"].is_null());
}

TEST(Listings, HostListAddsTheIpv6AddressOnlyWhenThereIsOne) {
  EXPECT_EQ(HostListText(BaseConfig()),
            "02:FF:0A:0A:06:1C,lxdev01.devops.test,10.1.1.28\n"
            "02:FF:0A:0A:06:1D,lxdev02.devops.test,10.1.1.29\n");
  Config config = DualStackConfig();
  EXPECT_EQ(HostListText(config),
            "02:FF:0A:0A:06:1C,lxdev01.devops.test,10.1.1.28,fd00:1::1c\n"
            "02:FF:0A:0A:06:1D,lxdev02.devops.test,10.1.1.29,fd00:1::1d\n");
  nlohmann::json json = HostListJson(config);
  EXPECT_EQ(json.at(1)["address6"], "fd00:1::1d");
  EXPECT_TRUE(HostListJson(BaseConfig()).at(1)["address6"].is_null());
}

TEST(Listings, HostLookupByNameOrAddressOfEitherFamily) {
  Config config = DualStackConfig();
  for (const char* key : {"lxdev02", "10.1.1.29", "fd00:1::1d", "fd00:1:0::001d"}) {
    auto [network, host] = LookupHost(config, key);
    ASSERT_NE(host, nullptr) << key;
    EXPECT_EQ(host->name, "lxdev02") << key;
    EXPECT_EQ(HostLookupText(*network, *host),
              "lxdev02.devops.test 10.1.1.29 02:FF:0A:0A:06:1D fd00:1::1d\n");
    EXPECT_EQ(HostJson(*network, *host)["address6"], "fd00:1::1d");
  }
  for (const char* key : {"lxdev03", "10.1.1.30", "fd00:1::1e", "fd00:1::"})
    EXPECT_EQ(LookupHost(config, key).second, nullptr) << key;
  // Control: the same IPv6 address finds nothing in the IPv4-only config.
  Config ipv4_only = BaseConfig();
  EXPECT_EQ(LookupHost(ipv4_only, "fd00:1::1d").second, nullptr);
  auto [network, host] = LookupHost(ipv4_only, "lxdev02");
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(HostLookupText(*network, *host), "lxdev02.devops.test 10.1.1.29 02:FF:0A:0A:06:1D\n");
}

StatusReport StatusOf(const Config& config) {
  StatusReport status;
  status.firewall = "table inet virtnat";
  for (const auto& network : config.networks) status.networks.push_back({network, "up", {}});
  for (const auto& forward : config.forwards) {
    ForwardStatus line;
    line.forward = forward;
    line.state = "active";
    line.active = true;
    line.counted = true;
    line.counters.packets = 7;
    line.counters.bytes = 420;
    status.forwards.push_back(line);
  }
  return status;
}

TEST(Listings, StatusShowsTheIpv6AddressesUnderTheIpv4Ones) {
  Config config = DualStackConfig();
  std::string text = StatusText(StatusOf(config), "in sync");
  auto lines = Lines(text);
  // table line, blank, network header, network, its IPv6 address, blank, forwards...
  ASSERT_GE(lines.size(), 8u) << text;
  EXPECT_EQ(Columns(lines[3])[4], "10.1.1.1/24") << text;
  EXPECT_EQ(Columns(lines[4]), (std::vector<std::string>{"", "fd00:1::1/64"})) << text;
  EXPECT_EQ(Columns(lines[7]),
            (std::vector<std::string>{"tcp", "198.51.100.1", "2222", "lxdev01 (10.1.1.28)", "22",
                                      "WORLD", "active", "7", "420", "ssh"}))
      << text;
  // The second row has no counters of its own: they count both families.
  EXPECT_EQ(Columns(lines[8]),
            (std::vector<std::string>{"tcp", "2001:db8:100::1", "2222", "lxdev01 (fd00:1::1c)",
                                      "22", "WORLD", "active", "ssh"}))
      << text;
  nlohmann::json json = StatusJson(config, StatusOf(config));
  EXPECT_EQ(json["networks"][0]["address6"], "fd00:1::1/64");
  EXPECT_EQ(json["networks"][0]["hosts"][0]["address6"], "fd00:1::1c");
  EXPECT_FALSE(json["networks"][0]["hosts"][0].contains("network"));
  EXPECT_EQ(json["forwards"][0]["target6"], "fd00:1::1c");
  EXPECT_EQ(json["forwards"][0]["open_to_world"], true);
  config.forwards[0].sources6 = {*Ipv6Prefix::Parse("2001:db8:5::/48")};
  EXPECT_EQ(StatusJson(config, StatusOf(config))["forwards"][0]["open_to_world"], false);
}

TEST(Listings, Ipv4OnlyStatusIsUnchanged) {
  Config config = BaseConfig();
  EXPECT_EQ(StatusText(StatusOf(config), "in sync"),
            "table inet virtnat: in sync\n\n"
            "NETWORK     MODE  PROVIDER  BRIDGE  ADDRESS      DOMAIN       HOSTS  STATE\n"
            "nat_bridge  nat   external  nbr0    10.1.1.1/24  devops.test  2      up\n\n"
            "PROTO  LISTEN        PORT  TARGET               TO_PORT  OPEN TO  STATE   PACKETS  "
            "BYTES  DESCRIPTION\n"
            "tcp    198.51.100.1  2222  lxdev01 (10.1.1.28)  22       WORLD    active  7        "
            "420    ssh\n");
  nlohmann::json json = StatusJson(config, StatusOf(config));
  EXPECT_TRUE(json["networks"][0]["address6"].is_null());
}

}  // namespace
}  // namespace virtnat
