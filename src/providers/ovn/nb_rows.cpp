#include "providers/ovn/nb_rows.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

namespace virtnat::ovn {
namespace {

using json = nlohmann::json;

struct TableInfo {
  const char* name;
  bool root;
  bool named;                     // has a name column that identifies its rows
  std::vector<std::string> refs;  // reference columns virtnat manages
  std::set<std::string> singles;  // of those, the ones that hold at most one reference
};

const std::vector<TableInfo>& TableInfos() {
  static const std::vector<TableInfo> kTables = {
      {"DHCP_Options", true, false, {}, {}},
      {"DNS", true, false, {}, {}},
      {"Address_Set", true, true, {}, {}},
      {"Load_Balancer", true, true, {}, {}},
      {"ACL", false, false, {}, {}},
      {"NAT", false, false, {}, {}},
      {"Logical_Router_Static_Route", false, false, {}, {}},
      {"Gateway_Chassis", false, true, {}, {}},
      {"Logical_Switch_Port",
       false,
       true,
       {"dhcpv4_options", "dhcpv6_options"},
       {"dhcpv4_options", "dhcpv6_options"}},
      {"Logical_Router_Port", false, true, {"gateway_chassis"}, {}},
      {"Logical_Switch", true, true, {"ports", "acls", "load_balancer", "dns_records"}, {}},
      {"Logical_Router", true, true, {"ports", "nat", "static_routes", "load_balancer"}, {}},
  };
  return kTables;
}

const TableInfo& InfoOf(const std::string& table) {
  for (const auto& info : TableInfos())
    if (table == info.name) return info;
  throw std::logic_error("ovn: no table " + table);
}

std::string KeyOf(const std::string& table, const std::string& name,
                  const std::map<std::string, std::string>& external_ids) {
  std::string key = table + '\x1f' + name + '\x1f';
  for (const auto& [k, v] : external_ids) key += k + '=' + v + '\x1e';
  return key;
}

std::string AtomText(const json& atom) {
  if (atom.is_string()) return atom.get<std::string>();
  if (atom.is_array() && atom.size() == 2 && atom[0] == "uuid") return atom[1].get<std::string>();
  return atom.dump();
}

bool IsTagged(const json& datum, const char* tag) {
  return datum.is_array() && datum.size() == 2 && datum[0].is_string() && datum[0] == tag &&
         datum[1].is_array();
}

}  // namespace

Value Value::String(std::string text) {
  Value value;
  value.kind = Kind::kString;
  value.text = std::move(text);
  return value;
}

Value Value::Integer(long long number) {
  Value value;
  value.kind = Kind::kInteger;
  value.text = std::to_string(number);
  return value;
}

Value Value::Set(std::set<std::string> items) {
  Value value;
  value.kind = Kind::kSet;
  value.set = std::move(items);
  return value;
}

Value Value::Map(std::map<std::string, std::string> items) {
  Value value;
  value.kind = Kind::kMap;
  value.map = std::move(items);
  return value;
}

std::string QuoteNbctl(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + '"';
}

std::string Value::ToNbctl() const {
  switch (kind) {
    case Kind::kString:
      return QuoteNbctl(text);
    case Kind::kInteger:
      return text;
    case Kind::kSet: {
      std::string out = "[";
      for (const auto& item : set) out += (out.size() > 1 ? ", " : "") + QuoteNbctl(item);
      return out + "]";
    }
    case Kind::kMap: {
      std::string out = "{";
      for (const auto& [k, v] : map)
        out += (out.size() > 1 ? ", " : "") + QuoteNbctl(k) + "=" + QuoteNbctl(v);
      return out + "}";
    }
  }
  return "";
}

std::string Row::Name() const {
  auto found = columns.find("name");
  return found == columns.end() ? "" : found->second.text;
}

std::string Row::ExternalId(const std::string& key) const {
  auto ids = columns.find("external_ids");
  if (ids == columns.end()) return "";
  auto found = ids->second.map.find(key);
  return found == ids->second.map.end() ? "" : found->second;
}

std::string Row::Key() const {
  auto ids = columns.find("external_ids");
  return KeyOf(table, InfoOf(table).named ? Name() : "",
               ids == columns.end() ? std::map<std::string, std::string>{} : ids->second.map);
}

std::string DbRow::ExternalId(const std::string& key) const {
  auto cell = cells.find("external_ids");
  if (cell == cells.end()) return "";
  Value ids = ParseDatum(cell->second, Value::Kind::kMap);
  auto found = ids.map.find(key);
  return found == ids.map.end() ? "" : found->second;
}

std::string DbRow::Key() const {
  std::string name;
  if (InfoOf(table).named)
    if (auto cell = cells.find("name"); cell != cells.end())
      name = ParseDatum(cell->second, Value::Kind::kString).text;
  auto ids = cells.find("external_ids");
  return KeyOf(table, name,
               ids == cells.end() ? std::map<std::string, std::string>{}
                                  : ParseDatum(ids->second, Value::Kind::kMap).map);
}

const std::vector<std::string>& Tables() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& info : TableInfos()) names.push_back(info.name);
    return names;
  }();
  return kNames;
}

bool IsRootTable(const std::string& table) {
  return InfoOf(table).root;
}

Value ParseDatum(const std::string& text, Value::Kind kind) {
  json datum = json::parse(text);
  std::vector<json> atoms;  // a set's members, or the atom itself
  if (IsTagged(datum, "set"))
    atoms.assign(datum[1].begin(), datum[1].end());
  else if (!IsTagged(datum, "map"))
    atoms.push_back(datum);
  switch (kind) {
    case Value::Kind::kString:
      return Value::String(atoms.empty() ? "" : AtomText(atoms.front()));
    case Value::Kind::kInteger: {
      Value value;
      value.kind = Value::Kind::kInteger;
      value.text = atoms.empty() ? "" : AtomText(atoms.front());
      return value;
    }
    case Value::Kind::kSet: {
      std::set<std::string> items;
      for (const auto& atom : atoms) items.insert(AtomText(atom));
      return Value::Set(std::move(items));
    }
    case Value::Kind::kMap: {
      std::map<std::string, std::string> items;
      if (IsTagged(datum, "map"))
        for (const auto& pair : datum[1])
          if (pair.is_array() && pair.size() == 2) items[AtomText(pair[0])] = AtomText(pair[1]);
      return Value::Map(std::move(items));
    }
  }
  return {};
}

std::vector<std::string> ParseUuids(const std::string& text) {
  Value value = ParseDatum(text, Value::Kind::kSet);
  return {value.set.begin(), value.set.end()};
}

std::vector<DbRow> ParseFindOutput(const std::string& output,
                                   const std::vector<std::string>& tables) {
  std::vector<DbRow> rows;
  std::size_t table = 0, start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string_view line(output.data() + start, end - start);
    start = end + 1;
    if (line.empty() || line.front() != '{') continue;
    if (table >= tables.size())
      throw std::runtime_error("ovn-nbctl printed more tables than it was asked for");
    json parsed;
    try {
      parsed = json::parse(line);
    } catch (const json::exception& error) {
      throw std::runtime_error(fmt::format("unreadable ovn-nbctl output: {}", error.what()));
    }
    const json& headings = parsed.at("headings");
    for (const json& data : parsed.at("data")) {
      DbRow row;
      row.table = tables[table];
      for (std::size_t i = 0; i < headings.size() && i < data.size(); ++i) {
        std::string heading = headings[i].get<std::string>();
        if (heading == "_uuid")
          row.uuid = AtomText(data[i]);
        else
          row.cells[heading] = data[i].dump();
      }
      rows.push_back(std::move(row));
    }
    ++table;
  }
  if (table != tables.size())
    throw std::runtime_error(
        fmt::format("ovn-nbctl printed {} of {} tables", table, tables.size()));
  return rows;
}

std::string Change::Summary() const {
  std::string parts;
  for (auto [count, what] :
       {std::pair{created, "created"}, {changed, "changed"}, {removed, "removed"}})
    if (count > 0) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", count, what);
  return "rows " + (parts.empty() ? std::string("unchanged") : parts);
}

Change Diff(const Plan& want, const std::vector<DbRow>& have) {
  Change change;
  // The rows found, by key; and the parent (row, column) that holds each child found.
  std::map<std::string, std::vector<std::size_t>> found_by_key;
  std::map<std::string, std::size_t> found_by_uuid;
  std::map<std::string, std::size_t> found_parent;
  for (std::size_t i = 0; i < have.size(); ++i) {
    found_by_key[have[i].Key()].push_back(i);
    found_by_uuid[have[i].uuid] = i;
  }
  for (std::size_t i = 0; i < have.size(); ++i)
    for (const auto& column : InfoOf(have[i].table).refs)
      if (auto cell = have[i].cells.find(column); cell != have[i].cells.end())
        for (const auto& uuid : ParseUuids(cell->second)) found_parent[uuid] = i;

  // The wanted parent of each wanted child row.
  std::map<std::string, std::size_t> wanted_by_key, wanted_parent;
  for (std::size_t i = 0; i < want.rows.size(); ++i) {
    if (!wanted_by_key.emplace(want.rows[i].Key(), i).second)
      throw std::logic_error("ovn: two planned rows share a key: " + want.rows[i].Key());
    for (const auto& [column, keys] : want.rows[i].refs)
      for (const auto& key : keys) wanted_parent[key] = i;
  }

  // Match wanted rows with rows found, parents first: a child is kept only under its kept parent.
  std::vector<std::optional<std::size_t>> match(want.rows.size());
  std::vector<bool> used(have.size(), false);
  for (std::size_t n = want.rows.size(); n-- > 0;) {
    const Row& row = want.rows[n];
    auto candidates = found_by_key.find(row.Key());
    if (candidates == found_by_key.end()) continue;
    std::optional<std::string> parent_uuid;
    if (!IsRootTable(row.table)) {
      auto parent = wanted_parent.find(row.Key());
      if (parent == wanted_parent.end())
        throw std::logic_error("ovn: a planned child row has no parent: " + row.Key());
      if (!match[parent->second]) continue;  // a new parent gets new children
      parent_uuid = have[*match[parent->second]].uuid;
    }
    for (std::size_t candidate : candidates->second) {
      if (used[candidate]) continue;
      if (parent_uuid) {
        auto holder = found_parent.find(have[candidate].uuid);
        if (holder == found_parent.end() || have[holder->second].uuid != *parent_uuid) continue;
      }
      used[candidate] = true;
      match[n] = candidate;
      break;
    }
  }

  auto token = [&](std::size_t n) {
    return match[n] ? have[*match[n]].uuid : fmt::format("@r{}", n);
  };
  auto tokens_of = [&](const std::vector<std::string>& keys) {
    std::vector<std::string> tokens;
    for (const auto& key : keys) tokens.push_back(token(wanted_by_key.at(key)));
    return tokens;
  };

  // New rows, children first, with their references.
  for (std::size_t n = 0; n < want.rows.size(); ++n) {
    if (match[n]) continue;
    const Row& row = want.rows[n];
    std::vector<std::string> command{fmt::format("--id=@r{}", n), "create", row.table};
    for (const auto& [column, value] : row.columns)
      if (!value.Empty()) command.push_back(column + "=" + value.ToNbctl());
    const TableInfo& info = InfoOf(row.table);
    for (const auto& [column, keys] : row.refs) {
      if (keys.empty()) continue;
      auto tokens = tokens_of(keys);
      if (info.singles.contains(column)) {
        command.push_back(column + "=" + tokens.front());
      } else {
        std::string list;
        for (const auto& t : tokens) list += (list.empty() ? "" : ",") + t;
        command.push_back(column + "=[" + list + "]");
      }
    }
    change.commands.push_back(std::move(command));
    ++change.created;
  }

  // Rows kept: columns that differ, references added and removed.
  for (std::size_t n = 0; n < want.rows.size(); ++n) {
    if (!match[n]) continue;
    const Row& row = want.rows[n];
    const DbRow& found = have[*match[n]];
    const TableInfo& info = InfoOf(row.table);
    bool changed = false;
    std::vector<std::string> set{"set", row.table, found.uuid};
    for (const auto& [column, value] : row.columns) {
      auto cell = found.cells.find(column);
      Value current = cell == found.cells.end() ? Value{} : ParseDatum(cell->second, value.kind);
      if (cell != found.cells.end() && current == value) continue;
      if (value.Empty()) {
        if (current.Empty() && cell != found.cells.end()) continue;
        change.commands.push_back({"clear", row.table, found.uuid, column});
      } else {
        set.push_back(column + "=" + value.ToNbctl());
      }
      changed = true;
    }
    if (set.size() > 3) change.commands.push_back(std::move(set));
    for (const auto& column : info.refs) {
      auto keys = row.refs.find(column);
      std::vector<std::string> tokens =
          keys == row.refs.end() ? std::vector<std::string>{} : tokens_of(keys->second);
      auto cell = found.cells.find(column);
      std::vector<std::string> current =
          cell == found.cells.end() ? std::vector<std::string>{} : ParseUuids(cell->second);
      if (info.singles.contains(column)) {
        if (!tokens.empty() && (current.size() != 1 || current.front() != tokens.front())) {
          change.commands.push_back({"set", row.table, found.uuid, column + "=" + tokens.front()});
          changed = true;
        } else if (tokens.empty() && !current.empty() && found_by_uuid.contains(current.front())) {
          change.commands.push_back({"clear", row.table, found.uuid, column});
          changed = true;
        }
        continue;
      }
      std::set<std::string> have_refs(current.begin(), current.end());
      std::set<std::string> want_refs(tokens.begin(), tokens.end());
      std::vector<std::string> add{"add", row.table, found.uuid, column};
      for (const auto& t : tokens)
        if (!have_refs.contains(t)) add.push_back(t);
      // Only references to virtnat's own rows go; whatever else an admin put there stays.
      std::vector<std::string> remove{"remove", row.table, found.uuid, column};
      for (const auto& uuid : current)
        if (!want_refs.contains(uuid) && found_by_uuid.contains(uuid)) remove.push_back(uuid);
      if (add.size() > 4) change.commands.push_back(std::move(add)), changed = true;
      if (remove.size() > 4) change.commands.push_back(std::move(remove)), changed = true;
    }
    if (changed) ++change.changed;
  }

  // Rows found that nothing wants: root rows are destroyed; children go with the reference
  // their kept parent drops above, or with their parent.
  for (std::size_t i = 0; i < have.size(); ++i) {
    if (used[i]) continue;
    ++change.removed;
    if (IsRootTable(have[i].table))
      change.commands.push_back({"destroy", have[i].table, have[i].uuid});
  }
  return change;
}

std::vector<std::string> TransactionArguments(const Change& change) {
  std::vector<std::string> arguments;
  for (const auto& command : change.commands) {
    arguments.push_back("--");
    arguments.insert(arguments.end(), command.begin(), command.end());
  }
  return arguments;
}

Plan OnlyNetwork(const Plan& plan, const std::string& network) {
  Plan only;
  for (const auto& row : plan.rows)
    if (row.ExternalId("virtnat-network") == network) only.rows.push_back(row);
  return only;
}

std::vector<DbRow> OnlyNetwork(const std::vector<DbRow>& rows, const std::string& network) {
  std::vector<DbRow> only;
  for (const auto& row : rows)
    if (row.ExternalId("virtnat-network") == network) only.push_back(row);
  return only;
}

}  // namespace virtnat::ovn
