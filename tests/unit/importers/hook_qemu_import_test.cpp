#include "importers/hook_qemu_import.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_config.h"
#include "config/diagnostics.h"

namespace virtnat {
namespace {

// A network holding the guests of the samples below; forwards without listen use the
// public address.
const char* kGuestNetwork = R"(
[settings]
public_address = "198.51.100.1"

[[network]]
name = "default"
bridge = "virbr0"
address = "192.168.122.1/24"
dhcp_range = "192.168.122.100-192.168.122.254"
)";

// hooks.json as libvirt-hook-qemu reads it: comments, a list per domain, ranges.
const char* kHooksJson = R"({
  // a web server: single ports, a pair and three consecutive pairs
  "web01": {
    "private_ip": "192.168.122.10",
    "public_ip": "198.51.100.7",
    "port_map": {
      "tcp": [80, [8443, 443], [8000, 9000], [8001, 9001], [8002, 9002]],
      "udp": [[5353, 53]]
    }
  },
  "game": {
    "private_ip": "192.168.122.11",  // "quotes" in a comment
    "source_ip": "203.0.113.9",
    "port_range": [{"init_port": 27015, "ports_num": 5, "protocol": "udp"}],
    /* 27020 continues the range above */
    "port_map": {"udp": [27020]}
  },
  "multi": [
    {"private_ip": "192.168.122.12", "port_map": {"tcp": [[2201, 22]]}},
    {"private_ip": "192.168.122.13", "source_ip": "198.51.100.0/24, 203.0.113.0/28",
     "interface": "virbr0", "port_map": {"tcp": [[2202, 22]]}}
  ]
})";

// The older fork's config.json: one public_ip, machines, networks, ports as strings.
const char* kForkConfigJson = R"({
  "debug": true,
  "machines": {
    "mail": {
      "private_ip": "192.168.122.30",
      "port_map": [["2525", "25"], ["1143", "143"], ["1144", "144"]]
    },
    "dns": {"private_ip": "192.168.122.31", "port_map": {"udp": [53], "tcp": [53]}}
  },
  "networks": {"default": "192.168.122.0/24"},
  "public_ip": "198.51.100.7"
})";

Config ParseImported(const ImportResult& result) {
  Diagnostics diagnostics;
  Config config = testing::Parse(kGuestNetwork, diagnostics, result.toml);
  EXPECT_FALSE(diagnostics.HasErrors()) << FormatErrors(diagnostics) << "\n" << result.toml;
  return config;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The problem lines that mention `part`.
std::size_t ProblemsWith(const ImportResult& result, const std::string& part) {
  return std::count_if(result.problems.begin(), result.problems.end(),
                       [&](const std::string& problem) { return Contains(problem, part); });
}

std::string BadInputOf(const std::string& text) {
  try {
    ImportLibvirtHookQemu(text, "hooks.json");
  } catch (const BadInput& error) {
    return error.what();
  }
  return "";
}

TEST(ImportHookQemu, HooksJsonBecomesForwards) {
  ImportResult result = ImportLibvirtHookQemu(kHooksJson, "/etc/libvirt/hooks/hooks.json");
  EXPECT_EQ(result.forwards, 7u) << result.toml;
  Config config = ParseImported(result);
  ASSERT_EQ(config.forwards.size(), 7u);
  const Forward& web80 = config.forwards[0];
  EXPECT_EQ(web80.target.ToString(), "192.168.122.10");
  EXPECT_EQ(web80.network, "default");
  EXPECT_EQ(ToString(web80.port), "80");
  EXPECT_EQ(ToString(web80.to_port), "80");
  ASSERT_TRUE(web80.listen);
  EXPECT_EQ(web80.listen->ToString(), "198.51.100.7");
  EXPECT_EQ(web80.description, "imported from /etc/libvirt/hooks/hooks.json: domain web01");
  EXPECT_EQ(ToString(config.forwards[1].port), "8000-8002");
  EXPECT_EQ(ToString(config.forwards[1].to_port), "9000-9002");
  EXPECT_EQ(ToString(config.forwards[2].port), "8443");
  EXPECT_EQ(ToString(config.forwards[2].to_port), "443");
  EXPECT_EQ(config.forwards[3].protocols, std::vector<Protocol>{Protocol::kUdp});
  EXPECT_EQ(ToString(config.forwards[3].to_port), "53");

  const Forward& game = config.forwards[4];
  EXPECT_EQ(ToString(game.port), "27015-27020");
  EXPECT_EQ(game.protocols, std::vector<Protocol>{Protocol::kUdp});
  ASSERT_EQ(game.sources.size(), 1u);
  EXPECT_EQ(game.sources[0].network.ToString(), "203.0.113.9");
  EXPECT_EQ(game.sources[0].length, 32);
  ASSERT_TRUE(game.listen);  // no public_ip: settings.public_address
  EXPECT_EQ(game.listen->ToString(), "198.51.100.1");
  EXPECT_TRUE(Contains(result.toml, "source = [\"203.0.113.9\"]")) << result.toml;
  EXPECT_FALSE(Contains(result.toml, "\nlisten = \"198.51.100.1\"")) << result.toml;

  EXPECT_EQ(config.forwards[5].target.ToString(), "192.168.122.12");
  EXPECT_EQ(config.forwards[6].target.ToString(), "192.168.122.13");
  EXPECT_EQ(config.forwards[6].sources.size(), 2u);
  EXPECT_EQ(config.forwards[6].description,
            "imported from /etc/libvirt/hooks/hooks.json: domain multi");

  // Only the interface could not be carried over, and it is said.
  ASSERT_EQ(result.problems.size(), 1u) << result.toml;
  EXPECT_TRUE(Contains(result.problems[0], "hooks.json: domain multi[1]: interface: 'virbr0'"))
      << result.problems[0];
  EXPECT_TRUE(Contains(result.toml, "#   " + result.problems[0] + "\n")) << result.toml;
  EXPECT_TRUE(Contains(result.toml, "# Forwards imported from /etc/libvirt/hooks/hooks.json"))
      << result.toml;
}

TEST(ImportHookQemu, ForkConfigJsonBecomesForwards) {
  ImportResult result = ImportLibvirtHookQemu(kForkConfigJson, "config.json");
  EXPECT_EQ(result.forwards, 4u) << result.toml;
  Config config = ParseImported(result);
  ASSERT_EQ(config.forwards.size(), 4u);
  for (const auto& forward : config.forwards) {
    ASSERT_TRUE(forward.listen);
    EXPECT_EQ(forward.listen->ToString(), "198.51.100.7");
  }
  EXPECT_EQ(ToString(config.forwards[0].port), "1143-1144");
  EXPECT_EQ(ToString(config.forwards[0].to_port), "143-144");
  EXPECT_EQ(config.forwards[0].protocols, std::vector<Protocol>{Protocol::kTcp});
  EXPECT_EQ(ToString(config.forwards[1].port), "2525");
  EXPECT_EQ(ToString(config.forwards[1].to_port), "25");
  EXPECT_EQ(config.forwards[2].description, "imported from config.json: domain dns");
  EXPECT_EQ(config.forwards[2].protocols, std::vector<Protocol>{Protocol::kTcp});
  EXPECT_EQ(config.forwards[3].protocols, std::vector<Protocol>{Protocol::kUdp});

  EXPECT_EQ(result.problems.size(), 2u) << result.toml;
  EXPECT_EQ(ProblemsWith(result,
                         "config.json: networks.default: '192.168.122.0/24' not "
                         "imported"),
            1u);
  EXPECT_EQ(ProblemsWith(result, "config.json: debug: "), 1u);
}

TEST(ImportHookQemu, MergesOnlyWhereBothSidesAreConsecutive) {
  ImportResult result = ImportLibvirtHookQemu(
      R"({"vm": {"private_ip": "192.168.122.40",
                 "port_map": {"tcp": [[7001, 8001], [7000, 8000], [7002, 8005], 7003, 7004]}}})",
      "hooks.json");
  Config config = ParseImported(result);
  ASSERT_EQ(config.forwards.size(), 3u) << result.toml;
  EXPECT_EQ(ToString(config.forwards[0].port), "7000-7001");
  EXPECT_EQ(ToString(config.forwards[0].to_port), "8000-8001");
  EXPECT_EQ(ToString(config.forwards[1].port), "7002");
  EXPECT_EQ(ToString(config.forwards[2].port), "7003-7004");
  EXPECT_EQ(ToString(config.forwards[2].to_port), "7003-7004");
  EXPECT_TRUE(result.problems.empty());
}

TEST(ImportHookQemu, ReportsWhatItCannotExpress) {
  const char* text = R"({
    "bad": {
      "private_ip": "192.168.122.20",
      "interface": "virbr1",
      "mac": "52:54:00:00:00:01",
      "port_map": {"tcp": [70000, [1, 2, 3], "http", 2020, [2021, 0]], "icmp": [0]},
      "port_range": [{"init_port": 65530, "ports_num": 10, "protocol": "tcp"},
                     {"init_port": 3000, "ports_num": 2, "protocol": "sctp"}]
    },
    "v6": {"private_ip": "fd00::5", "public_ip": "198.51.100.7", "port_map": {"tcp": [22]}},
    "badsource": {"private_ip": "192.168.122.21", "source_ip": "10.0.0.1/8",
                  "port_map": {"tcp": [2323]}},
    "badlisten": {"private_ip": "192.168.122.23", "public_ip": "example.org",
                  "port_map": {"tcp": [2424]}},
    "noports": {"private_ip": "192.168.122.22"},
    "noaddress": {"port_map": {"tcp": [2525]}}
  })";
  ImportResult result = ImportLibvirtHookQemu(text, "hooks.json");
  EXPECT_EQ(result.forwards, 1u) << result.toml;
  Config config = ParseImported(result);
  ASSERT_EQ(config.forwards.size(), 1u);
  EXPECT_EQ(ToString(config.forwards[0].port), "2020");

  for (const char* expected :
       {"hooks.json: domain bad: interface: 'virbr1'", "hooks.json: domain bad: mac: unknown key",
        "domain bad: port_map.tcp[0]: '70000' is not a port", "domain bad: port_map.tcp[1]:",
        "domain bad: port_map.tcp[2]: '\"http\"'", "domain bad: port_map.tcp[4]:",
        "domain bad: port_map.icmp: virtnat forwards only tcp and udp",
        "domain bad: port_range[0]:", "domain bad: port_range[1]:",
        "domain v6: public_ip '198.51.100.7' and private_ip 'fd00::5' are of different "
        "address families",
        "domain badsource: source_ip: '10.0.0.1/8'", "domain badlisten: public_ip: 'example.org'",
        "domain noports: no port_map or port_range", "domain noaddress: private_ip: missing"})
    EXPECT_EQ(ProblemsWith(result, expected), 1u) << expected << "\n" << result.toml;
  EXPECT_EQ(result.problems.size(), 14u) << result.toml;
  for (const auto& problem : result.problems) {
    EXPECT_EQ(problem.find('\n'), std::string::npos) << problem;
    EXPECT_TRUE(Contains(result.toml, "#   " + problem + "\n")) << problem;
  }
}

TEST(ImportHookQemu, ReportsPortsTwoDomainsClaim) {
  ImportResult result = ImportLibvirtHookQemu(
      R"({"a": {"private_ip": "192.168.122.50", "port_map": {"tcp": [[8080, 80]]}},
          "b": {"private_ip": "192.168.122.51",
                "port_range": [{"init_port": 8079, "ports_num": 3, "protocol": "tcp"}]},
          "c": {"private_ip": "192.168.122.52", "public_ip": "198.51.100.9",
                "port_map": {"tcp": [[8080, 80]], "udp": [[8080, 80]]}}})",
      "hooks.json");
  Config config = ParseImported(result);
  ASSERT_EQ(config.forwards.size(), 5u) << result.toml;  // a, b's 8079 and 8081, c's two
  ASSERT_EQ(result.problems.size(), 1u) << result.toml;
  EXPECT_TRUE(Contains(result.problems[0],
                       "domain b: tcp port 8080 on settings.public_address is already "
                       "forwarded to domain a"))
      << result.problems[0];
}

TEST(ImportHookQemu, ConflictingMappingsOfOneDomainAreReported) {
  ImportResult result = ImportLibvirtHookQemu(
      R"({"vm": {"private_ip": "192.168.122.60",
                 "port_map": {"tcp": [[2222, 22], [2222, 22], [2222, 23]]}}})",
      "hooks.json");
  EXPECT_EQ(result.forwards, 1u);
  ASSERT_EQ(result.problems.size(), 1u) << result.toml;
  EXPECT_TRUE(Contains(result.problems[0], "port_map.tcp[2]: tcp port 2222 is already mapped"))
      << result.problems[0];
}

TEST(ImportHookQemu, HugeRangeIsReportedNotExpanded) {
  ImportResult result = ImportLibvirtHookQemu(
      R"({"vm": {"private_ip": "192.168.122.61", "port_range": [
           {"init_port": 1, "ports_num": 9223372036854775807, "protocol": "tcp"},
           {"init_port": 1, "ports_num": 18446744073709551615, "protocol": "tcp"}]}})",
      "hooks.json");
  EXPECT_EQ(result.forwards, 0u);
  EXPECT_EQ(ProblemsWith(result, "port_range["), 2u) << result.toml;
}

TEST(ImportHookQemu, StripsCommentsOutsideStringsOnly) {
  std::string text =
      "{ // note\n"
      "  \"url\": \"http://example.org/a//b\", /* one\n"
      "  two */ \"quote\": \"say \\\"//\\\" \" // end\n"
      "}";
  std::string blanked = BlankJsonComments(text);
  EXPECT_EQ(blanked.size(), text.size());
  EXPECT_EQ(std::count(blanked.begin(), blanked.end(), '\n'), 3);
  EXPECT_TRUE(Contains(blanked, "\"http://example.org/a//b\"")) << blanked;
  EXPECT_TRUE(Contains(blanked, "\"say \\\"//\\\" \"")) << blanked;
  EXPECT_FALSE(Contains(blanked, "note")) << blanked;
  EXPECT_FALSE(Contains(blanked, "one")) << blanked;
  EXPECT_FALSE(Contains(blanked, "two")) << blanked;
  EXPECT_FALSE(Contains(blanked, "end")) << blanked;
}

TEST(ImportHookQemu, MalformedJsonNamesTheLine) {
  std::string message = BadInputOf("{\n  \"web\": {\n    \"private_ip\" \"10.0.0.1\"\n  }\n}\n");
  EXPECT_EQ(message.rfind("hooks.json:3: not valid JSON: ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_FALSE(Contains(message, "json.exception")) << message;
  // A line after a comment still counts the comment's lines.
  message = BadInputOf("{ /* a\nb\n*/ \"web\": ,\n}");
  EXPECT_EQ(message.rfind("hooks.json:3: ", 0), 0u) << message;
  message = BadInputOf("{\n/* never closed\n}");
  EXPECT_EQ(message.rfind("hooks.json:2: ", 0), 0u) << message;
  EXPECT_EQ(BadInputOf("").rfind("hooks.json:1: not valid JSON", 0), 0u);
}

TEST(ImportHookQemu, WrongShapeIsBadInput) {
  EXPECT_EQ(BadInputOf("[1, 2]").rfind("hooks.json: expected a JSON object", 0), 0u);
  EXPECT_EQ(BadInputOf(R"({"web": "10.0.0.1"})").rfind("hooks.json: domain web: must be", 0), 0u);
  EXPECT_EQ(BadInputOf(R"({"web": [{"private_ip": "10.0.0.1"}, 5]})")
                .rfind("hooks.json: domain web[1]: must be", 0),
            0u);
  EXPECT_EQ(BadInputOf(R"({"machines": {"db": 1}})").rfind("hooks.json: machines.db: must be", 0),
            0u);
}

TEST(ImportHookQemu, EscapesOddDomainNames) {
  ImportResult result = ImportLibvirtHookQemu(
      R"({"we\"ird\\name": {"private_ip": "192.168.122.70", "port_map": {"tcp": [7070]}}})",
      "hooks.json");
  Config config = ParseImported(result);
  ASSERT_EQ(config.forwards.size(), 1u);
  EXPECT_EQ(config.forwards[0].description, "imported from hooks.json: domain we\"ird\\name");
}

TEST(ImportHookQemu, EmptyFileImportsNothing) {
  ImportResult result = ImportLibvirtHookQemu("{}", "hooks.json");
  EXPECT_EQ(result.forwards, 0u);
  EXPECT_TRUE(result.problems.empty());
  EXPECT_TRUE(ParseImported(result).forwards.empty());
}

// The IPv6 proposal for the hook (libvirt-hook-qemu #37 and its PR #39): IPv6 addresses in the
// same keys. The config layer decides each forward's family from its addresses.
TEST(ImportHookQemu, Ipv6AddressesBecomeIpv6Forwards) {
  const char* text = R"({
    "web6": {"private_ip": "fd00:77::1c", "public_ip": "2001:db8:100::7",
             "source_ip": "2001:db8:5::/48, 203.0.113.9",
             "port_map": {"tcp": [[8080, 80], [8081, 81]]}},
    "ssh6": {"private_ip": "fd00:77::1d", "port_map": {"tcp": [[2222, 22]]}},
    "ssh4": {"private_ip": "192.168.122.10", "port_map": {"tcp": [[2222, 22]]}}
  })";
  ImportResult result = ImportLibvirtHookQemu(text, "hooks.json");
  EXPECT_EQ(result.forwards, 3u) << result.toml;
  EXPECT_TRUE(result.problems.empty()) << result.toml;
  for (const char* expected :
       {"address = \"fd00:77::1c\"", "listen = \"2001:db8:100::7\"", "port = \"8080-8081\"",
        "to_port = \"80-81\"", "source = [\"2001:db8:5::/48\", \"203.0.113.9\"]",
        "address = \"fd00:77::1d\"", "address = \"192.168.122.10\"",
        "# A forward to an IPv6 guest without 'listen' listens on settings.public_address6."})
    EXPECT_TRUE(Contains(result.toml, expected)) << expected << "\n" << result.toml;
  // ssh6 and ssh4 both forward 2222 without public_ip, on different families: no clash.
  EXPECT_FALSE(Contains(result.toml, "already forwarded")) << result.toml;
}

TEST(ImportHookQemu, Ipv6PortsTwoDomainsClaimAreReported) {
  ImportResult result = ImportLibvirtHookQemu(
      R"({"a": {"private_ip": "fd00::1", "port_map": {"tcp": [[2222, 22]]}},
          "b": {"private_ip": "fd00::2", "port_map": {"tcp": [[2222, 22]]}}})",
      "hooks.json");
  EXPECT_EQ(result.forwards, 1u) << result.toml;
  ASSERT_EQ(result.problems.size(), 1u) << result.toml;
  EXPECT_TRUE(Contains(result.problems[0],
                       "domain b: tcp port 2222 on settings.public_address6 is already forwarded "
                       "to domain a"))
      << result.problems[0];
}

TEST(ImportHookQemu, Ipv4OnlyImportHasNoIpv6Note) {
  ImportResult result = ImportLibvirtHookQemu(
      R"({"a": {"private_ip": "192.168.122.10", "port_map": {"tcp": [22]}}})", "hooks.json");
  EXPECT_FALSE(Contains(result.toml, "public_address6")) << result.toml;
}

}  // namespace
}  // namespace virtnat
