#include "config/config_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_config.h"

namespace virtnat {
namespace {

using testing::kBaseConfig;
using testing::Parse;

std::string Errors(const Diagnostics& diagnostics) {
  return FormatErrors(diagnostics);
}

TEST(ConfigLoader, ParsesTheContractExample) {
  Diagnostics diagnostics;
  Config config = Parse(kBaseConfig, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  ASSERT_EQ(config.networks.size(), 1u);
  const Network& network = config.networks[0];
  EXPECT_EQ(network.bridge, "nbr0");
  EXPECT_EQ(network.address.Subnet().ToString(), "10.1.1.0/24");
  ASSERT_EQ(network.hosts.size(), 2u);
  EXPECT_EQ(network.hosts[0].mac.ToString(), "02:FF:0A:0A:06:1C");
  // vm-tools' convention: prefix + last octet (29 = 0x1D).
  EXPECT_EQ(network.hosts[1].mac.ToString(), "02:FF:0A:0A:06:1D");
  ASSERT_EQ(config.forwards.size(), 1u);
  const Forward& forward = config.forwards[0];
  EXPECT_EQ(forward.target.ToString(), "10.1.1.28");
  EXPECT_EQ(forward.network, "nat_bridge");
  EXPECT_EQ(forward.listen->ToString(), "198.51.100.1");
  EXPECT_EQ(forward.port.first, 2222);
  EXPECT_EQ(forward.to_port.first, 22);
  EXPECT_EQ(network.Fqdn(network.hosts[0]), "lxdev01.devops.test");
}

TEST(ConfigLoader, ConfDFilesAddForwardsAndOverrideSettings) {
  Diagnostics diagnostics;
  Config config = Parse(kBaseConfig, diagnostics,
                        "[settings]\ntable = \"other\"\n[[forward]]\naddress = \"10.1.1.29\"\n"
                        "port = 80\nprotocol = \"udp\"\nlisten = \"*\"\n");
  ASSERT_FALSE(diagnostics.HasErrors()) << Errors(diagnostics);
  EXPECT_EQ(config.settings.ruleset_name, "other");
  ASSERT_EQ(config.forwards.size(), 2u);
  EXPECT_FALSE(config.forwards[1].listen.has_value());
  EXPECT_EQ(config.forwards[1].where.file, "conf.d/50-cli.toml");
  EXPECT_EQ(config.forwards[1].where.field, "forward[0]");
}

struct BadCase {
  std::string name;
  std::string replace;  // text of kBaseConfig to replace
  std::string with;
  std::string expected;  // substring of the error, "LINE: field: ..."
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BadCase& bad, std::ostream* out) {
  *out << bad.name;
}

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, ReportsFileLineAndField) {
  const BadCase& bad = GetParam();
  std::string text = kBaseConfig;
  auto position = text.find(bad.replace);
  ASSERT_NE(position, std::string::npos) << bad.replace;
  text.replace(position, bad.replace.size(), bad.with);
  Diagnostics diagnostics;
  Parse(text, diagnostics);
  ASSERT_TRUE(diagnostics.HasErrors());
  EXPECT_NE(Errors(diagnostics).find(bad.expected), std::string::npos)
      << "got: " << Errors(diagnostics);
}

INSTANTIATE_TEST_SUITE_P(
    Validation, BadConfig,
    ::testing::Values(
        BadCase{"UnknownKey", "bridge = \"nbr0\"", "brigde = \"nbr0\"",
                "virtnat.toml:11: network[0].brigde: unknown key"},
        BadCase{"WrongType", "table = \"virtnat\"", "table = 5",
                "virtnat.toml:3: settings.table: must be a string, not an integer"},
        BadCase{"BadCidr", "10.1.1.1/24", "10.1.1.1/33", "virtnat.toml:12: network[0].address"},
        BadCase{"BadMac", "02:FF:0A:0A:06:1C", "02:FF:0A:0A:06:ZZ",
                "virtnat.toml:20: network[0].host[0].mac"},
        BadCase{"PortOutOfRange", "port = \"2222\"", "port = \"70000\"",
                "virtnat.toml:28: forward[0].port"},
        BadCase{"RangeMismatch", "port = \"2222\"\nto_port = \"22\"",
                "port = \"8000-8002\"\nto_port = \"9000-9001\"",
                "virtnat.toml:29: forward[0].to_port: range 9000-9001 has 2 ports"},
        BadCase{"HostOutsideNetwork", "address = \"10.1.1.28\"", "address = \"10.1.2.28\"",
                "virtnat.toml:19: network[0].host[0].address: 10.1.2.28 is outside"},
        BadCase{"HostInDhcpRange", "address = \"10.1.1.28\"", "address = \"10.1.1.128\"",
                "inside dhcp_range"},
        BadCase{"HostIsGateway", "address = \"10.1.1.28\"", "address = \"10.1.1.1\"",
                "is the gateway"},
        BadCase{"DuplicateHostName", "name = \"lxdev02\"", "name = \"lxdev01\"",
                "virtnat.toml:23: network[0].host[1].name: duplicate host name 'lxdev01'"},
        BadCase{"DuplicateAddress", "address = \"10.1.1.29\"", "address = \"10.1.1.28\"",
                "duplicate address 10.1.1.28"},
        BadCase{"UnknownHost", "host = \"lxdev01\"", "host = \"nosuch\"",
                "virtnat.toml:27: forward[0].host: unknown host 'nosuch'"},
        BadCase{"LongBridge", "bridge = \"nbr0\"", "bridge = \"averyveryverylongbr\"",
                "network[0].bridge: 'averyveryverylongbr' is not a valid interface name"},
        BadCase{"Syntax", "mode = \"nat\"", "mode = nat", "virtnat.toml:9: syntax:"},
        BadCase{"IsolatedTakesNoForwards", "mode = \"nat\"", "mode = \"isolated\"",
                "virtnat.toml:27: forward[0].host: host 'lxdev01' is on network 'nat_bridge' "
                "with mode isolated, which takes no forwards"},
        BadCase{"BridgedNeedsUplink", "mode = \"nat\"", "mode = \"bridged\"",
                "virtnat.toml:7: network[0]: missing key 'uplink'"},
        BadCase{"UplinkOnlyWhenBridged", "mode = \"nat\"", "mode = \"nat\"\nuplink = \"eth0\"",
                "network[0].uplink: only a network with mode = \"bridged\" has an uplink"},
        BadCase{"BadSource", "description = \"ssh\"", "source = [\"198.51.100.1/24\"]",
                "forward[0].source: '198.51.100.1/24' is not a network"},
        BadCase{"BadProtocol", "description = \"ssh\"", "protocol = \"icmp\"",
                "forward[0].protocol"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(ConfigLoader, ReportsEveryErrorAtOnce) {
  std::string text = kBaseConfig;
  text.replace(text.find("bridge = \"nbr0\""), 15, "bridge = \"a/b\"");
  text.replace(text.find("port = \"2222\""), 13, "port = \"0\"");
  Diagnostics diagnostics;
  Parse(text, diagnostics);
  EXPECT_EQ(diagnostics.errors().size(), 2u) << Errors(diagnostics);
}

TEST(ConfigLoader, OverlappingForwardsConflict) {
  Diagnostics diagnostics;
  Parse(kBaseConfig, diagnostics,
        "[[forward]]\nhost = \"lxdev02\"\nport = \"2200-2300\"\nto_port = \"3200-3300\"\n");
  ASSERT_TRUE(diagnostics.HasErrors());
  EXPECT_NE(Errors(diagnostics)
                .find("conf.d/50-cli.toml:3: forward[0].port: tcp "
                      "198.51.100.1:2200-2300 is already forwarded"),
            std::string::npos)
      << Errors(diagnostics);
}

TEST(ConfigLoader, AnyListenConflictsWithEveryAddress) {
  Diagnostics diagnostics;
  Parse(kBaseConfig, diagnostics,
        "[[forward]]\nhost = \"lxdev02\"\nport = \"2222\"\nlisten = \"*\"\n");
  EXPECT_TRUE(diagnostics.HasErrors());
  Diagnostics other_protocol;
  Parse(kBaseConfig, other_protocol,
        "[[forward]]\nhost = \"lxdev02\"\nport = \"2222\"\nlisten = \"*\"\nprotocol = \"udp\"\n");
  EXPECT_FALSE(other_protocol.HasErrors()) << Errors(other_protocol);
}

TEST(ConfigLoader, ListenRequiredWithoutPublicAddress) {
  std::string text = kBaseConfig;
  text.replace(text.find("public_address = \"198.51.100.1\"\n"), 31, "");
  Diagnostics diagnostics;
  Parse(text, diagnostics);
  EXPECT_NE(Errors(diagnostics).find("no listen address"), std::string::npos)
      << Errors(diagnostics);
}

}  // namespace
}  // namespace virtnat

namespace virtnat {
namespace {

TEST(ConfigWarnings, AdministrativePortWithoutSourceAndAnyListen) {
  Diagnostics diagnostics;
  testing::Parse(testing::kBaseConfig, diagnostics,
                 "[[forward]]\nhost = \"lxdev02\"\nport = \"5901\"\nlisten = \"*\"\n"
                 "source = [\"198.51.100.0/24\"]\n");
  ASSERT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics);
  std::string warnings;
  for (const auto& warning : diagnostics.warnings()) warnings += warning.ToString() + "\n";
  // The base config's ssh forward has no source list.
  EXPECT_NE(warnings.find("virtnat.toml:26: forward[0]: tcp 198.51.100.1:2222 -> lxdev01:22 "
                          "opens an administrative port to every client"),
            std::string::npos)
      << warnings;
  EXPECT_NE(warnings.find("conf.d/50-cli.toml:4: forward[0].listen: tcp *:5901 -> lxdev02:5901 "
                          "listens on every address of the host, open to the source list"),
            std::string::npos)
      << warnings;
  EXPECT_EQ(diagnostics.warnings().size(), 2u) << warnings;
}

TEST(ConfigOwnership, RootRefusesConfigOthersCanWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  auto folder =
      std::filesystem::temp_directory_path() / ("virtnat-owner-" + std::to_string(getpid()));
  std::filesystem::create_directories(folder);
  std::filesystem::permissions(folder, std::filesystem::perms(0755));
  auto file = folder / "virtnat.toml";
  { std::ofstream(file) << testing::kBaseConfig; }
  std::filesystem::permissions(file, std::filesystem::perms(0644));
  Diagnostics ok;
  EXPECT_NO_THROW(LoadConfig(file, ok));
  std::filesystem::permissions(file, std::filesystem::perms(0666));
  Diagnostics refused;
  try {
    LoadConfig(file, refused);
    ADD_FAILURE() << "a world-writable config was read";
  } catch (const BadInput& error) {
    EXPECT_NE(std::string(error.what()).find("chmod go-w"), std::string::npos) << error.what();
  }
  // Commands that edit the config (forward add/remove, import --write) read it this way.
  EXPECT_THROW(ReadConfigSources(file), BadInput);
  std::filesystem::permissions(file, std::filesystem::perms(0644));
  auto conf_d = folder / "conf.d";
  std::filesystem::create_directories(conf_d);
  std::filesystem::permissions(conf_d, std::filesystem::perms(0777));
  EXPECT_THROW(ReadConfigSources(file), BadInput) << "a world-writable conf.d/ was read";
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace virtnat
