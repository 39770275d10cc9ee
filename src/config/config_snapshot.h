// A compiled, validated snapshot of the config, kept in the state folder
// (STATE/config.snapshot), so that commands that change one forward, and status and check, do
// not parse and validate thousands of unchanged forwards again.
//
// The snapshot names every file it was made from (main file and conf.d/*.toml, in order) with
// the file's identity (device, inode, size, modification and change times) and a hash of its
// content, and the build of virtnat that wrote it. It stands for the config only while every
// one of those is the same: the files are read anyway (the ownership check reads them) and
// hashed, so an edit behind virtnat's back, even one that keeps size and times, is never
// answered from a stale snapshot. Only configs without errors are kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "model/model.h"

namespace virtnat {

struct ConfigSnapshot {
  Config config;
  std::vector<Diagnostic> warnings;
};

// The snapshot as read, its forwards still encoded: what a change of one file needs without
// decoding thousands of forwards (cli/forward_fast.cpp).
struct ConfigSnapshotView {
  Config config;  // settings, networks and files; no forwards (see `forwards`)
  std::vector<Diagnostic> warnings;
  struct Record {
    std::string_view bytes;  // into `storage`
    std::uint16_t file = 0;  // index into config.files
    PortRange port;
    std::uint8_t protocols = 0;  // 1 tcp, 2 udp
  };
  std::vector<Record> forwards;                   // in the config's order
  std::map<std::string, std::string> identities;  // each file's identity, as recorded
  std::string storage;                            // the bytes, when parsed from a string
  std::shared_ptr<void> mapping;                  // the bytes, when mapped from the file
  std::size_t bytes_size = 0;

  Forward Decode(std::size_t index) const;
  // Whether forward `index` shares a protocol and a public port with `forward`: only such
  // forwards can conflict with it.
  bool MayConflict(std::size_t index, const Forward& forward) const;
  ConfigSnapshot DecodeAll() &&;
};

std::optional<ConfigSnapshotView> ReadConfigSnapshotView(const std::filesystem::path& path,
                                                         const std::vector<ConfigSource>& sources);
// The snapshot of `sources` (`files` in the config's order) after a change of one file: the
// records of the other files' forwards copied from `view`, `changed_file`'s forwards written
// anew. "" when a file cannot be identified.
std::string SerializeConfigSnapshotWith(const std::vector<ConfigSource>& sources,
                                        const ConfigSnapshotView& view,
                                        const std::vector<std::string>& files,
                                        const std::string& changed_file,
                                        const std::vector<Forward>& changed_forwards,
                                        const std::vector<Diagnostic>& warnings);

// Writes that snapshot without joining it in memory (the unchanged records straight from
// `view`'s mapping). False when a file cannot be identified (nothing written).
bool WriteConfigSnapshotWith(const std::filesystem::path& path,
                             const std::vector<ConfigSource>& sources,
                             const ConfigSnapshotView& view, const std::vector<std::string>& files,
                             const std::string& changed_file,
                             const std::vector<Forward>& changed_forwards,
                             const std::vector<Diagnostic>& warnings);

// The snapshot at `path` when it was made from exactly `sources` (as ReadConfigSources read
// them); nullopt otherwise (missing, another build's, unreadable, or any file differs).
std::optional<ConfigSnapshot> ReadConfigSnapshot(const std::filesystem::path& path,
                                                 const std::vector<ConfigSource>& sources);
// Writes the snapshot of a config parsed from `sources` without errors, atomically.
void WriteConfigSnapshot(const std::filesystem::path& path,
                         const std::vector<ConfigSource>& sources, const Config& config,
                         const std::vector<Diagnostic>& warnings);

// LoadConfig (config_loader.h) through the snapshot in `state_dir`: the snapshot's config when
// it stands for the files, else parsed and validated, and the snapshot renewed when the state
// folder exists (or, `make_state_dir`, can be made: apply's) and can be written. The warnings
// land in `diagnostics` as a parse leaves them.
Config LoadConfigWithSnapshot(const std::filesystem::path& main_file,
                              const std::filesystem::path& state_dir, Diagnostics& diagnostics,
                              bool make_state_dir = false);

// What `check` prints: the counts and every warning, without decoding the snapshot's forwards.
struct ConfigSummary {
  std::size_t networks = 0, hosts = 0, forwards = 0, files = 0;
  std::vector<Diagnostic> warnings;
};
ConfigSummary SummarizeConfigWithSnapshot(const std::filesystem::path& main_file,
                                          const std::filesystem::path& state_dir);

// Pure parts, for tests: the bytes of a snapshot and back (nullopt: not a snapshot of this
// build, or damaged).
std::string SerializeConfigSnapshot(const std::vector<ConfigSource>& sources, const Config& config,
                                    const std::vector<Diagnostic>& warnings);
std::optional<ConfigSnapshot> ParseConfigSnapshot(std::string_view bytes,
                                                  const std::vector<ConfigSource>& sources);

}  // namespace virtnat
