#include "config/config_snapshot.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>

#include "base/errors.h"
#include "base/files.h"
#include "version.h"

namespace virtnat {
namespace {

namespace fs = std::filesystem;

// Every field of the model is written below. A new field changes these sizes: write it (and
// read it) in Put/Get, then update the size here.
static_assert(sizeof(SourceLocation) == 120, "config_snapshot.cpp: serialize the new field");
static_assert(sizeof(Host) == 184, "config_snapshot.cpp: serialize the new field");
static_assert(sizeof(Network) == 504, "config_snapshot.cpp: serialize the new field");
static_assert(sizeof(Forward) == 360, "config_snapshot.cpp: serialize the new field");
static_assert(sizeof(FleetSettings) == 160, "config_snapshot.cpp: serialize the new field");
static_assert(sizeof(Settings) == 264, "config_snapshot.cpp: serialize the new field");
static_assert(sizeof(Config) == 336, "config_snapshot.cpp: serialize the new field");
static_assert(sizeof(Diagnostic) == 152, "config_snapshot.cpp: serialize the new field");

constexpr std::string_view kMagic = "virtnat config snapshot 1\n";

// The build that wrote a snapshot: another build may read the model differently.
std::string BuildId() {
  return std::string(VIRTNAT_VERSION) + " " + VIRTNAT_GIT_COMMIT + " " +
         std::to_string(sizeof(Forward)) + "." + std::to_string(sizeof(Network)) + "." +
         std::to_string(sizeof(Settings));
}

struct FileIdentity {
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t modified_ns = 0, changed_ns = 0;
  std::uint64_t hash = 0;
  bool operator==(const FileIdentity&) const = default;
};

std::optional<FileIdentity> IdentityOf(const ConfigSource& source) {
  struct stat info {};
  if (stat(source.path.c_str(), &info) != 0) return std::nullopt;
  FileIdentity identity;
  identity.device = info.st_dev;
  identity.inode = info.st_ino;
  identity.size = static_cast<std::uint64_t>(info.st_size);
  identity.modified_ns = info.st_mtim.tv_sec * 1000000000ll + info.st_mtim.tv_nsec;
  identity.changed_ns = info.st_ctim.tv_sec * 1000000000ll + info.st_ctim.tv_nsec;
  // The content read, not only the file's times: an edit within the same clock tick, or one
  // that restores the times, still changes the hash (and usually the size).
  identity.hash = std::hash<std::string_view>{}(source.text) ^ (source.text.size() << 1);
  return identity;
}

class Writer {
 public:
  std::string out;
  void U8(std::uint8_t value) { out.push_back(static_cast<char>(value)); }
  void U32(std::uint32_t value) { out.append(reinterpret_cast<const char*>(&value), 4); }
  void U64(std::uint64_t value) { out.append(reinterpret_cast<const char*>(&value), 8); }
  void Bool(bool value) { U8(value ? 1 : 0); }
  void Int(int value) { U32(static_cast<std::uint32_t>(value)); }
  void String(std::string_view text) {
    U32(static_cast<std::uint32_t>(text.size()));
    out.append(text);
  }
  void Address(const Ipv4Address& address) { U32(address.value); }
  void Prefix(const Ipv4Prefix& prefix) {
    Address(prefix.network);
    Int(prefix.length);
  }
  void Interface(const Ipv4Interface& interface) {
    Address(interface.address);
    Int(interface.length);
  }
  void Address6(const Ipv6Address& address) {
    out.append(reinterpret_cast<const char*>(address.bytes.data()), address.bytes.size());
  }
  void Prefix6(const Ipv6Prefix& prefix) {
    Address6(prefix.network);
    Int(prefix.length);
  }
  template <typename Value, typename Put>
  void Optional(const std::optional<Value>& value, Put put) {
    Bool(value.has_value());
    if (value) put(*value);
  }
  void Where(const SourceLocation& where) {
    String(where.file);
    Int(where.line);
    String(where.field);
    U32(static_cast<std::uint32_t>(where.key_lines.size()));
    for (const auto& [key, line] : where.key_lines) {
      String(key);
      Int(line);
    }
  }
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  std::uint8_t U8() {
    if (!Need(1)) return 0;
    auto value = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return value;
  }
  std::uint32_t U32() {
    std::uint32_t value = 0;
    if (!Need(4)) return 0;
    std::memcpy(&value, in_.data(), 4);
    in_.remove_prefix(4);
    return value;
  }
  std::uint64_t U64() {
    std::uint64_t value = 0;
    if (!Need(8)) return 0;
    std::memcpy(&value, in_.data(), 8);
    in_.remove_prefix(8);
    return value;
  }
  bool Bool() { return U8() != 0; }
  int Int() { return static_cast<int>(U32()); }
  std::string_view Take(std::size_t length) {
    if (!Need(length)) return {};
    std::string_view part = in_.substr(0, length);
    in_.remove_prefix(length);
    return part;
  }
  std::string String() {
    std::uint32_t length = U32();
    if (!Need(length)) return {};
    std::string text(in_.substr(0, length));
    in_.remove_prefix(length);
    return text;
  }
  // A count of items that each take at least `item_bytes`: bounded by what is left.
  std::uint32_t Count(std::size_t item_bytes = 1) {
    std::uint32_t count = U32();
    if (ok_ && count > in_.size() / item_bytes) ok_ = false;
    return ok_ ? count : 0;
  }
  Ipv4Address Address() { return Ipv4Address{U32()}; }
  Ipv4Prefix Prefix() {
    Ipv4Prefix prefix;
    prefix.network = Address();
    prefix.length = Int();
    return prefix;
  }
  Ipv4Interface Interface() {
    Ipv4Interface interface;
    interface.address = Address();
    interface.length = Int();
    return interface;
  }
  Ipv6Address Address6() {
    Ipv6Address address;
    for (auto& byte : address.bytes) byte = U8();
    return address;
  }
  Ipv6Prefix Prefix6() {
    Ipv6Prefix prefix;
    prefix.network = Address6();
    prefix.length = Int();
    return prefix;
  }
  SourceLocation Where() {
    SourceLocation where;
    where.file = String();
    where.line = Int();
    where.field = String();
    for (std::uint32_t i = 0, n = Count(8); i < n; ++i) {
      std::string key = String();
      where.key_lines.emplace(std::move(key), Int());
    }
    return where;
  }

 private:
  bool Need(std::size_t bytes) {
    if (in_.size() < bytes) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

void PutSettings(Writer& out, const Settings& settings) {
  out.String(settings.ruleset_name);
  out.Bool(settings.public_address.has_value());
  if (settings.public_address) out.Address(*settings.public_address);
  out.Bool(settings.has_public_address);
  out.Optional(settings.public_address6, [&](const auto& a) { out.Address6(a); });
  out.Bool(settings.has_public_address6);
  out.U8(static_cast<std::uint8_t>(settings.vm_lifecycle));
  out.String(settings.libvirt_uri);
  out.Bool(settings.strict_hook);
  const auto& fleet = settings.fleet;
  for (const auto* text : {&fleet.northbound, &fleet.southbound, &fleet.ssl_private_key,
                           &fleet.ssl_certificate, &fleet.ssl_ca_cert})
    out.String(*text);
}

Settings GetSettings(Reader& in) {
  Settings settings;
  settings.ruleset_name = in.String();
  if (in.Bool()) settings.public_address = in.Address();
  settings.has_public_address = in.Bool();
  if (in.Bool()) settings.public_address6 = in.Address6();
  settings.has_public_address6 = in.Bool();
  settings.vm_lifecycle = static_cast<VmLifecycle>(in.U8());
  settings.libvirt_uri = in.String();
  settings.strict_hook = in.Bool();
  auto& fleet = settings.fleet;
  for (auto* text : {&fleet.northbound, &fleet.southbound, &fleet.ssl_private_key,
                     &fleet.ssl_certificate, &fleet.ssl_ca_cert})
    *text = in.String();
  return settings;
}

void PutNetwork(Writer& out, const Network& network) {
  out.String(network.name);
  out.U8(static_cast<std::uint8_t>(network.mode));
  out.U8(static_cast<std::uint8_t>(network.provider));
  out.String(network.bridge);
  out.Interface(network.address);
  out.Bool(network.has_address);
  out.String(network.uplink);
  out.Bool(network.uplink_address.has_value());
  if (network.uplink_address) out.Interface(*network.uplink_address);
  out.Bool(network.uplink_gateway.has_value());
  if (network.uplink_gateway) out.Address(*network.uplink_gateway);
  out.Optional(network.uplink_address6, [&](const Ipv6Interface& interface) {
    out.Address6(interface.address);
    out.Int(interface.length);
  });
  out.Optional(network.uplink_gateway6, [&](const Ipv6Address& a) { out.Address6(a); });
  out.U32(static_cast<std::uint32_t>(network.gateway_chassis.size()));
  for (const auto& chassis : network.gateway_chassis) out.String(chassis);
  out.Bool(network.dhcp_range.has_value());
  if (network.dhcp_range) {
    out.Address(network.dhcp_range->first);
    out.Address(network.dhcp_range->last);
  }
  out.Optional(network.address6, [&](const Ipv6Interface& interface) {
    out.Address6(interface.address);
    out.Int(interface.length);
  });
  out.Optional(network.dhcp_range6, [&](const Ipv6Range& range) {
    out.Address6(range.first);
    out.Address6(range.last);
  });
  out.Bool(network.nat6);
  out.String(network.domain);
  out.Bool(network.mac_prefix.has_value());
  if (network.mac_prefix) out.String(*network.mac_prefix);
  out.U32(static_cast<std::uint32_t>(network.hosts.size()));
  for (const auto& host : network.hosts) {
    out.String(host.name);
    out.Address(host.address);
    out.Optional(host.address6, [&](const auto& a) { out.Address6(a); });
    out.Bool(host.address6_derived);
    out.out.append(reinterpret_cast<const char*>(host.mac.bytes.data()), host.mac.bytes.size());
    out.Bool(host.mac_derived);
    out.Where(host.where);
  }
  out.Bool(network.define);
  out.Bool(network.provider_nat);
  out.Where(network.where);
}

Network GetNetwork(Reader& in) {
  Network network;
  network.name = in.String();
  network.mode = static_cast<NetworkMode>(in.U8());
  network.provider = static_cast<NetworkProvider>(in.U8());
  network.bridge = in.String();
  network.address = in.Interface();
  network.has_address = in.Bool();
  network.uplink = in.String();
  if (in.Bool()) network.uplink_address = in.Interface();
  if (in.Bool()) network.uplink_gateway = in.Address();
  if (in.Bool()) {
    Ipv6Interface interface;
    interface.address = in.Address6();
    interface.length = in.Int();
    network.uplink_address6 = interface;
  }
  if (in.Bool()) network.uplink_gateway6 = in.Address6();
  for (std::uint32_t i = 0, n = in.Count(4); i < n; ++i)
    network.gateway_chassis.push_back(in.String());
  if (in.Bool()) {
    Ipv4Range range;
    range.first = in.Address();
    range.last = in.Address();
    network.dhcp_range = range;
  }
  if (in.Bool()) {
    Ipv6Interface interface;
    interface.address = in.Address6();
    interface.length = in.Int();
    network.address6 = interface;
  }
  if (in.Bool()) {
    Ipv6Range range;
    range.first = in.Address6();
    range.last = in.Address6();
    network.dhcp_range6 = range;
  }
  network.nat6 = in.Bool();
  network.domain = in.String();
  if (in.Bool()) network.mac_prefix = in.String();
  for (std::uint32_t i = 0, n = in.Count(16); i < n; ++i) {
    Host host;
    host.name = in.String();
    host.address = in.Address();
    if (in.Bool()) host.address6 = in.Address6();
    host.address6_derived = in.Bool();
    for (auto& byte : host.mac.bytes) byte = in.U8();
    host.mac_derived = in.Bool();
    host.where = in.Where();
    network.hosts.push_back(std::move(host));
  }
  network.define = in.Bool();
  network.provider_nat = in.Bool();
  network.where = in.Where();
  return network;
}

std::uint8_t ProtocolMask(const std::vector<Protocol>& protocols) {
  std::uint8_t mask = 0;
  for (auto protocol : protocols) mask |= protocol == Protocol::kTcp ? 1 : 2;
  return mask;
}

// One forward: first what tells whether it may conflict with another (its file's index in
// Config::files, its ports and protocols) at fixed offsets, then the rest. Its file is the
// index: the records of unchanged files are copied as they are when one file changes.
void PutForwardRecord(Writer& out, const Forward& forward, std::uint16_t file) {
  std::size_t start = out.out.size();
  out.U32(0);  // the record's length, set below
  out.out.append(reinterpret_cast<const char*>(&file), 2);
  out.out.append(reinterpret_cast<const char*>(&forward.port.first), 2);
  out.out.append(reinterpret_cast<const char*>(&forward.port.last), 2);
  out.U8(ProtocolMask(forward.protocols));
  out.String(forward.host);
  out.Address(forward.target);
  out.String(forward.network);
  out.U32(static_cast<std::uint32_t>(forward.protocols.size()));
  for (auto protocol : forward.protocols) out.U8(static_cast<std::uint8_t>(protocol));
  out.U32(forward.to_port.first | (std::uint32_t{forward.to_port.last} << 16));
  out.Bool(forward.listen.has_value());
  if (forward.listen) out.Address(*forward.listen);
  out.Bool(forward.listen_defaulted);
  out.U32(static_cast<std::uint32_t>(forward.sources.size()));
  for (const auto& source : forward.sources) out.Prefix(source);
  out.Optional(forward.target6, [&](const auto& a) { out.Address6(a); });
  out.Bool(forward.open4);
  out.Bool(forward.open6);
  out.Optional(forward.listen6, [&](const auto& a) { out.Address6(a); });
  out.U32(static_cast<std::uint32_t>(forward.sources6.size()));
  for (const auto& source : forward.sources6) out.Prefix6(source);
  out.String(forward.description);
  out.Int(forward.where.line);
  out.String(forward.where.field);
  out.U32(static_cast<std::uint32_t>(forward.where.key_lines.size()));
  for (const auto& [key, line] : forward.where.key_lines) {
    out.String(key);
    out.Int(line);
  }
  auto length = static_cast<std::uint32_t>(out.out.size() - start - 4);
  std::memcpy(out.out.data() + start, &length, 4);
}

Forward DecodeForwardRecord(std::string_view record, const std::vector<std::string>& files,
                            bool& ok) {
  Reader in(record);
  Forward forward;
  std::uint32_t file = in.U8();
  file |= std::uint32_t{in.U8()} << 8;
  std::uint32_t first = in.U8(), last = 0;
  first |= std::uint32_t{in.U8()} << 8;
  last = in.U8();
  last |= std::uint32_t{in.U8()} << 8;
  forward.port = {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
  in.U8();  // the protocol mask
  forward.host = in.String();
  forward.target = in.Address();
  forward.network = in.String();
  for (std::uint32_t i = 0, n = in.Count(1); i < n; ++i)
    forward.protocols.push_back(static_cast<Protocol>(in.U8()));
  std::uint32_t to_port = in.U32();
  forward.to_port = {static_cast<std::uint16_t>(to_port & 0xffff),
                     static_cast<std::uint16_t>(to_port >> 16)};
  if (in.Bool()) forward.listen = in.Address();
  forward.listen_defaulted = in.Bool();
  for (std::uint32_t i = 0, n = in.Count(8); i < n; ++i) forward.sources.push_back(in.Prefix());
  if (in.Bool()) forward.target6 = in.Address6();
  forward.open4 = in.Bool();
  forward.open6 = in.Bool();
  if (in.Bool()) forward.listen6 = in.Address6();
  for (std::uint32_t i = 0, n = in.Count(20); i < n; ++i) forward.sources6.push_back(in.Prefix6());
  forward.description = in.String();
  if (file < files.size())
    forward.where.file = files[file];
  else
    ok = false;
  forward.where.line = in.Int();
  forward.where.field = in.String();
  for (std::uint32_t i = 0, n = in.Count(8); i < n; ++i) {
    std::string key = in.String();
    forward.where.key_lines.emplace(std::move(key), in.Int());
  }
  if (!in.ok() || !in.done()) ok = false;
  return forward;
}

// `known`: identities computed already (the files a change left as they were).
void PutIdentities(Writer& out, const std::vector<ConfigSource>& sources, bool& complete,
                   const std::map<std::string, std::string>* known = nullptr) {
  out.U32(static_cast<std::uint32_t>(sources.size()));
  for (const auto& source : sources) {
    if (known)
      if (auto found = known->find(source.path); found != known->end()) {
        out.String(source.path);
        out.out.append(found->second);
        continue;
      }
    auto identity = IdentityOf(source);
    if (!identity) complete = false;
    FileIdentity value = identity.value_or(FileIdentity{});
    out.String(source.path);
    for (std::uint64_t field :
         {value.device, value.inode, value.size, static_cast<std::uint64_t>(value.modified_ns),
          static_cast<std::uint64_t>(value.changed_ns), value.hash})
      out.U64(field);
  }
}

// Everything but the forwards, then the forwards' records, from `forward_records` (each
// already a record, length included).
std::string Serialize(const std::vector<ConfigSource>& sources, const Config& config,
                      const std::vector<Diagnostic>& warnings,
                      const std::function<void(Writer&)>& forward_records,
                      const std::map<std::string, std::string>* known_identities = nullptr,
                      std::size_t reserve = 0) {
  Writer out;
  out.out.reserve(reserve + 64 * 1024 + config.forwards.size() * 160);
  out.out.append(kMagic);
  out.String(BuildId());
  bool complete = true;
  PutIdentities(out, sources, complete, known_identities);
  if (!complete) return {};
  PutSettings(out, config.settings);
  out.U32(static_cast<std::uint32_t>(config.networks.size()));
  for (const auto& network : config.networks) PutNetwork(out, network);
  out.U32(static_cast<std::uint32_t>(config.files.size()));
  for (const auto& file : config.files) out.String(file);
  out.U32(static_cast<std::uint32_t>(warnings.size()));
  for (const auto& warning : warnings) {
    out.Where(warning.where);
    out.String(warning.message);
  }
  forward_records(out);
  return std::move(out.out);
}

std::uint16_t FileIndex(const std::vector<std::string>& files, const std::string& file) {
  return static_cast<std::uint16_t>(std::find(files.begin(), files.end(), file) - files.begin());
}

}  // namespace

Forward ConfigSnapshotView::Decode(std::size_t index) const {
  bool ok = true;
  Forward forward = DecodeForwardRecord(forwards[index].bytes, config.files, ok);
  if (!ok) throw RuntimeFailure("damaged config snapshot");
  return forward;
}

bool ConfigSnapshotView::MayConflict(std::size_t index, const Forward& forward) const {
  const Record& record = forwards[index];
  return (record.protocols & ProtocolMask(forward.protocols)) && record.port.Overlaps(forward.port);
}

ConfigSnapshot ConfigSnapshotView::DecodeAll() && {
  ConfigSnapshot snapshot;
  snapshot.config = std::move(config);
  snapshot.warnings = std::move(warnings);
  snapshot.config.forwards.reserve(forwards.size());
  bool ok = true;
  for (const auto& record : forwards)
    snapshot.config.forwards.push_back(
        DecodeForwardRecord(record.bytes, snapshot.config.files, ok));
  if (!ok) throw RuntimeFailure("damaged config snapshot");
  return snapshot;
}

std::string SerializeConfigSnapshot(const std::vector<ConfigSource>& sources, const Config& config,
                                    const std::vector<Diagnostic>& warnings) {
  return Serialize(sources, config, warnings, [&](Writer& out) {
    out.U32(static_cast<std::uint32_t>(config.forwards.size()));
    for (const auto& forward : config.forwards)
      PutForwardRecord(out, forward, FileIndex(config.files, forward.where.file));
  });
}

namespace {

// The snapshot after a change of one file, in pieces: the records of the other files are
// slices of `view` where their file's index stays, else copies with the index rewritten.
struct Pieces {
  std::vector<std::string> owned;
  std::vector<std::string_view> pieces;
};

Pieces SnapshotPieces(const std::vector<ConfigSource>& sources, const ConfigSnapshotView& view,
                      const std::vector<std::string>& files, const std::string& changed_file,
                      const std::vector<Forward>& changed_forwards,
                      const std::vector<Diagnostic>& warnings) {
  Config header = view.config;
  header.files = files;
  std::uint16_t changed = FileIndex(files, changed_file);
  std::vector<std::uint16_t> renumber;
  bool same_numbers = true;
  for (std::size_t i = 0; i < view.config.files.size(); ++i) {
    renumber.push_back(FileIndex(files, view.config.files[i]));
    same_numbers = same_numbers && renumber.back() == i;
  }
  std::map<std::string, std::string> known = view.identities;
  known.erase(changed_file);
  std::size_t count = changed_forwards.size();
  for (const auto& record : view.forwards)
    if (renumber[record.file] != changed) ++count;
  Pieces out;
  out.owned.reserve(4);
  out.owned.push_back(Serialize(
      sources, header, warnings,
      [&](Writer& writer) { writer.U32(static_cast<std::uint32_t>(count)); }, &known));
  if (out.owned.back().empty()) return {};
  out.pieces.push_back(out.owned.back());
  // A record's bytes including its length in front.
  auto whole = [](const ConfigSnapshotView::Record& record) {
    return std::string_view(record.bytes.data() - 4, record.bytes.size() + 4);
  };
  auto slice = [&](std::size_t first, std::size_t end) {  // records [first, end)
    if (first >= end) return;
    if (same_numbers) {
      std::string_view a = whole(view.forwards[first]), b = whole(view.forwards[end - 1]);
      out.pieces.emplace_back(a.data(), static_cast<std::size_t>(b.data() + b.size() - a.data()));
      return;
    }
    Writer copies;
    for (std::size_t i = first; i < end; ++i) {
      std::size_t at = copies.out.size();
      copies.out.append(whole(view.forwards[i]));
      std::uint16_t file = renumber[view.forwards[i].file];
      std::memcpy(copies.out.data() + at + 4, &file, 2);
    }
    out.owned.push_back(std::move(copies.out));
    out.pieces.push_back(out.owned.back());
  };
  std::size_t next = 0;
  while (next < view.forwards.size() && renumber[view.forwards[next].file] < changed) ++next;
  slice(0, next);
  Writer fresh;
  for (const auto& forward : changed_forwards) PutForwardRecord(fresh, forward, changed);
  out.owned.push_back(std::move(fresh.out));
  out.pieces.push_back(out.owned.back());
  while (next < view.forwards.size() && renumber[view.forwards[next].file] == changed) ++next;
  slice(next, view.forwards.size());
  return out;
}

}  // namespace

std::string SerializeConfigSnapshotWith(const std::vector<ConfigSource>& sources,
                                        const ConfigSnapshotView& view,
                                        const std::vector<std::string>& files,
                                        const std::string& changed_file,
                                        const std::vector<Forward>& changed_forwards,
                                        const std::vector<Diagnostic>& warnings) {
  Pieces pieces = SnapshotPieces(sources, view, files, changed_file, changed_forwards, warnings);
  std::string bytes;
  for (auto piece : pieces.pieces) bytes.append(piece);
  return bytes;
}

bool WriteConfigSnapshotWith(const fs::path& path, const std::vector<ConfigSource>& sources,
                             const ConfigSnapshotView& view, const std::vector<std::string>& files,
                             const std::string& changed_file,
                             const std::vector<Forward>& changed_forwards,
                             const std::vector<Diagnostic>& warnings) {
  Pieces pieces = SnapshotPieces(sources, view, files, changed_file, changed_forwards, warnings);
  if (pieces.pieces.empty()) return false;
  WriteFileAtomically(path, pieces.pieces, 0600);
  return true;
}

namespace {

// Fills `view` from `data` (which it keeps alive); false when it is not a snapshot of these
// files.
bool ParseView(ConfigSnapshotView& view, std::string_view data,
               const std::vector<ConfigSource>& sources) {
  view.bytes_size = data.size();
  if (!data.starts_with(kMagic)) return false;
  Reader in(data.substr(kMagic.size()));
  if (in.String() != BuildId() || !in.ok()) return false;
  // Exactly these files, in this order, each unchanged.
  if (in.Count(8) != sources.size() || !in.ok()) return false;
  for (const auto& source : sources) {
    if (in.String() != source.path) return false;
    FileIdentity recorded;
    recorded.device = in.U64();
    recorded.inode = in.U64();
    recorded.size = in.U64();
    recorded.modified_ns = static_cast<std::int64_t>(in.U64());
    recorded.changed_ns = static_cast<std::int64_t>(in.U64());
    recorded.hash = in.U64();
    auto current = IdentityOf(source);
    if (!in.ok() || !current || !(*current == recorded)) return false;
    Writer bytes;
    for (std::uint64_t field : {recorded.device, recorded.inode, recorded.size,
                                static_cast<std::uint64_t>(recorded.modified_ns),
                                static_cast<std::uint64_t>(recorded.changed_ns), recorded.hash})
      bytes.U64(field);
    view.identities[source.path] = std::move(bytes.out);
  }
  Config& config = view.config;
  config.settings = GetSettings(in);
  for (std::uint32_t i = 0, n = in.Count(16); i < n && in.ok(); ++i)
    config.networks.push_back(GetNetwork(in));
  for (std::uint32_t i = 0, n = in.Count(4); i < n && in.ok(); ++i)
    config.files.push_back(in.String());
  for (std::uint32_t i = 0, n = in.Count(16); i < n && in.ok(); ++i) {
    Diagnostic warning;
    warning.where = in.Where();
    warning.message = in.String();
    view.warnings.push_back(std::move(warning));
  }
  std::uint32_t count = in.Count(11);
  view.forwards.reserve(count);
  for (std::uint32_t i = 0; i < count && in.ok(); ++i) {
    std::uint32_t length = in.U32();
    std::string_view record = in.Take(length);
    if (!in.ok() || record.size() < 7) return false;
    ConfigSnapshotView::Record entry;
    entry.bytes = record;
    std::memcpy(&entry.file, record.data(), 2);
    std::memcpy(&entry.port.first, record.data() + 2, 2);
    std::memcpy(&entry.port.last, record.data() + 4, 2);
    entry.protocols = static_cast<std::uint8_t>(record[6]);
    if (entry.file >= config.files.size()) return false;
    view.forwards.push_back(entry);
  }
  if (!in.ok() || !in.done()) return false;
  return true;
}

}  // namespace

std::optional<ConfigSnapshotView> ParseConfigSnapshotView(
    std::string bytes, const std::vector<ConfigSource>& sources) {
  ConfigSnapshotView view;
  view.storage = std::move(bytes);
  if (!ParseView(view, view.storage, sources)) return std::nullopt;
  return view;
}

std::optional<ConfigSnapshot> ParseConfigSnapshot(std::string_view bytes,
                                                  const std::vector<ConfigSource>& sources) {
  auto view = ParseConfigSnapshotView(std::string(bytes), sources);
  if (!view) return std::nullopt;
  try {
    return std::move(*view).DecodeAll();
  } catch (const RuntimeFailure&) {
    return std::nullopt;
  }
}

std::optional<ConfigSnapshotView> ReadConfigSnapshotView(const fs::path& path,
                                                         const std::vector<ConfigSource>& sources) {
  // Mapped, its pages filled in one go: no copy, and none of the page faults a read into a
  // fresh buffer of a megabyte costs.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat info {};
  if (fstat(fd, &info) != 0 || info.st_size <= 0) {
    close(fd);
    return std::nullopt;
  }
  auto size = static_cast<std::size_t>(info.st_size);
  void* address = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (address == MAP_FAILED) return std::nullopt;
  ConfigSnapshotView view;
  view.mapping = std::shared_ptr<void>(address, [size](void* at) { munmap(at, size); });
  if (!ParseView(view, std::string_view(static_cast<const char*>(address), size), sources))
    return std::nullopt;
  return view;
}

std::optional<ConfigSnapshot> ReadConfigSnapshot(const fs::path& path,
                                                 const std::vector<ConfigSource>& sources) {
  auto view = ReadConfigSnapshotView(path, sources);
  if (!view) return std::nullopt;
  try {
    return std::move(*view).DecodeAll();
  } catch (const RuntimeFailure&) {
    return std::nullopt;
  }
}

void WriteConfigSnapshot(const fs::path& path, const std::vector<ConfigSource>& sources,
                         const Config& config, const std::vector<Diagnostic>& warnings) {
  std::string bytes = SerializeConfigSnapshot(sources, config, warnings);
  if (bytes.empty()) return;
  WriteFileAtomically(path, bytes, 0600);
}

Config LoadConfigWithSnapshot(const fs::path& main_file, const fs::path& state_dir,
                              Diagnostics& diagnostics, bool make_state_dir) {
  std::vector<ConfigSource> sources = ReadConfigSources(main_file);
  fs::path path = state_dir / "config.snapshot";
  if (auto snapshot = ReadConfigSnapshot(path, sources)) {
    for (auto& warning : snapshot->warnings)
      diagnostics.Warning(warning.where, std::move(warning.message));
    return std::move(snapshot->config);
  }
  Config config = ParseConfig(sources, diagnostics);
  if (diagnostics.HasErrors()) throw BadInput(FormatErrors(diagnostics));
  // A cache in virtnat's state folder, never a reason to fail: a user who cannot write there
  // just gets no snapshot.
  try {
    std::error_code error;
    if (make_state_dir && !fs::is_directory(state_dir, error) &&
        fs::create_directories(state_dir, error))
      chmod(state_dir.c_str(), 0700);
    if (fs::is_directory(state_dir, error) && access(state_dir.c_str(), W_OK) == 0)
      WriteConfigSnapshot(path, sources, config, diagnostics.warnings());
  } catch (const std::exception&) {
  }
  return config;
}

}  // namespace virtnat

namespace virtnat {

ConfigSummary SummarizeConfigWithSnapshot(const fs::path& main_file, const fs::path& state_dir) {
  ConfigSummary summary;
  auto count = [&](const Config& config, std::size_t forwards) {
    summary.networks = config.networks.size();
    for (const auto& network : config.networks) summary.hosts += network.hosts.size();
    summary.forwards = forwards;
    summary.files = config.files.size();
  };
  std::vector<ConfigSource> sources = ReadConfigSources(main_file);
  if (auto view = ReadConfigSnapshotView(state_dir / "config.snapshot", sources)) {
    count(view->config, view->forwards.size());
    summary.warnings = std::move(view->warnings);
    return summary;
  }
  Diagnostics diagnostics;
  Config config = LoadConfigWithSnapshot(main_file, state_dir, diagnostics);
  count(config, config.forwards.size());
  summary.warnings = diagnostics.warnings();
  return summary;
}

}  // namespace virtnat
