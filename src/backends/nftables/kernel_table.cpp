#include "backends/nftables/kernel_table.h"

#include <fmt/format.h>

namespace virtnat {

std::string CanonicalElement(const nlohmann::json& expression) {
  if (expression.is_string()) return expression.get<std::string>();
  if (expression.is_number_integer()) return std::to_string(expression.get<long long>());
  if (expression.is_object()) {
    if (expression.contains("concat")) {
      std::string text;
      for (const auto& part : expression["concat"])
        text += (text.empty() ? "" : " . ") + CanonicalElement(part);
      return text;
    }
    if (expression.contains("prefix")) {
      const auto& prefix = expression["prefix"];
      int length = prefix.value("len", 32);
      std::string address = CanonicalElement(prefix["addr"]);
      bool whole = length == (address.find(':') == std::string::npos ? 32 : 128);
      return whole ? address : fmt::format("{}/{}", address, length);
    }
    if (expression.contains("range")) {
      const auto& range = expression["range"];
      return CanonicalElement(range[0]) + "-" + CanonicalElement(range[1]);
    }
    if (expression.contains("elem")) return CanonicalElement(expression["elem"]["val"]);
  }
  return expression.dump();
}

KernelTable ParseKernelTable(const nlohmann::json& listing) {
  KernelTable table;
  nlohmann::json layout = nlohmann::json::array();
  for (const auto& item : listing.value("nftables", nlohmann::json::array())) {
    if (item.contains("metainfo")) continue;
    nlohmann::json object = item;
    for (auto& [kind, body] : object.items()) {
      body.erase("handle");
      if (kind == "table") {
        table.exists = true;
        table.comment = body.value("comment", "");
      }
      if ((kind == "set" || kind == "map") && body.contains("elem")) {
        std::string name = body.value("name", "");
        auto& elements = table.elements[name];
        for (const auto& element : body["elem"]) {
          std::string text;
          if (kind == "map" && element.is_array() && element.size() == 2) {
            text = CanonicalElement(element[0]) + " : " + CanonicalElement(element[1]);
          } else {
            text = CanonicalElement(element);
            if (element.is_object() && element.contains("elem") &&
                element["elem"].contains("counter")) {
              const auto& counter = element["elem"]["counter"];
              table.counters[name + "|" + text] = {counter.value("packets", 0ull),
                                                   counter.value("bytes", 0ull)};
            }
          }
          elements.insert(text);
        }
        body.erase("elem");
      }
      if ((kind == "set" || kind == "map")) table.elements[body.value("name", "")];
    }
    layout.push_back(object);
  }
  if (table.exists) table.fingerprint = StableHash(layout.dump());
  return table;
}

}  // namespace virtnat
