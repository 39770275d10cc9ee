#include "importers/init_config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_config.h"
#include "config/diagnostics.h"

namespace virtnat {
namespace {

Config ParseInit(const std::string& text) {
  Diagnostics diagnostics;
  Config config = testing::Parse(text, diagnostics);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics) << "\n" << text;
  return config;
}

std::string RefusalOf(const InitOptions& options) {
  try {
    GenerateInitConfig(options);
  } catch (const BadInput& error) {
    return error.what();
  }
  return "";
}

TEST(InitConfig, DefaultNamesAreVmToolsFortyFour) {
  const auto& names = DefaultInitNodeNames();
  ASSERT_EQ(names.size(), 44u);
  EXPECT_EQ(names.front(), "lxdns01");
  EXPECT_EQ(names[7], "lxcc04");
  EXPECT_EQ(names[10], "lxb001");
  EXPECT_EQ(names[19], "lxb010");
  EXPECT_EQ(names[25], "lxdev01");
  EXPECT_EQ(names.back(), "lxrepo03");
}

TEST(InitConfig, DefaultsParseAndMatchVmTools) {
  InitOptions options;
  options.public_address = "198.51.100.1";
  Config config = ParseInit(GenerateInitConfig(options));
  ASSERT_EQ(config.networks.size(), 1u);
  const Network& network = config.networks[0];
  EXPECT_EQ(network.name, "nat_bridge");
  EXPECT_EQ(network.bridge, "nbr0");
  EXPECT_EQ(network.domain, "devops.test");
  EXPECT_EQ(network.address.ToString(), "10.1.1.1/24");
  ASSERT_TRUE(network.dhcp_range);
  EXPECT_EQ(network.dhcp_range->ToString(), "10.1.1.100-10.1.1.254");
  EXPECT_EQ(network.provider, NetworkProvider::kExternal);
  EXPECT_EQ(config.settings.vm_lifecycle, VmLifecycle::kIgnore);
  ASSERT_TRUE(config.settings.public_address);
  EXPECT_EQ(config.settings.public_address->ToString(), "198.51.100.1");
  EXPECT_TRUE(config.forwards.empty());

  ASSERT_EQ(network.hosts.size(), 44u);
  EXPECT_EQ(network.hosts.front().name, "lxdns01");
  EXPECT_EQ(network.hosts.front().address.ToString(), "10.1.1.5");
  EXPECT_EQ(network.hosts.front().mac.ToString(), "02:FF:0A:0A:06:05");
  EXPECT_EQ(network.hosts.back().name, "lxrepo03");
  EXPECT_EQ(network.hosts.back().address.ToString(), "10.1.1.48");
  EXPECT_EQ(network.hosts.back().mac.ToString(), "02:FF:0A:0A:06:30");
  // vm-tools' later 44-name list (lxcc01-04) puts lxcc03 at .11 and lxb001 at .15; its older
  // 42-name list had lxdev01 at .28, this one has it at .30.
  EXPECT_EQ(network.hosts[5].name, "lxcc02");
  EXPECT_EQ(network.hosts[5].mac.ToString(), "02:FF:0A:0A:06:0A");
  EXPECT_EQ(network.hosts[6].address.ToString(), "10.1.1.11");
  EXPECT_EQ(network.hosts[10].address.ToString(), "10.1.1.15");
  auto [owner, dev01] = config.FindHost("lxdev01");
  ASSERT_NE(dev01, nullptr);
  EXPECT_EQ(dev01->address.ToString(), "10.1.1.30");
  EXPECT_EQ(dev01->mac.ToString(), "02:FF:0A:0A:06:1E");
  for (const auto& host : network.hosts) EXPECT_FALSE(host.mac_derived) << host.name;
}

TEST(InitConfig, WritesMacsExplicitlyAndAnExampleForward) {
  std::string text = GenerateInitConfig({});
  EXPECT_NE(text.find("name = \"lxdev01\"\naddress = \"10.1.1.30\"\nmac = \"02:FF:0A:0A:06:1E\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# [[forward]]\n# host = \"lxdns01\"\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("\n[[forward]]"), std::string::npos) << text;
  // Without a public address the setting is a commented example and the example names listen.
  EXPECT_NE(text.find("# public_address = "), std::string::npos) << text;
  EXPECT_NE(text.find("# listen = "), std::string::npos) << text;
  Config config = ParseInit(text);
  EXPECT_FALSE(config.settings.has_public_address);
}

TEST(InitConfig, CustomOptionsAndExtraNodes) {
  InitOptions options;
  options.bridge = "br-lab";
  options.domain = "lab.example";
  options.mac_prefix = "52:54:00:ab:cd";
  options.network = "192.168.50";
  options.nodes = {"web01", "db-main"};
  options.public_address = "*";
  Config config = ParseInit(GenerateInitConfig(options));
  const Network& network = config.networks.at(0);
  EXPECT_EQ(network.bridge, "br-lab");
  EXPECT_EQ(network.domain, "lab.example");
  EXPECT_EQ(network.mac_prefix.value_or(""), "52:54:00:AB:CD");
  EXPECT_EQ(network.address.ToString(), "192.168.50.1/24");
  ASSERT_EQ(network.hosts.size(), 46u);
  EXPECT_EQ(network.hosts[44].name, "web01");
  EXPECT_EQ(network.hosts[44].address.ToString(), "192.168.50.49");
  EXPECT_EQ(network.hosts[45].name, "db-main");
  EXPECT_EQ(network.hosts[45].mac.ToString(), "52:54:00:AB:CD:32");
  EXPECT_TRUE(config.settings.has_public_address);
  EXPECT_FALSE(config.settings.public_address);
}

TEST(InitConfig, OnlyGivenNodes) {
  InitOptions options;
  options.default_nodes = false;
  options.nodes = {"alpha", "beta"};
  Config config = ParseInit(GenerateInitConfig(options));
  const auto& hosts = config.networks.at(0).hosts;
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].name, "alpha");
  EXPECT_EQ(hosts[0].address.ToString(), "10.1.1.5");
  EXPECT_EQ(hosts[1].address.ToString(), "10.1.1.6");
}

TEST(InitConfig, NoHostsAtAll) {
  InitOptions options;
  options.default_nodes = false;
  std::string text = GenerateInitConfig(options);
  EXPECT_NE(text.find("# No hosts yet"), std::string::npos) << text;
  EXPECT_NE(text.find("# address = \"10.1.1.5\"\n# port = 2222"), std::string::npos) << text;
  EXPECT_TRUE(ParseInit(text).networks.at(0).hosts.empty());
}

TEST(InitConfig, FillsUpToJustBelowTheDhcpRange) {
  InitOptions options;
  for (int i = 1; i <= 51; ++i) options.nodes.push_back(fmt::format("extra{:02}", i));
  Config config = ParseInit(GenerateInitConfig(options));  // 44 + 51 = 95 hosts: .5-.99
  EXPECT_EQ(config.networks.at(0).hosts.back().address.ToString(), "10.1.1.99");
}

TEST(InitConfig, RefusesHostsReachingTheDhcpRange) {
  InitOptions options;
  for (int i = 1; i <= 52; ++i) options.nodes.push_back(fmt::format("extra{:02}", i));
  std::string message = RefusalOf(options);  // 96 hosts would reach .100
  EXPECT_EQ(message.rfind("virtnat: init: ", 0), 0u) << message;
  EXPECT_NE(message.find("10.1.1.5-10.1.1.100"), std::string::npos) << message;
  EXPECT_NE(message.find("DHCP range 10.1.1.100-10.1.1.254"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(InitConfig, RefusesHostsPast254) {
  InitOptions options;
  options.default_nodes = false;
  for (int i = 1; i <= 251; ++i) options.nodes.push_back(fmt::format("vm{:03}", i));
  std::string message = RefusalOf(options);
  EXPECT_NE(message.find("past 10.1.1.254"), std::string::npos) << message;
}

TEST(InitConfig, RefusesMalformedOptions) {
  auto refused = [](auto change) {
    InitOptions options;
    change(options);
    std::string message = RefusalOf(options);
    EXPECT_EQ(message.rfind("virtnat: init: ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  };
  EXPECT_NE(refused([](InitOptions& o) { o.network = "10.1"; }).find("network '10.1'"),
            std::string::npos);
  refused([](InitOptions& o) { o.network = "10.1.1.0"; });
  refused([](InitOptions& o) { o.network = "10.1.256"; });
  refused([](InitOptions& o) { o.network = "10.1.x"; });
  refused([](InitOptions& o) { o.bridge = "bridge-name-too-long"; });
  refused([](InitOptions& o) { o.bridge = "br 0"; });
  refused([](InitOptions& o) { o.mac_prefix = "02:FF:0A:0A"; });
  refused([](InitOptions& o) { o.mac_prefix = "02:FF:0A:0A:06:01"; });
  refused([](InitOptions& o) { o.mac_prefix = "01:00:5E:00:00"; });  // multicast
  refused([](InitOptions& o) { o.domain = "bad_domain.test"; });
  refused([](InitOptions& o) { o.domain = ""; });
  refused([](InitOptions& o) { o.nodes = {"web.01"}; });
  refused([](InitOptions& o) { o.nodes = {"-web"}; });
  refused([](InitOptions& o) { o.nodes = {"bad\nname"}; });
  refused([](InitOptions& o) { o.provider = "ovn"; });
  refused([](InitOptions& o) { o.public_address = "198.51.100"; });
}

TEST(InitConfig, RefusesDuplicateNodes) {
  InitOptions options;
  options.nodes = {"lxdev01"};
  EXPECT_NE(RefusalOf(options).find("'lxdev01' is given twice"), std::string::npos);
  options.default_nodes = false;
  options.nodes = {"web", "db", "web"};
  EXPECT_NE(RefusalOf(options).find("'web' is given twice"), std::string::npos);
}

TEST(InitConfig, ProviderSetsVmLifecycle) {
  InitOptions options;
  options.provider = "libvirt";
  std::string text = GenerateInitConfig(options);
  EXPECT_NE(text.find("provider = \"libvirt\""), std::string::npos) << text;
  EXPECT_NE(text.find("vm_lifecycle = \"libvirt\""), std::string::npos) << text;
  options.provider = "standalone";
  text = GenerateInitConfig(options);
  EXPECT_NE(text.find("provider = \"standalone\""), std::string::npos) << text;
  EXPECT_NE(text.find("vm_lifecycle = \"ignore\""), std::string::npos) << text;
}

}  // namespace
}  // namespace virtnat
