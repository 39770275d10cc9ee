#include "backends/nftables/kernel_table.h"

#include <gtest/gtest.h>

namespace virtnat {
namespace {

// Shapes as printed by `nft -j list table inet virtnat` (nftables 1.0.6).
const char* kListing = R"({"nftables": [
 {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "virtnat", "handle": 3, "comment": "managed by virtnat; layout abc"}},
 {"map": {"family": "inet", "name": "fwd_dnat", "table": "virtnat", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 6, "map": "ipv4_addr . inet_service",
          "elem": [[{"concat": ["198.51.100.1", "tcp", 2222]}, {"concat": ["10.1.1.28", 22]}]]}},
 {"set": {"family": "inet", "name": "fwd_count", "table": "virtnat", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 10,
          "elem": [{"elem": {"val": {"concat": ["198.51.100.1", "tcp", 2222]}, "counter": {"packets": 7, "bytes": 420}}}], "stmt": [{"counter": null}]}},
 {"set": {"family": "inet", "name": "fwd_allow", "table": "virtnat", "type": ["ipv4_addr", "inet_proto", "inet_service", "ipv4_addr"], "handle": 9, "flags": ["interval"],
          "elem": [{"concat": ["198.51.100.1", "tcp", 2222, {"prefix": {"addr": "198.51.100.0", "len": 24}}]}]}},
 {"set": {"family": "inet", "name": "fwd_restricted", "table": "virtnat", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 11}}
]})";

TEST(KernelTable, ParsesElementsAndCounters) {
  KernelTable table = ParseKernelTable(nlohmann::json::parse(kListing));
  ASSERT_TRUE(table.exists);
  EXPECT_EQ(table.comment, "managed by virtnat; layout abc");
  EXPECT_EQ(table.elements["fwd_dnat"],
            std::set<std::string>{"198.51.100.1 . tcp . 2222 : 10.1.1.28 . 22"});
  EXPECT_EQ(table.elements["fwd_allow"],
            std::set<std::string>{"198.51.100.1 . tcp . 2222 . 198.51.100.0/24"});
  EXPECT_TRUE(table.elements.contains("fwd_restricted"));
  EXPECT_TRUE(table.elements["fwd_restricted"].empty());
  auto counter = table.counters.at("fwd_count|198.51.100.1 . tcp . 2222");
  EXPECT_EQ(counter.packets, 7u);
  EXPECT_EQ(counter.bytes, 420u);
}

TEST(KernelTable, FingerprintIgnoresElementsAndHandles) {
  auto listing = nlohmann::json::parse(kListing);
  KernelTable before = ParseKernelTable(listing);
  listing["nftables"][2]["map"]["elem"] = nlohmann::json::array();
  listing["nftables"][2]["map"]["handle"] = 99;
  EXPECT_EQ(ParseKernelTable(listing).fingerprint, before.fingerprint);
  listing["nftables"][5]["set"]["flags"] = {"interval"};
  EXPECT_NE(ParseKernelTable(listing).fingerprint, before.fingerprint);
}

TEST(KernelTable, MissingTable) {
  KernelTable table = ParseKernelTable(nlohmann::json::parse(R"({"nftables": []})"));
  EXPECT_FALSE(table.exists);
}

}  // namespace
}  // namespace virtnat
