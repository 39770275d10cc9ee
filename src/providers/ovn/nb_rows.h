// Rows of OVN's northbound database as virtnat plans and reads them, and the difference between
// the two as ovn-nbctl commands. Pure: no database, no processes (ovn_driver.cpp runs them).
//
// Every row virtnat writes carries external_ids:virtnat=1 and virtnat-network=NETWORK; a row's
// identity is its table, its name (tables with a name column) and its external_ids. Child rows
// (ports, ACLs, NAT, routes, gateway chassis) live only inside a parent's column, so removing a
// parent's reference (or destroying the parent) removes them (OVSDB's garbage collection).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace virtnat::ovn {

// A column's value as virtnat writes it: a string, an integer, a set of strings or a map of
// strings to strings (the only kinds its columns need).
struct Value {
  enum class Kind { kString, kInteger, kSet, kMap };
  Kind kind = Kind::kString;
  std::string text;                        // kString, kInteger (decimal)
  std::set<std::string> set;               // kSet
  std::map<std::string, std::string> map;  // kMap

  static Value String(std::string text);
  static Value Integer(long long number);
  static Value Set(std::set<std::string> items);
  static Value Map(std::map<std::string, std::string> items);
  bool Empty() const {
    return (kind == Kind::kSet && set.empty()) || (kind == Kind::kMap && map.empty());
  }
  // In ovn-nbctl's syntax for `create` and `set`: "text", 1000, ["a", "b"], {"k"="v"}.
  std::string ToNbctl() const;
  bool operator==(const Value&) const = default;
};

// A string in ovn-nbctl's syntax: double quotes, with \" and \\ escaped.
std::string QuoteNbctl(std::string_view text);

// A row virtnat wants.
struct Row {
  std::string table;
  std::map<std::string, Value> columns;  // the columns virtnat sets (name, external_ids, ...)
  // Reference columns: column -> the keys (Row::Key) of the rows it holds, in order.
  std::map<std::string, std::vector<std::string>> refs;

  std::string Name() const;  // the name column, or ""
  std::string Key() const;
  std::string ExternalId(const std::string& key) const;
};

// Rows of one plan, children before the parents that hold them.
struct Plan {
  std::vector<Row> rows;
};

// A row read from the database (`ovn-nbctl --format=json find TABLE external_ids:virtnat=1`):
// every column as its JSON text, by heading.
struct DbRow {
  std::string table;
  std::string uuid;
  std::map<std::string, std::string> cells;  // column -> JSON text of the OVSDB datum

  std::string Key() const;
  std::string ExternalId(const std::string& key) const;
};

// The tables virtnat writes, in the order they are read.
const std::vector<std::string>& Tables();
// Root tables (rows live on their own); the others are children of a parent's column.
bool IsRootTable(const std::string& table);

// Parses the output of `ovn-nbctl --format=json` with one `find`/`list` per table (one JSON
// object a line, in `tables` order; other lines are skipped). Throws std::runtime_error on
// output it cannot read.
std::vector<DbRow> ParseFindOutput(const std::string& output,
                                   const std::vector<std::string>& tables);

// One JSON datum as a value of `kind` (an atom where a set is expected is a set of one).
Value ParseDatum(const std::string& json, Value::Kind kind);
// The UUIDs one reference column holds.
std::vector<std::string> ParseUuids(const std::string& json);

// What has to change: ovn-nbctl commands, each a list of words (joined with "--" into one
// transaction by TransactionArguments).
struct Change {
  std::vector<std::vector<std::string>> commands;
  int created = 0, changed = 0, removed = 0;
  bool Empty() const { return commands.empty(); }
  std::string Summary() const;  // "rows 3 created, 1 changed" (zeros left out)
};

// The commands that turn `have` (virtnat's rows found in the database) into `want`. Rows of
// `have` that `want` lacks are removed; rows that differ only in columns are changed in place
// (a port keeps its binding); references held by rows virtnat does not own are left alone.
Change Diff(const Plan& want, const std::vector<DbRow>& have);

// `commands` as one ovn-nbctl argument list: "--", words, "--", words, ...
std::vector<std::string> TransactionArguments(const Change& change);

// The rows of one network (external_ids:virtnat-network) of a plan or of the database.
Plan OnlyNetwork(const Plan& plan, const std::string& network);
std::vector<DbRow> OnlyNetwork(const std::vector<DbRow>& rows, const std::string& network);

}  // namespace virtnat::ovn
