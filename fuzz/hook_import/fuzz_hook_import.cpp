// Fuzz target: `virtnat import libvirt-hook-qemu`, ImportLibvirtHookQemu and BlankJsonComments
// (src/importers/hook_qemu_import.h).
//
// Input: the text of hooks.json (or the fork's config.json), comments allowed.
//
// With VIRTNAT_FUZZ_STRICT=1 in the environment, the generated TOML must also be accepted by
// ParseConfig (as conf.d/40-imported.toml beside a main file that sets public_address), as
// `import --write` requires before it writes the file.
#include <cstdlib>

#include "config/config_loader.h"
#include "fuzz_common.h"
#include "importers/hook_qemu_import.h"

namespace virtnat::fuzz {
namespace {

bool strict = false;

// The header's promise: the same length, and every newline where it was.
void CheckBlanked(const std::string& text) {
  std::string blanked = BlankJsonComments(text);
  FUZZ_CHECK(blanked.size() == text.size());
  for (std::size_t i = 0; i < text.size(); ++i)
    FUZZ_CHECK((text[i] == '\n') == (blanked[i] == '\n'));
}

void CheckImport(const ImportResult& result) {
  ConsumeMessage(result.toml);
  for (const auto& problem : result.problems) {
    ConsumeMessage(problem);
    FUZZ_CHECK(problem.find('\n') == std::string::npos);  // "one line each"
  }
  if (!strict) return;
  std::vector<ConfigSource> sources{
      {"/etc/virtnat/virtnat.toml", "[settings]\npublic_address = \"198.51.100.1\"\n"},
      {"/etc/virtnat/conf.d/40-imported.toml", result.toml}};
  Diagnostics diagnostics;
  Config config = ParseConfig(sources, diagnostics);
  if (diagnostics.HasErrors()) {
    std::fprintf(stderr, "the imported TOML is refused:\n%s\n--- TOML:\n%s\n",
                 FormatErrors(diagnostics).c_str(), result.toml.c_str());
    FUZZ_CHECK(!"the imported TOML passes ParseConfig");
  }
  FUZZ_CHECK(config.forwards.size() == result.forwards);
}

}  // namespace
}  // namespace virtnat::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* value = std::getenv("VIRTNAT_FUZZ_STRICT");
  virtnat::fuzz::strict = value && std::string(value) == "1";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtnat;
  using namespace virtnat::fuzz;
  std::string text = AsString(data, size);
  CheckBlanked(text);
  ImportResult result;
  if (RunExpectingRefusal([&] { result = ImportLibvirtHookQemu(text, "hooks.json"); }))
    CheckImport(result);
  return 0;
}
