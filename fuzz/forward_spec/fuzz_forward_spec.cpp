// Fuzz target: the command line's forward spec, ParseForwardSpec (src/config/forward_spec.h),
// and the value parsers behind it, ParsePortRange and ParseProtocols (src/config/validate.h).
//
// Input: "TARGET\nPUBLIC_PORT": the first line is the first argument (HOST:PORT[-PORT]), the
// rest the second (PUBLICPORT[-PORT]). ParsePortRange and ParseProtocols get each argument and
// the whole input. A spec that parses is written as TOML (ForwardSpecToToml, as `forward add`
// does for conf.d/50-cli.toml), which must then read back; RemoveTomlTableAt must remove it.
#include <toml++/toml.h>

#include "config/forward_spec.h"
#include "config/validate.h"
#include "fuzz_common.h"

namespace virtnat::fuzz {
namespace {

void CheckPortRange(std::string_view text) {
  auto range = ParsePortRange(text);
  if (!range) return;
  FUZZ_CHECK(range->first >= 1 && range->first <= range->last);  // last <= 65535 by its type
  FUZZ_CHECK(range->Size() >= 1 && range->Size() <= 65535);
  // The canonical text of a range reads back as the same range.
  auto again = ParsePortRange(ToString(*range));
  FUZZ_CHECK(again && *again == *range);
}

void CheckProtocols(std::string_view text) {
  auto protocols = ParseProtocols(text);
  if (!protocols) return;
  FUZZ_CHECK(!protocols->empty() && protocols->size() <= 2);
  if (protocols->size() == 2)
    FUZZ_CHECK((*protocols)[0] == Protocol::kTcp && (*protocols)[1] == Protocol::kUdp);
  auto again = ParseProtocols(ProtocolsToString(*protocols));
  FUZZ_CHECK(again && *again == *protocols);
}

void CheckSpec(const ForwardSpec& spec) {
  FUZZ_CHECK(spec.host.empty() != spec.address.empty());
  auto guest = ParsePortRange(spec.to_port);
  auto published = ParsePortRange(spec.port);
  FUZZ_CHECK(guest && published && guest->Size() == published->Size());

  std::string text = ForwardSpecToToml(spec);
  toml::table table;
  try {
    table = toml::parse(std::string_view(text), std::string_view("50-cli.toml"));
  } catch (const toml::parse_error& error) {
    std::fprintf(stderr, "ForwardSpecToToml wrote TOML that does not parse: %s\n%s\n",
                 std::string(error.description()).c_str(), text.c_str());
    FUZZ_CHECK(!"ForwardSpecToToml writes valid TOML");
  }
  const toml::table* forward = table["forward"][0].as_table();
  FUZZ_CHECK(forward != nullptr);
  const std::string& target = spec.host.empty() ? spec.address : spec.host;
  FUZZ_CHECK((*forward)[spec.host.empty() ? "address" : "host"].value<std::string>() == target);
  FUZZ_CHECK((*forward)["port"].value<std::string>() == spec.port);
  FUZZ_CHECK((*forward)["to_port"].value<std::string>() == spec.to_port);

  // Removing the only table leaves no forward behind.
  std::string removed = RemoveTomlTableAt(text, 1);
  FUZZ_CHECK(removed.find("[[forward]]") == std::string::npos);
}

}  // namespace
}  // namespace virtnat::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtnat;
  using namespace virtnat::fuzz;
  std::string input = AsString(data, size);
  auto newline = input.find('\n');
  std::string target = input.substr(0, newline);
  std::string public_port = newline == std::string::npos ? "" : input.substr(newline + 1);

  for (const std::string* text : {&target, &public_port, &input}) {
    CheckPortRange(*text);
    CheckProtocols(*text);
  }
  ForwardSpec spec;
  if (RunExpectingRefusal([&] { spec = ParseForwardSpec(target, public_port); })) CheckSpec(spec);

  // RemoveTomlTableAt edits conf.d/50-cli.toml by line; any line number must be safe.
  int line = size > 0 ? static_cast<int>(data[0] % 16) - 2 : 0;
  std::string removed = RemoveTomlTableAt(input, line);
  FUZZ_CHECK(removed.size() <= input.size());
  return 0;
}
