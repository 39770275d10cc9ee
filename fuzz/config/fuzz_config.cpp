// Fuzz target: the config loader and validator, ParseConfig (src/config/config_loader.h).
//
// Input: the text of virtnat.toml. Each line that is exactly "---" starts the next source,
// read as conf.d/N0-fuzz.toml (up to 4 of them), as ReadConfigSources would list them.
// A config that passes validation also goes through the pure steps `apply` takes next: the
// desired state, the nftables ruleset, the libvirt network XML and the hook's index.
//
// With VIRTNAT_FUZZ_STRICT=1 in the environment, the promises about messages are checked too:
// every error is one line "FILE:LINE: FIELD: message" with FILE one of the sources.
#include <fmt/format.h>

#include <cstdlib>
#include <set>

#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "backends/nftables/nft_ruleset.h"
#include "backends/nftables/nftables_backend.h"
#include "fuzz_common.h"
#include "engine/hook_index.h"
#include "providers/libvirt/network_xml.h"
#include "plan/desired_state.h"

namespace virtnat::fuzz {
namespace {

bool strict = false;

void CheckMessages(const std::vector<ConfigSource>& sources, const Diagnostics& diagnostics) {
  std::set<std::string> files;
  for (const auto& source : sources) files.insert(source.path);
  for (const auto& list : {diagnostics.errors(), diagnostics.warnings()})
    for (const auto& diagnostic : list) {
      std::string line = diagnostic.ToString();
      ConsumeMessage(line);
      if (!strict) continue;
      bool ok = files.contains(diagnostic.where.file) && diagnostic.where.line > 0 &&
                !diagnostic.where.field.empty() && !diagnostic.message.empty() &&
                line.find('\n') == std::string::npos;
      if (!ok) {
        std::fprintf(stderr, "message: [%s] (file '%s', line %d, field '%s')\n", line.c_str(),
                     diagnostic.where.file.c_str(), diagnostic.where.line,
                     diagnostic.where.field.c_str());
        FUZZ_CHECK(!"each message is one line FILE:LINE: FIELD: message");
      }
    }
  ConsumeMessage(FormatErrors(diagnostics));
}

// What apply, plan, status and the hook compute from a valid config; none touches the system.
// Called outside RunExpectingRefusal: it must not throw at all.
void RenderValidConfig(const Config& config) {
  RunningHosts none, all;
  for (const auto& network : config.networks)
    for (const auto& host : network.hosts) all.insert(host.name);
  for (const RunningHosts* running : {&none, &all}) {
    DesiredState state = BuildDesiredState(config, *running);
    NftRuleset ruleset = RenderRuleset(state);
    ConsumeMessage(RenderReplace(ruleset));
    ConsumeMessage(RenderTable(ruleset));
    for (const auto& [set, elements] : ruleset.elements)
      for (const auto& element : elements) ConsumeMessage(ElementKey(element));
    ConsumeMessage(RenderElementChanges(ruleset.table, ruleset.elements, ruleset.elements));
  }
  for (const auto& network : config.networks) {
    ConsumeMessage(LibvirtForwardMode(network));
    std::string xml = RenderNetworkXml(network);
    LibvirtNetworkFacts facts = ParseNetworkFacts(xml);  // our own XML must read back
    FUZZ_CHECK(facts.name == network.name);
  }
  HookIndex index = BuildHookIndex(config);
  std::string serialized = SerializeHookIndex(index);
  HookIndex back = ParseHookIndex(serialized);
  FUZZ_CHECK(back.ruleset_name == index.ruleset_name && back.host_macs == index.host_macs);
  for (const auto& [host, elements] : BuildHostElements(BuildDesiredState(config, {}))) {
    HostElements read = ParseHostElements(SerializeHostElements(elements));
    FUZZ_CHECK(read.elements == elements.elements);
  }
  for (const auto& forward : config.forwards) ConsumeMessage(ForwardHost(config, forward));
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
  std::vector<ConfigSource> sources;
  auto parts = SplitAtMarkerLines(AsString(data, size), "---", 5);
  for (std::size_t i = 0; i < parts.size(); ++i)
    sources.push_back({i == 0 ? std::string("/etc/virtnat/virtnat.toml")
                              : fmt::format("/etc/virtnat/conf.d/{}0-fuzz.toml", i),
                       std::move(parts[i])});
  Diagnostics diagnostics;
  Config config;
  if (!RunExpectingRefusal([&] { config = ParseConfig(sources, diagnostics); })) return 0;
  CheckMessages(sources, diagnostics);
  if (diagnostics.HasErrors()) return 0;
  FUZZ_CHECK(config.files.size() == sources.size());
  // The config was accepted: from here on every exception, BadInput and RuntimeFailure too,
  // is a finding. None is caught, so std::terminate reports it at the throw.
  RenderValidConfig(config);
  return 0;
}
