#include "cli/forward_fast.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <iostream>

#include "base/files.h"
#include "config/config_loader.h"
#include "config/config_snapshot.h"
#include "config/validate.h"
#include "engine/engine.h"
#include "engine/forward_change.h"
#include "state/state_dir.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCliFileHeader =
    "# Written by `virtnat forward add/remove`; hand-written files are never rewritten.\n";

// "tcp 198.51.100.1:2222 -> lxdev01:22", as forward add/remove report it (commands.cpp).
std::string Describe(const Forward& forward) {
  return fmt::format("{} {}:{} -> {}:{}", ProtocolsToString(forward.protocols),
                     forward.listen ? forward.listen->ToString() : "*", ToString(forward.port),
                     forward.host.empty() ? forward.target.ToString() : forward.host,
                     ToString(forward.to_port));
}

// The config, its snapshot and the CLI file, as they are now.
struct Current {
  std::vector<ConfigSource> sources;
  ConfigSnapshotView snapshot;  // its config has no forwards; they stay encoded
  fs::path cli_path;
  std::string cli_text;          // "" with the header when the file does not exist yet
  std::size_t cli_position = 0;  // its index among the sources (existing or to be)
  bool cli_exists = false;
  std::vector<std::string> files;  // the config's files once the CLI file exists
};

std::optional<Current> ReadCurrent(const GlobalOptions& options) {
  Current current;
  current.sources = ReadConfigSources(options.config_path);  // the ownership check too
  auto snapshot =
      ReadConfigSnapshotView(fs::path(options.state_dir) / "config.snapshot", current.sources);
  if (!snapshot) return std::nullopt;
  current.snapshot = std::move(*snapshot);
  current.cli_path = CliConfigPath(options.config_path);
  std::string cli = current.cli_path.string();
  current.cli_position = current.sources.size();
  for (std::size_t i = 0; i < current.sources.size(); ++i) {
    if (current.sources[i].path == cli) {
      current.cli_exists = true;
      current.cli_position = i;
      current.cli_text = current.sources[i].text;
      break;
    }
    // conf.d files come in name order after the main file: the CLI file's place.
    if (i > 0 && current.sources[i].path > cli) {
      current.cli_position = i;
      break;
    }
  }
  if (!current.cli_exists) current.cli_text = kCliFileHeader;
  for (const auto& source : current.sources) current.files.push_back(source.path);
  if (!current.cli_exists)
    current.files.insert(current.files.begin() + static_cast<std::ptrdiff_t>(current.cli_position),
                         cli);
  return current;
}

// The forwards of the CLI file with `text`, validated together with the networks and the
// forwards of other files that `overlapping` selects: the only ones a change of the CLI file
// can conflict with (the rest was valid together before). nullopt when this cannot be
// decided from the CLI file alone, or on any error: the ordinary path then parses everything
// and words the errors.
std::optional<Config> ValidateCliFile(const Current& current, const std::string& text,
                                      const Forward* overlapping, Diagnostics& diagnostics,
                                      bool errors_allowed = false) {
  std::string cli = current.cli_path.string();
  auto parsed = ParseForwardOnlyFile({cli, text}, current.snapshot.config.settings, diagnostics);
  if (!parsed || (diagnostics.HasErrors() && !errors_allowed)) return std::nullopt;
  Config reduced;
  reduced.settings = current.snapshot.config.settings;
  reduced.networks = current.snapshot.config.networks;
  reduced.files = current.files;
  auto position = [&](const std::string& file) {
    return std::find(current.files.begin(), current.files.end(), file) - current.files.begin();
  };
  auto cli_index = position(cli);
  const auto& view = current.snapshot;
  auto others = [&](bool before) {
    if (!overlapping) return;
    for (std::size_t i = 0; i < view.forwards.size(); ++i) {
      auto at = position(view.config.files[view.forwards[i].file]);
      if (at != cli_index && (at < cli_index) == before && view.MayConflict(i, *overlapping))
        reduced.forwards.push_back(view.Decode(i));
    }
  };
  others(true);
  for (auto& forward : *parsed) reduced.forwards.push_back(std::move(forward));
  others(false);
  ValidateConfig(reduced, diagnostics);
  if (diagnostics.HasErrors() && !errors_allowed) return std::nullopt;
  return reduced;
}

// The whole config with the CLI file's forwards from `reduced` (validated, resolved): every
// forward decoded, for when the whole config must be reconciled after all.
Config WholeConfig(const Current& current, const Config& reduced) {
  std::string cli = current.cli_path.string();
  const auto& view = current.snapshot;
  Config config = view.config;
  config.files = current.files;
  auto position = [&](const std::string& file) {
    return std::find(config.files.begin(), config.files.end(), file) - config.files.begin();
  };
  auto cli_index = position(cli);
  config.forwards.reserve(view.forwards.size() + 1);
  std::size_t next = 0;
  for (; next < view.forwards.size() &&
         position(view.config.files[view.forwards[next].file]) < cli_index;
       ++next)
    config.forwards.push_back(view.Decode(next));
  for (const auto& forward : reduced.forwards)
    if (forward.where.file == cli) config.forwards.push_back(forward);
  for (; next < view.forwards.size(); ++next)
    if (view.config.files[view.forwards[next].file] != cli)
      config.forwards.push_back(view.Decode(next));
  return config;
}

// Writes the CLI file, applies the change and renews the snapshot; restores the file when
// the change fails.
int Commit(const GlobalOptions& options, Current& current, const std::string& text,
           const Config& reduced, const Diagnostics& diagnostics, const std::vector<Forward>& added,
           const std::vector<Forward>& removed, const std::string& done) {
  StateDir state(options.state_dir);
  std::string cli = current.cli_path.string();
  fs::create_directories(current.cli_path.parent_path());
  WriteFileAtomically(current.cli_path, text);
  try {
    Engine engine = Engine::For(current.snapshot.config, state, options.connect);
    auto report = ApplyForwardChange(engine, current.snapshot.config, added, removed);
    // The kernel changed since virtnat's last transaction: all of it, as apply does.
    if (!report) report = engine.Reconcile(WholeConfig(current, reduced));
    for (const auto& warning : report->warnings) std::cerr << "warning: " << warning << "\n";
    for (const auto& line : report->lines) std::cout << line << "\n";
  } catch (...) {
    if (current.cli_exists)
      WriteFileAtomically(current.cli_path, current.cli_text);
    else
      fs::remove(current.cli_path);
    throw;
  }
  // The snapshot of the config as it is now: the other files' warnings kept, the CLI file's
  // from this validation, in the files' order.
  std::vector<ConfigSource> sources = current.sources;
  if (current.cli_exists)
    sources[current.cli_position].text = text;
  else
    sources.insert(sources.begin() + static_cast<std::ptrdiff_t>(current.cli_position),
                   ConfigSource{cli, text});
  std::vector<Diagnostic> warnings;
  auto before_cli = [&](const Diagnostic& warning) {
    auto at = std::find(current.files.begin(), current.files.end(), warning.where.file);
    return at - current.files.begin() <
           std::find(current.files.begin(), current.files.end(), cli) - current.files.begin();
  };
  for (const auto& warning : current.snapshot.warnings)
    if (warning.where.file != cli && before_cli(warning)) warnings.push_back(warning);
  for (const auto& warning : diagnostics.warnings())
    if (warning.where.file == cli) warnings.push_back(warning);
  for (const auto& warning : current.snapshot.warnings)
    if (warning.where.file != cli && !before_cli(warning)) warnings.push_back(warning);
  std::vector<Forward> cli_forwards;
  for (const auto& forward : reduced.forwards)
    if (forward.where.file == cli) cli_forwards.push_back(forward);
  try {
    WriteConfigSnapshotWith(fs::path(options.state_dir) / "config.snapshot", sources,
                            current.snapshot, current.files, cli, cli_forwards, warnings);
  } catch (const std::exception&) {
    // Only a cache: the next command parses the files.
  }
  std::cout << done << "\n";
  return 0;
}

}  // namespace

std::optional<int> TryForwardAddFast(const GlobalOptions& options, const ForwardSpec& spec) {
  // Without a snapshot (and so without the state folder apply made) there is nothing to do
  // here, and nothing is created: bad input must leave every file as it was.
  StateDir state(options.state_dir);
  if (!fs::exists(fs::path(options.state_dir) / "config.snapshot") || !fs::exists(state.LockPath()))
    return std::nullopt;
  FileLock lock(state.LockPath());
  auto current = ReadCurrent(options);
  if (!current) return std::nullopt;
  std::string text = current->cli_text;
  if (!text.empty() && text.back() != '\n') text += "\n";
  text += "\n" + ForwardSpecToToml(spec);
  // The new forward is the CLI file's last; what it may conflict with overlaps its ports.
  Diagnostics parse_only;
  auto parsed = ParseForwardOnlyFile({current->cli_path.string(), text},
                                     current->snapshot.config.settings, parse_only);
  if (!parsed || parsed->empty() || parse_only.HasErrors()) return std::nullopt;
  Forward wanted = parsed->back();
  Diagnostics diagnostics;
  auto reduced = ValidateCliFile(*current, text, &wanted, diagnostics);
  if (!reduced) return std::nullopt;
  const Forward& added = [&]() -> const Forward& {
    const Forward* last = nullptr;
    for (const auto& forward : reduced->forwards)
      if (forward.where.file == current->cli_path.string()) last = &forward;
    return *last;
  }();
  // An identical forward (add changes nothing) and a forward that is not the host firewall's
  // (its provider realises it): the ordinary path.
  for (const auto& forward : reduced->forwards)
    if (&forward != &added && forward.SameRule(added)) return std::nullopt;
  if (!IsHostForward(*reduced, added)) return std::nullopt;
  return Commit(options, *current, text, *reduced, diagnostics, {added}, {},
                fmt::format("added forward {} to {}", Describe(added), current->cli_path.string()));
}

std::optional<int> TryForwardRemoveFast(const GlobalOptions& options, const ForwardSpec& spec) {
  // Without a snapshot (and so without the state folder apply made) there is nothing to do
  // here, and nothing is created: bad input must leave every file as it was.
  StateDir state(options.state_dir);
  if (!fs::exists(fs::path(options.state_dir) / "config.snapshot") || !fs::exists(state.LockPath()))
    return std::nullopt;
  FileLock lock(state.LockPath());
  auto current = ReadCurrent(options);
  if (!current || !current->cli_exists) return std::nullopt;
  std::string cli = current->cli_path.string();
  // The spec resolved as the config would resolve it: appended to the CLI file. It conflicts
  // with the forward it names, by design; any other error goes the ordinary way.
  std::string probe = current->cli_text;
  if (!probe.empty() && probe.back() != '\n') probe += "\n";
  probe += "\n" + ForwardSpecToToml(spec);
  Diagnostics probe_diagnostics;
  auto resolved = ValidateCliFile(*current, probe, nullptr, probe_diagnostics, true);
  if (!resolved) return std::nullopt;
  for (const auto& error : probe_diagnostics.errors())
    if (error.message.find("already forwarded") == std::string::npos) return std::nullopt;
  const Forward* wanted = nullptr;
  for (const auto& forward : resolved->forwards)
    if (forward.where.file == cli) wanted = &forward;
  if (!wanted) return std::nullopt;
  const Forward* found = nullptr;
  for (const auto& forward : resolved->forwards)
    if (&forward != wanted && forward.where.file == cli && forward.target == wanted->target &&
        forward.port == wanted->port && forward.to_port == wanted->to_port &&
        forward.protocols == wanted->protocols && forward.listen == wanted->listen) {
      found = &forward;
      break;
    }
  // Not in the CLI file (another file's, or none): the ordinary path says so.
  if (!found) return std::nullopt;
  // A forward of the CLI file that another file's forward would conflict with... cannot be:
  // the config was valid. Without it, nothing can conflict either.
  std::string text = RemoveTomlTableAt(current->cli_text, found->where.line);
  Diagnostics diagnostics;
  auto reduced = ValidateCliFile(*current, text, nullptr, diagnostics);
  if (!reduced) return std::nullopt;
  if (!IsHostForward(*resolved, *found)) return std::nullopt;
  Forward removed = *found;
  std::string description = Describe(*wanted);
  return Commit(options, *current, text, *reduced, diagnostics, {}, {removed},
                fmt::format("removed forward {} from {}", description, cli));
}

}  // namespace virtnat
