// Thin adapter over libnftables: runs command text as one transaction in-process.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

struct nft_ctx;

namespace virtnat {

class Nftables {
 public:
  Nftables();
  ~Nftables();
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;

  // Runs every command in `commands` as one transaction: all or nothing.
  // Throws RuntimeFailure with nft's error text.
  void Run(const std::string& commands);
  // Runs a list command with JSON output; nullopt when the object does not exist.
  // `terse` leaves out the elements of sets and maps.
  std::optional<nlohmann::json> ListJson(const std::string& command, bool terse = false);
  // Runs a list command with nft's text output, each rule with its "# handle N".
  std::string ListText(const std::string& command);

 private:
  nft_ctx* context_;
  nft_ctx* json_context_;
};

}  // namespace virtnat
