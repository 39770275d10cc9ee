// Golden files, as libvirt's networkxml2firewalltest does (issue 13): every folder of
// tests/golden holds a config (virtnat.toml), optionally the VMs that run (running.txt: one
// host name a line, '#' starts a comment; absent = none), and everything virtnat renders for
// it, one file per artifact:
//   nftables.nft                the whole table, as `virtnat plan` prints it
//   libvirt-NETWORK.xml         each provider-libvirt network virtnat defines
//   dnsmasq-NETWORK.conf        each standalone network virtnat runs dnsmasq for: dnsmasq.conf,
//   dnsmasq-NETWORK.hosts       its dhcp-hostsfile
//   dnsmasq-NETWORK.addnhosts   and its addn-hosts file
//   shim.nft                    the shim rule in libvirt's chain, when a network needs it
//   ovn-nb.txt                  the OVN northbound rows of the provider-ovn networks, as the
//                               one ovn-nbctl transaction that creates them
// The test renders each folder's config and compares byte for byte; a file that nothing renders
// any more is an error too. VIRTNAT_GOLDEN_UPDATE=1 rewrites the files instead (`make golden`),
// for a diff to review. Pure: only render functions, no kernel, no libvirt, no files but these.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backends/nftables/libvirt_shim.h"
#include "backends/nftables/nft_ruleset.h"
#include "config/config_loader.h"
#include "plan/desired_state.h"
#include "providers/libvirt/network_xml.h"
#include "providers/ovn/ovn_plan.h"
#include "providers/standalone/dnsmasq_config.h"

#ifndef VIRTNAT_GOLDEN_DIR
#error "VIRTNAT_GOLDEN_DIR (tests/CMakeLists.txt) must name tests/golden"
#endif

namespace virtnat {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Adapters: the only calls into virtnat's parse and render API, one per artifact. When the
// engine's API changes, adjust these and nothing else.

// virtnat.toml -> Config, validated; errors land in `diagnostics`.
Config ParseScenarioConfig(const std::string& text, Diagnostics& diagnostics) {
  return ParseConfig({{"virtnat.toml", text}}, diagnostics);
}

// nftables.nft: what `virtnat plan` prints (NftablesFirewall::Render), for this running set.
std::string RenderNftables(const Config& config, const std::set<std::string>& running) {
  return RenderTable(RenderRuleset(BuildDesiredState(config, running)));
}

// libvirt-NETWORK.xml: the XML `apply` defines (network_manager.cpp), without a UUID;
// nullopt for a network virtnat does not define in libvirt.
std::optional<std::string> RenderLibvirtXml(const Network& network) {
  if (network.provider != NetworkProvider::kLibvirt || !network.define) return std::nullopt;
  return RenderNetworkXml(network);
}

struct DnsmasqArtifacts {
  std::string conf;       // dnsmasq-NETWORK.conf
  std::string hostsfile;  // dnsmasq-NETWORK.hosts
  std::string addnhosts;  // dnsmasq-NETWORK.addnhosts
};

// The files a standalone network's dnsmasq gets (standalone_network.cpp: only when the network
// serves DHCP), with the default folders whatever the environment says; nullopt otherwise.
std::optional<DnsmasqArtifacts> RenderDnsmasq(const Network& network) {
  if (network.provider != NetworkProvider::kStandalone || !network.ServesDhcp() ||
      !network.has_address)
    return std::nullopt;
  StandalonePaths paths;  // /var/lib/virtnat and /run/virtnat: only written into the text
  DnsmasqFiles files = RenderDnsmasqFiles(network, paths);
  return DnsmasqArtifacts{files.conf, files.hostsfile, files.addnhosts};
}

// shim.nft: the rule virtnat keeps in libvirt's chain when a network's firewall is libvirt's
// (define = false, libvirt_forward = "nat"), for each of libvirt's firewall backends.
std::optional<std::string> RenderShim(const Config& config) {
  if (!config.DelegatesFirewall()) return std::nullopt;
  return RenderLibvirtShim();
}

// ovn-nb.txt: the rows of every provider-ovn network, as the one ovn-nbctl transaction that
// creates them in an empty northbound database (`virtnat network xml` prints one network's);
// nullopt without ovn networks.
std::optional<std::string> RenderOvnPlan(const Config& config) {
  std::vector<const Network*> networks;
  for (const auto& network : config.networks)
    if (network.provider == NetworkProvider::kOvn) networks.push_back(&network);
  if (networks.empty()) return std::nullopt;
  return ovn::RenderPlan(ovn::PlanNetworks(config, networks));
}

// ---------------------------------------------------------------------------------------------

const fs::path kGoldenDir = VIRTNAT_GOLDEN_DIR;
constexpr const char* kConfigFile = "virtnat.toml";
constexpr const char* kRunningFile = "running.txt";
constexpr const char* kNftablesFile = "nftables.nft";
constexpr const char* kRegenerate =
    "To regenerate after a reviewed change: make golden (or VIRTNAT_GOLDEN_UPDATE=1 "
    "virtnat_unit_tests --gtest_filter='Golden*'), then review git diff tests/golden";

bool UpdateMode() {
  const char* value = std::getenv("VIRTNAT_GOLDEN_UPDATE");
  return value && std::string(value) == "1";
}

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

// Every artifact of one scenario, by file name.
std::map<std::string, std::string> RenderScenario(const Config& config,
                                                  const std::set<std::string>& running) {
  std::map<std::string, std::string> files;
  files[kNftablesFile] = RenderNftables(config, running);
  for (const auto& network : config.networks) {
    if (auto xml = RenderLibvirtXml(network)) files["libvirt-" + network.name + ".xml"] = *xml;
    if (auto dnsmasq = RenderDnsmasq(network)) {
      files["dnsmasq-" + network.name + ".conf"] = dnsmasq->conf;
      files["dnsmasq-" + network.name + ".hosts"] = dnsmasq->hostsfile;
      files["dnsmasq-" + network.name + ".addnhosts"] = dnsmasq->addnhosts;
    }
  }
  if (auto shim = RenderShim(config)) files["shim.nft"] = *shim;
  if (auto ovn = RenderOvnPlan(config)) files["ovn-nb.txt"] = *ovn;
  return files;
}

// running.txt: one host name a line; blank lines and '#' comments skipped.
std::set<std::string> ParseRunning(const std::string& text) {
  std::set<std::string> running;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string word;
    while (words >> word) running.insert(word);
  }
  return running;
}

// ---- a small line diff for mismatch messages ----

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start) + "  (no newline at end)");
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// A unified-diff-like excerpt (3 lines of context, at most `max_lines` lines) of the changes
// from `expected` (the golden file) to `actual` (what virtnat renders now).
std::string UnifiedDiff(const std::string& expected, const std::string& actual,
                        const std::string& name, std::size_t max_lines = 60) {
  std::vector<std::string> a = SplitLines(expected), b = SplitLines(actual);
  std::string out = "--- " + name + " (golden file)\n+++ " + name + " (rendered now)\n";
  if (a.size() * b.size() > 4'000'000) return out + "(too large to diff)\n";
  // Longest common subsequence, then walk it into '-', '+', ' ' lines.
  std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;)
    for (std::size_t j = b.size(); j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  struct Line {
    char tag;
    std::string text;
    std::size_t a_line, b_line;  // 1-based positions before this line
  };
  std::vector<Line> edit;
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      edit.push_back({' ', a[i], i + 1, j + 1});
      ++i, ++j;
    } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      edit.push_back({'-', a[i], i + 1, j + 1});  // removals first, as diff -u prints them
      ++i;
    } else {
      edit.push_back({'+', b[j], i + 1, j + 1});
      ++j;
    }
  }
  // Hunks: changed lines with 3 lines of context around them.
  constexpr std::size_t kContext = 3;
  std::vector<bool> shown(edit.size(), false);
  for (std::size_t k = 0; k < edit.size(); ++k)
    if (edit[k].tag != ' ')
      for (std::size_t m = k >= kContext ? k - kContext : 0;
           m < std::min(edit.size(), k + kContext + 1); ++m)
        shown[m] = true;
  std::size_t printed = 0;
  for (std::size_t k = 0; k < edit.size(); ++k) {
    if (!shown[k]) continue;
    if (k == 0 || !shown[k - 1]) {  // a new hunk: "@@ -start,count +start,count @@"
      std::size_t a_count = 0, b_count = 0;
      for (std::size_t m = k; m < edit.size() && shown[m]; ++m) {
        a_count += edit[m].tag != '+';
        b_count += edit[m].tag != '-';
      }
      out += "@@ -" + std::to_string(edit[k].a_line) + "," + std::to_string(a_count) + " +" +
             std::to_string(edit[k].b_line) + "," + std::to_string(b_count) + " @@\n";
    }
    if (printed++ == max_lines) return out + "... (diff cut)\n";
    out += edit[k].tag + edit[k].text + "\n";
  }
  return out;
}

// ---- scenarios ----

std::vector<std::string> ListScenarios() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(kGoldenDir, error))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

TEST(GoldenFiles, ScenariosExist) {
  ASSERT_TRUE(fs::is_directory(kGoldenDir)) << kGoldenDir << " is missing";
  auto scenarios = ListScenarios();
  EXPECT_FALSE(scenarios.empty()) << "no scenario folders in " << kGoldenDir;
  for (const auto& name : scenarios)
    EXPECT_TRUE(fs::is_regular_file(kGoldenDir / name / kConfigFile))
        << "tests/golden/" << name << " has no " << kConfigFile;
}

class GoldenScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenScenario, RendersExactlyTheGoldenFiles) {
  const fs::path folder = kGoldenDir / GetParam();
  const std::string where = "tests/golden/" + GetParam() + "/";
  auto text = ReadFile(folder / kConfigFile);
  ASSERT_TRUE(text) << where << kConfigFile << " is missing";
  Diagnostics diagnostics;
  Config config = ParseScenarioConfig(*text, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors()) << where << kConfigFile << " is not valid:\n"
                                        << FormatErrors(diagnostics);
  std::set<std::string> running;
  if (auto listed = ReadFile(folder / kRunningFile)) running = ParseRunning(*listed);
  std::set<std::string> hosts;
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts) hosts.insert(host.name);
  for (const auto& name : running)
    EXPECT_TRUE(hosts.contains(name)) << where << kRunningFile << ": no host named " << name;

  const auto rendered = RenderScenario(config, running);
  ASSERT_TRUE(rendered.contains(kNftablesFile));
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(folder)) {
    std::string name = entry.path().filename().string();
    if (name == kConfigFile || name == kRunningFile) continue;
    if (!entry.is_regular_file()) {
      ADD_FAILURE() << where << name << ": only files belong in a scenario folder";
      continue;
    }
    present.insert(name);
  }

  if (UpdateMode()) {
    for (const auto& [name, content] : rendered)
      if (ReadFile(folder / name) != content) {
        WriteFile(folder / name, content);
        std::cout << "[golden] wrote " << where << name << "\n";
      }
    for (const auto& name : present)
      if (!rendered.contains(name)) {
        fs::remove(folder / name);
        std::cout << "[golden] removed " << where << name << " (nothing renders it)\n";
      }
    return;
  }

  EXPECT_TRUE(present.contains(kNftablesFile))
      << where << kNftablesFile << " is missing: every scenario has one. " << kRegenerate;
  for (const auto& name : present)
    if (!rendered.contains(name))
      ADD_FAILURE() << where << name
                    << ": stray file, virtnat renders nothing by that name for this config "
                       "(renamed or no longer produced?). "
                    << kRegenerate;
  for (const auto& [name, content] : rendered) {
    auto golden = ReadFile(folder / name);
    if (!golden && name == kNftablesFile) continue;  // reported above
    if (!golden) {
      ADD_FAILURE() << where << name << " is missing: virtnat renders it for this config. "
                    << kRegenerate;
      continue;
    }
    if (*golden != content)
      ADD_FAILURE() << where << name << " differs from what virtnat renders now:\n"
                    << UnifiedDiff(*golden, content, where + name) << kRegenerate;
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenScenario, ::testing::ValuesIn(ListScenarios()), TestName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenScenario);

}  // namespace
}  // namespace virtnat
