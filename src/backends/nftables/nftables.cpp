#include "backends/nftables/nftables.h"

#include <fmt/format.h>
#include <nftables/libnftables.h>

#include "base/errors.h"

namespace virtnat {
namespace {

nft_ctx* NewContext(unsigned output_flags) {
  nft_ctx* context = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!context) throw RuntimeFailure("cannot create an nftables context");
  nft_ctx_buffer_output(context);
  nft_ctx_buffer_error(context);
  nft_ctx_output_set_flags(context, output_flags);
  return context;
}

std::string FirstLines(std::string text, int lines) {
  std::size_t position = 0;
  for (int i = 0; i < lines && position != std::string::npos; ++i)
    position = text.find('\n', position == 0 ? 0 : position + 1);
  if (position != std::string::npos) text.resize(position);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace

Nftables::Nftables() : context_(NewContext(0)), json_context_(NewContext(NFT_CTX_OUTPUT_JSON)) {}

Nftables::~Nftables() {
  nft_ctx_free(context_);
  nft_ctx_free(json_context_);
}

void Nftables::Run(const std::string& commands) {
  if (nft_run_cmd_from_buffer(context_, commands.c_str()) != 0) {
    std::string error = nft_ctx_get_error_buffer(context_);
    throw RuntimeFailure(fmt::format("nftables refused the transaction: {}", FirstLines(error, 6)));
  }
}

std::optional<nlohmann::json> Nftables::ListJson(const std::string& command, bool terse) {
  unsigned flags = NFT_CTX_OUTPUT_JSON | (terse ? NFT_CTX_OUTPUT_TERSE : 0);
  nft_ctx_output_set_flags(json_context_, flags);
  if (nft_run_cmd_from_buffer(json_context_, command.c_str()) != 0) {
    std::string error = nft_ctx_get_error_buffer(json_context_);
    if (error.find("No such file or directory") != std::string::npos) return std::nullopt;
    throw RuntimeFailure(
        fmt::format("cannot read nftables ({}): {}", command, FirstLines(error, 3)));
  }
  const char* output = nft_ctx_get_output_buffer(json_context_);
  try {
    return nlohmann::json::parse(output ? output : "{}");
  } catch (const nlohmann::json::exception& error) {
    throw RuntimeFailure(fmt::format("cannot parse nftables output: {}", error.what()));
  }
}

std::string Nftables::ListText(const std::string& command) {
  nft_ctx_output_set_flags(context_, NFT_CTX_OUTPUT_HANDLE);
  int status = nft_run_cmd_from_buffer(context_, command.c_str());
  nft_ctx_output_set_flags(context_, 0);
  if (status != 0) {
    std::string error = nft_ctx_get_error_buffer(context_);
    throw RuntimeFailure(
        fmt::format("cannot read nftables ({}): {}", command, FirstLines(error, 3)));
  }
  const char* output = nft_ctx_get_output_buffer(context_);
  return output ? output : "";
}

}  // namespace virtnat
