// The netlink batches virtnat sends instead of nft text: for every golden scenario the very
// messages `nft -f` sends for the same table (netlink/README.md), the element codec, and the
// per-host files of the hook's fast path.
#include "backends/nftables/netlink_batch.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/nftables/element_codec.h"
#include "backends/nftables/host_batches.h"
#include "backends/nftables/netlink_send.h"
#include "config/config_loader.h"
#include "dual_stack_test.h"
#include "plan/desired_state.h"

#ifndef VIRTNAT_GOLDEN_DIR
#error "VIRTNAT_GOLDEN_DIR (tests/CMakeLists.txt) must name tests/golden"
#endif

namespace virtnat {
namespace {

namespace fs = std::filesystem;

std::string Hex(const void* data, std::size_t length) {
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < length; ++i) {
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 15];
  }
  return text;
}

// The canonical text of the attributes in [begin, end) (netlink/README.md).
std::vector<std::string> Attributes(const char* begin, const char* end) {
  std::vector<std::pair<std::string, bool>> items;  // text without label, nested
  std::vector<int> types;
  for (auto* attribute = reinterpret_cast<const nlattr*>(begin);
       mnl_attr_ok(attribute, static_cast<int>(end - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    const char* payload = static_cast<const char*>(mnl_attr_get_payload(attribute));
    std::size_t length = mnl_attr_get_payload_len(attribute);
    types.push_back(mnl_attr_get_type(attribute));
    if (attribute->nla_type & NLA_F_NESTED) {
      std::string inner;
      for (const auto& child : Attributes(payload, payload + length))
        inner += (inner.empty() ? "" : " ") + child;
      items.emplace_back("{" + inner + "}", true);
    } else {
      items.emplace_back("=" + Hex(payload, length), false);
    }
  }
  bool list = items.size() > 1 &&
              std::all_of(items.begin(), items.end(), [](const auto& item) { return item.second; });
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < items.size(); ++i)
    texts.push_back((list ? std::string("L") : std::to_string(types[i])) + items[i].first);
  if (!list) std::sort(texts.begin(), texts.end());
  return texts;
}

std::string Canonical(const std::string& messages) {
  static const char* kNames[] = {"NEWTABLE", "GETTABLE", "DELTABLE",   "NEWCHAIN",   "GETCHAIN",
                                 "DELCHAIN", "NEWRULE",  "GETRULE",    "DELRULE",    "NEWSET",
                                 "GETSET",   "DELSET",   "NEWSETELEM", "GETSETELEM", "DELSETELEM"};
  std::string out;
  int remaining = static_cast<int>(messages.size());
  for (auto* message = reinterpret_cast<const nlmsghdr*>(messages.data());
       mnl_nlmsg_ok(message, remaining); message = mnl_nlmsg_next(message, &remaining)) {
    int subsystem = message->nlmsg_type >> 8, type = message->nlmsg_type & 0xff;
    if (subsystem != NFNL_SUBSYS_NFTABLES || type >= 15) continue;
    const char* begin =
        static_cast<const char*>(mnl_nlmsg_get_payload_offset(message, sizeof(nfgenmsg)));
    const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(message));
    std::string line = kNames[type];
    line += "{";
    bool first = true;
    for (const auto& attribute : Attributes(begin, end)) {
      line += (first ? "" : " ") + attribute;
      first = false;
    }
    out += line + "}\n";
  }
  return out;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class NetlinkBatchScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(NetlinkBatchScenario, SendsWhatNftSendsForTheSameTable) {
  fs::path golden = fs::path(VIRTNAT_GOLDEN_DIR) / GetParam();
  fs::path expected = fs::path(VIRTNAT_GOLDEN_DIR).parent_path() / "unit" / "backends" /
                      "nftables" / "netlink" / (GetParam() + ".txt");
  ASSERT_TRUE(fs::exists(expected)) << expected << ": capture it (netlink/README.md)";
  Diagnostics diagnostics;
  Config config = ParseConfig({{"virtnat.toml", ReadText(golden / "virtnat.toml")}}, diagnostics);
  ASSERT_FALSE(diagnostics.HasErrors());
  NftBatch batch;
  batch.ReplaceTable(RenderRuleset(BuildDesiredState(config, {})));
  EXPECT_EQ(Canonical(batch.messages()), ReadText(expected));
}

std::vector<std::string> Scenarios() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(VIRTNAT_GOLDEN_DIR))
    if (fs::exists(entry.path() / "virtnat.toml")) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Golden, NetlinkBatchScenario, ::testing::ValuesIn(Scenarios()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// The dual-stack table built from the model (dual_stack_test.h), against what nft 1.0.6 sends
// for the text RenderReplace prints for it (captured as netlink/README.md says, from the file
// that DualStack.WritesItsReplaceForCapture writes).
TEST(NetlinkBatch, DualStackSendsWhatNftSends) {
  fs::path expected = fs::path(VIRTNAT_GOLDEN_DIR).parent_path() / "unit" / "backends" /
                      "nftables" / "netlink" / "dual-stack-model.txt";
  ASSERT_TRUE(fs::exists(expected)) << expected;
  NftBatch batch;
  batch.ReplaceTable(RenderRuleset(testing::DualStackState()));
  EXPECT_EQ(Canonical(batch.messages()), ReadText(expected));
}

TEST(ElementCodec, DecodesWhatItEncodesIpv6) {
  for (const auto& [set, text] : std::vector<std::pair<std::string, std::string>>{
           {"fwd_dnat6", "2001:db8:100::1 . tcp . 443 : fd00:77::1c . 8443"},
           {"fwd_dnat6_any", "udp . 53 : fd00:77::1c . 5353"},
           {"fwd_count6", "2001:db8::1 . udp . 65535"},
           {"fwd_allow6", "2001:db8::1 . tcp . 3000 . 2001:db8:300::/56"},
           {"fwd_allow6", "2001:db8::1 . tcp . 3000 . ::/0"},
           {"fwd_allow6_any", "tcp . 2222 . 2001:db8:400::7"},
           {"fwd_allow6_any", "tcp . 2222 . 2001:db8::1-2001:db8::5"},
           {"fwd_allow6_any", "tcp . 2222 . 2001:db8::/127"}}) {
    const auto* spec = nftlayout::FindSet(set);
    ASSERT_NE(spec, nullptr) << set;
    EncodedElement element = EncodeElement(*spec, text);
    std::string decoded = DecodeElement(
        *spec, element.key, element.key_length, spec->interval ? element.key_end : nullptr,
        spec->interval ? element.key_length : 0, element.data, element.data_length);
    EXPECT_EQ(decoded, text);
  }
  const auto* dnat6 = nftlayout::FindSet("fwd_dnat6");
  EXPECT_EQ(EncodeElement(*dnat6, "2001:db8:100::1 . tcp . 443 : fd00:77::1c . 8443").key_length,
            24u);
  EXPECT_THROW(EncodeElement(*dnat6, "198.51.100.1 . tcp . 443 : 10.1.1.1 . 1"),
               RuntimeFailure);  // an IPv4 address in an IPv6 set
  EXPECT_THROW(EncodeElement(*nftlayout::FindSet("fwd_dnat"), "2001:db8::1 . tcp . 1 : ::1 . 1"),
               RuntimeFailure);
}

TEST(ElementCodec, DecodesWhatItEncodes) {
  for (const auto& [set, text] : std::vector<std::pair<std::string, std::string>>{
           {"fwd_dnat", "198.51.100.1 . tcp . 443 : 10.1.1.10 . 8443"},
           {"fwd_dnat_any", "udp . 53 : 10.1.1.11 . 5353"},
           {"fwd_count", "203.0.113.1 . udp . 65535"},
           {"fwd_allow", "203.0.113.1 . tcp . 3000 . 198.51.100.64/26"},
           {"fwd_allow_any", "tcp . 2222 . 203.0.113.7"},
           {"fwd_allow_any", "tcp . 2222 . 10.0.0.1-10.0.0.5"}}) {
    const auto* spec = nftlayout::FindSet(set);
    ASSERT_NE(spec, nullptr) << set;
    EncodedElement element = EncodeElement(*spec, text);
    std::string decoded = DecodeElement(
        *spec, element.key, element.key_length, spec->interval ? element.key_end : nullptr,
        spec->interval ? element.key_length : 0, element.data, element.data_length);
    EXPECT_EQ(decoded, text);
  }
  EXPECT_THROW(EncodeElement(*nftlayout::FindSet("fwd_dnat"), "198.51.100.1 . tcp . 443"),
               RuntimeFailure);  // a map element needs its value
  EXPECT_THROW(EncodeElement(*nftlayout::FindSet("fwd_count"), "198.51.100.0/24 . tcp . 1"),
               RuntimeFailure);  // no ranges outside interval sets
}

TEST(HostBatch, RoundTripsAndRefusesOtherFiles) {
  HostBatch batch{"start-bytes", std::string("stop\0bytes", 10), "fwd_dnat\tx\n"};
  auto parsed = ParseHostBatch(SerializeHostBatch(batch));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->start, batch.start);
  EXPECT_EQ(parsed->stop, batch.stop);
  EXPECT_EQ(parsed->elements, batch.elements);
  EXPECT_FALSE(ParseHostBatch("fwd_dnat\t198.51.100.1 . tcp . 22 : 10.1.1.28 . 22\n"));
  EXPECT_FALSE(ParseHostBatch(SerializeHostBatch(batch).substr(0, 30)));
}

TEST(NftBatch, WrapsMessagesWithTheGeneration) {
  std::string batch = WrapNftBatch("", 41);
  int remaining = static_cast<int>(batch.size());
  auto* begin = reinterpret_cast<const nlmsghdr*>(batch.data());
  ASSERT_TRUE(mnl_nlmsg_ok(begin, remaining));
  EXPECT_EQ(begin->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
  auto* end = mnl_nlmsg_next(begin, &remaining);
  ASSERT_TRUE(mnl_nlmsg_ok(end, remaining));
  EXPECT_EQ(end->nlmsg_type, NFNL_MSG_BATCH_END);
  EXPECT_EQ(NextGeneration(41), 42u);
  EXPECT_EQ(NextGeneration(0xffffffffu), 1u);
}

}  // namespace
}  // namespace virtnat
