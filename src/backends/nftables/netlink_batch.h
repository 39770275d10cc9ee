// virtnat's nftables transactions as netlink batches, built with libnftnl and libmnl from the
// structured layout (nft_layout.h) and the canonical element texts (nft_ruleset.h): the same
// messages libnftables sends for the equivalent text, without parsing any text. A batch is
// sent in one sendmsg (netlink_send.h); the kernel applies all of it or none.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "backends/nftables/nft_layout.h"
#include "backends/nftables/nft_ruleset.h"

namespace virtnat {

class NftBatch {
 public:
  NftBatch();

  // `table inet T`, `delete table inet T` and the whole table with its elements: what
  // RenderReplace(ruleset) says in text.
  void ReplaceTable(const NftRuleset& ruleset);
  void DeleteTable(const std::string& table);
  // Elements in canonical text ("198.51.100.1 . tcp . 80 : 10.1.1.10 . 80") of `set`. Adding
  // an element that is there already is no error; deleting one that is not is.
  void AddElements(const std::string& table, const nftlayout::SetSpec& set,
                   const std::set<std::string>& elements);
  void DeleteElements(const std::string& table, const nftlayout::SetSpec& set,
                      const std::set<std::string>& elements);
  // Messages made elsewhere (NftBatch::messages() of another batch).
  void Append(std::string_view messages) { messages_.append(messages); }

  bool empty() const { return messages_.empty(); }
  // The messages without the batch's begin and end (to store, or to join with others).
  const std::string& messages() const { return messages_; }
  // The batch to send: begin, the messages, end. With `generation`, the kernel refuses the
  // whole batch unless the ruleset generation is still that one (nothing changed since).
  std::string Finish(std::optional<std::uint32_t> generation = std::nullopt) const;

  // Wraps messages into a batch (Finish of a batch holding `messages`).
  static std::string Wrap(std::string_view messages,
                          std::optional<std::uint32_t> generation = std::nullopt);

 private:
  class Elements;
  void Rule(const std::string& table, const std::string& chain, const nftlayout::Rule& rule);
  std::uint32_t AnonymousSet(const std::string& table, const nftlayout::Match& match);

  std::string messages_;
  std::uint32_t seq_ = 1;
  std::uint32_t next_set_id_ = 1;
  // Set ids of the sets this batch creates, by name (the kernel finds them by id or name).
  std::map<std::string, std::uint32_t> set_ids_;
};

}  // namespace virtnat
