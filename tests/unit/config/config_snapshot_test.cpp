// The config snapshot (config/config_snapshot.h): it gives back exactly the config it was
// made from, and never stands for a file edited since, even behind virtnat's back with the
// size and the times kept.
#include "config/config_snapshot.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/nftables/nft_ruleset.h"
#include "plan/desired_state.h"

#ifndef VIRTNAT_GOLDEN_DIR
#error "VIRTNAT_GOLDEN_DIR (tests/CMakeLists.txt) must name tests/golden"
#endif

namespace virtnat {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// Everything the model holds, as text: equal texts, equal configs.
std::string Describe(const Config& config) {
  std::ostringstream out;
  auto where = [&](const SourceLocation& at) {
    out << " @" << at.file << ":" << at.line << ":" << at.field;
    for (const auto& [key, line] : at.key_lines) out << " " << key << "=" << line;
    out << "\n";
  };
  const Settings& s = config.settings;
  out << s.ruleset_name << " " << (s.public_address ? s.public_address->ToString() : "-") << " "
      << s.has_public_address << " " << static_cast<int>(s.vm_lifecycle) << " " << s.libvirt_uri
      << " " << s.strict_hook << " " << s.fleet.northbound << " " << s.fleet.southbound << " "
      << s.fleet.ssl_private_key << s.fleet.ssl_certificate << s.fleet.ssl_ca_cert << " "
      << (s.public_address6 ? s.public_address6->ToString() : "-") << " " << s.has_public_address6
      << "\n";
  for (const auto& n : config.networks) {
    out << n.name << " " << ToString(n.mode) << " " << ToString(n.provider) << " " << n.bridge
        << " " << n.address.ToString() << " " << n.has_address << " " << n.uplink << " "
        << (n.uplink_address ? n.uplink_address->ToString() : "-") << " "
        << (n.uplink_gateway ? n.uplink_gateway->ToString() : "-") << " "
        << (n.dhcp_range ? n.dhcp_range->ToString() : "-") << " " << n.domain << " "
        << n.mac_prefix.value_or("-") << " " << n.define << " " << n.provider_nat << " "
        << (n.address6 ? n.address6->ToString() : "-") << " "
        << (n.dhcp_range6 ? n.dhcp_range6->ToString() : "-") << " " << n.nat6;
    for (const auto& chassis : n.gateway_chassis) out << " " << chassis;
    where(n.where);
    for (const auto& h : n.hosts) {
      out << "  " << h.name << " " << h.address.ToString() << " " << h.mac.ToString() << " "
          << h.mac_derived << " " << (h.address6 ? h.address6->ToString() : "-") << " "
          << h.address6_derived;
      where(h.where);
    }
  }
  for (const auto& f : config.forwards) {
    out << f.host << " " << f.target.ToString() << " " << f.network << " "
        << ProtocolsToString(f.protocols) << " " << ToString(f.port) << " " << ToString(f.to_port)
        << " " << (f.listen ? f.listen->ToString() : "*") << " " << f.listen_defaulted << " "
        << f.description << " " << (f.target6 ? f.target6->ToString() : "-") << " " << f.open4
        << f.open6 << " " << (f.listen6 ? f.listen6->ToString() : "*");
    for (const auto& source : f.sources) out << " " << source.ToString();
    for (const auto& source : f.sources6) out << " " << source.ToString();
    where(f.where);
  }
  for (const auto& file : config.files) out << file << "\n";
  return out.str();
}

TEST(ConfigSnapshot, GivesBackTheConfigOfEveryGoldenScenario) {
  for (const auto& entry : fs::directory_iterator(VIRTNAT_GOLDEN_DIR)) {
    fs::path toml = entry.path() / "virtnat.toml";
    if (!fs::exists(toml)) continue;
    std::vector<ConfigSource> sources{{toml.string(), ReadText(toml)}};
    Diagnostics diagnostics;
    Config config = ParseConfig(sources, diagnostics);
    ASSERT_FALSE(diagnostics.HasErrors()) << toml;
    std::string bytes = SerializeConfigSnapshot(sources, config, diagnostics.warnings());
    auto snapshot = ParseConfigSnapshot(bytes, sources);
    ASSERT_TRUE(snapshot.has_value()) << toml;
    EXPECT_EQ(Describe(snapshot->config), Describe(config)) << toml;
    EXPECT_EQ(RenderTable(RenderRuleset(BuildDesiredState(snapshot->config, {}))),
              RenderTable(RenderRuleset(BuildDesiredState(config, {}))));
    ASSERT_EQ(snapshot->warnings.size(), diagnostics.warnings().size());
    for (std::size_t i = 0; i < snapshot->warnings.size(); ++i)
      EXPECT_EQ(snapshot->warnings[i].ToString(), diagnostics.warnings()[i].ToString());
    // Damaged or cut short: not a snapshot.
    EXPECT_FALSE(ParseConfigSnapshot(bytes.substr(0, bytes.size() - 3), sources).has_value());
  }
}

// Every IPv6 field of the model, set to something other than its default.
constexpr const char* kDualStackConfig = R"([settings]
public_address = "198.51.100.1"
public_address6 = "2001:db8:100::1"

[[network]]
name = "lan"
bridge = "nbr0"
address = "10.1.1.1/24"
address6 = "fd00:77::1/64"
dhcp_range6 = "fd00:77::100-fd00:77::1ff"
nat6 = false

[[network.host]]
name = "web"
address = "10.1.1.10"

[[network.host]]
name = "db"
address = "10.1.1.11"
address6 = "fd00:77::db"

[[forward]]
host = "web"
port = "8080"
to_port = "80"
source = ["198.51.100.0/24", "2001:db8:1::/48"]

[[forward]]
address = "fd00:77::99"
port = "8081"
to_port = "80"

[[forward]]
host = "db"
port = "5432"
listen = "2001:db8:100::7"
)";

TEST(ConfigSnapshot, GivesBackEveryIpv6Field) {
  // A snapshot stands for files on disk (their identity is in it).
  fs::path dir = fs::temp_directory_path() / ("virtnat-snapshot6-" + std::to_string(getpid()));
  fs::create_directories(dir);
  Write(dir / "virtnat.toml", kDualStackConfig);
  std::vector<ConfigSource> sources{{(dir / "virtnat.toml").string(), kDualStackConfig}};
  Diagnostics diagnostics;
  Config config = ParseConfig(sources, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << diagnostics.errors().at(0).ToString();
  // Control: the fields are set, so an unwritten one would show.
  ASSERT_TRUE(config.settings.public_address6.has_value());
  ASSERT_FALSE(config.networks.at(0).nat6);
  ASSERT_TRUE(config.networks.at(0).hosts.at(0).address6_derived);
  ASSERT_FALSE(config.forwards.at(1).open4);
  ASSERT_EQ(config.forwards.at(2).listen6->ToString(), "2001:db8:100::7");
  ASSERT_EQ(config.forwards.at(0).sources6.size(), 1u);

  std::string bytes = SerializeConfigSnapshot(sources, config, diagnostics.warnings());
  auto snapshot = ParseConfigSnapshot(bytes, sources);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(Describe(snapshot->config), Describe(config));
  Config changed = config;
  changed.forwards.at(2).listen6.reset();
  EXPECT_NE(Describe(changed), Describe(config)) << "Describe must show listen6";

  // Written to a file and read back, as the commands do.
  fs::path file = dir / "config.snapshot";
  WriteConfigSnapshot(file, sources, config, diagnostics.warnings());
  auto read = ReadConfigSnapshot(file, sources);
  fs::remove_all(dir);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(Describe(read->config), Describe(config));
  for (std::size_t i = 0; i < config.forwards.size(); ++i)
    EXPECT_TRUE(read->config.forwards[i].SameRule(config.forwards[i])) << i;
}

class ConfigSnapshotFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("virtnat-snapshot-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "etc" / "conf.d");
    fs::create_directories(dir_ / "state");
    main_ = dir_ / "etc" / "virtnat.toml";
    Write(main_, std::string(R"([settings]
public_address = "198.51.100.1"

[[network]]
name = "lan"
bridge = "nbr0"
address = "10.1.1.1/24"

[[network.host]]
name = "web"
address = "10.1.1.10"

[[forward]]
host = "web"
port = "8080"
to_port = "80"
)"));
    fs::permissions(main_, fs::perms::owner_read | fs::perms::owner_write);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Config Load() {
    Diagnostics diagnostics;
    return LoadConfigWithSnapshot(main_, dir_ / "state", diagnostics);
  }

  fs::path dir_, main_;
};

TEST_F(ConfigSnapshotFiles, AnEditBehindVirtnatsBackIsNeverAnsweredFromTheSnapshot) {
  EXPECT_EQ(Load().forwards.at(0).port.first, 8080);
  ASSERT_TRUE(fs::exists(dir_ / "state" / "config.snapshot"));
  EXPECT_EQ(Load().forwards.at(0).port.first, 8080);  // from the snapshot
  // Same size, same modification time (restored), one digit changed.
  struct stat before {};
  ASSERT_EQ(stat(main_.c_str(), &before), 0);
  std::string text = ReadText(main_);
  text.replace(text.find("8080"), 4, "8081");
  Write(main_, text);
  timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, main_.c_str(), times, 0), 0);
  EXPECT_EQ(Load().forwards.at(0).port.first, 8081);
  // A new file in conf.d counts too.
  fs::path extra = dir_ / "etc" / "conf.d" / "20-more.toml";
  Write(extra, "[[forward]]\nhost = \"web\"\nport = \"2222\"\nto_port = \"22\"\n");
  fs::permissions(extra, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Load().forwards.size(), 2u);
  fs::remove(extra);
  EXPECT_EQ(Load().forwards.size(), 1u);
}

TEST_F(ConfigSnapshotFiles, AChangeOfOneFileEqualsTheSnapshotOfTheWholeNewConfig) {
  // A file after the CLI file's place: its forwards' records are renumbered when the CLI file
  // comes into being.
  fs::path late = dir_ / "etc" / "conf.d" / "90-late.toml";
  Write(late, "[[forward]]\nhost = \"web\"\nport = \"2222\"\nto_port = \"22\"\n");
  fs::permissions(late, fs::perms::owner_read | fs::perms::owner_write);
  Load();
  fs::path cli = dir_ / "etc" / "conf.d" / "50-cli.toml";
  for (bool new_file : {true, false}) {
    auto sources = ReadConfigSources(main_);
    auto view = ReadConfigSnapshotView(dir_ / "state" / "config.snapshot", sources);
    ASSERT_TRUE(view.has_value());
    // The CLI file with one forward (new, or changed), as forward add writes it.
    std::string text = std::string("[[forward]]\nhost = \"web\"\nport = \"") +
                       (new_file ? "9000" : "9001") + "\"\nto_port = \"90\"\n";
    Write(cli, text);
    fs::permissions(cli, fs::perms::owner_read | fs::perms::owner_write);
    auto after = ReadConfigSources(main_);
    Diagnostics diagnostics;
    Config whole = ParseConfig(after, diagnostics);
    ASSERT_FALSE(diagnostics.HasErrors());
    std::vector<Forward> changed;
    for (const auto& forward : whole.forwards)
      if (forward.where.file == cli.string()) changed.push_back(forward);
    std::vector<std::string> files;
    for (const auto& source : after) files.push_back(source.path);
    EXPECT_EQ(SerializeConfigSnapshotWith(after, *view, files, cli.string(), changed,
                                          diagnostics.warnings()),
              SerializeConfigSnapshot(after, whole, diagnostics.warnings()));
    ASSERT_TRUE(WriteConfigSnapshotWith(dir_ / "state" / "config.snapshot", after, *view, files,
                                        cli.string(), changed, diagnostics.warnings()));
    EXPECT_EQ(Describe(Load()), Describe(whole));
  }
}

}  // namespace
}  // namespace virtnat
