#include "config/forward_spec.h"

#include <gtest/gtest.h>

#include "base/errors.h"

namespace virtnat {
namespace {

TEST(ForwardSpec, ParsesVirshInstancePortForwardOrder) {
  ForwardSpec spec = ParseForwardSpec("lxdev01:22", "2222");
  EXPECT_EQ(spec.host, "lxdev01");
  EXPECT_EQ(spec.to_port, "22");
  EXPECT_EQ(spec.port, "2222");
}

TEST(ForwardSpec, AcceptsAddressesAndRanges) {
  ForwardSpec spec = ParseForwardSpec("10.1.1.28:9000-9002", "8000-8002");
  EXPECT_EQ(spec.address, "10.1.1.28");
  EXPECT_TRUE(spec.host.empty());
}

TEST(ForwardSpec, RejectsMalformed) {
  for (auto [target, port] :
       std::vector<std::pair<std::string, std::string>>{{"lxdev01", "2222"},
                                                        {":22", "2222"},
                                                        {"lxdev01:0", "2222"},
                                                        {"lxdev01:22", "65536"},
                                                        {"lxdev01:22-23", "2222"},
                                                        {"bad host:22", "2222"},
                                                        {"lxdev01:abc", "2222"}})
    EXPECT_THROW(ParseForwardSpec(target, port), BadInput) << target << " " << port;
}

TEST(ForwardSpec, TomlRoundTripsEscapes) {
  ForwardSpec spec = ParseForwardSpec("lxdev01:22", "2222");
  spec.description = "say \"hi\"\n";
  spec.sources = {"198.51.100.0/24"};
  std::string toml = ForwardSpecToToml(spec);
  EXPECT_NE(toml.find("description = \"say \\\"hi\\\"\\n\""), std::string::npos) << toml;
  EXPECT_NE(toml.find("source = [\"198.51.100.0/24\"]"), std::string::npos) << toml;
}

TEST(ForwardSpec, RemovesOneTableOnly) {
  std::string text =
      "# header\n\n[[forward]]\nhost = \"a\"\nport = \"1\"\n\n[[forward]]\nhost = \"b\"\n"
      "port = \"2\"\n";
  std::string result = RemoveTomlTableAt(text, 3);
  EXPECT_EQ(result, "# header\n\n[[forward]]\nhost = \"b\"\nport = \"2\"\n");
}

}  // namespace
}  // namespace virtnat
