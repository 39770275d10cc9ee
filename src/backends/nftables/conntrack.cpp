#include "backends/nftables/conntrack.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <sstream>

#include "model/net.h"

namespace virtnat {
namespace {

struct DumpContext {
  const std::vector<ClosedMapping>* mappings;
  std::vector<nf_conntrack*> matches;
};

bool Matches(const nf_conntrack* ct, const ClosedMapping& mapping) {
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != mapping.protocol) return false;
  if (ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)) != mapping.port) return false;
  if (ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC)) != mapping.to_port) return false;
  auto address = [](std::uint32_t network_order) {
    return Ipv4Address{ntohl(network_order)}.ToString();
  };
  if (address(nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC)) != mapping.target) return false;
  return mapping.listen.empty() ||
         address(nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST)) == mapping.listen;
}

int OnEntry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* context = static_cast<DumpContext*>(data);
  for (const auto& mapping : *context->mappings)
    if (Matches(ct, mapping)) {
      context->matches.push_back(nfct_clone(ct));
      break;
    }
  return NFCT_CB_CONTINUE;
}

}  // namespace

std::vector<ClosedMapping> ParseClosedMappings(const std::vector<std::string>& elements) {
  std::vector<ClosedMapping> mappings;
  for (const auto& element : elements) {
    // Tokens separated by " . " and " : ".
    std::istringstream in(element);
    std::vector<std::string> tokens;
    for (std::string token; in >> token;)
      if (token != "." && token != ":") tokens.push_back(token);
    ClosedMapping mapping;
    std::size_t i = 0;
    if (tokens.size() == 5)
      mapping.listen = tokens[i++];
    else if (tokens.size() != 4)
      continue;
    mapping.protocol = tokens[i] == "udp" ? 17 : tokens[i] == "tcp" ? 6 : 0;
    if (mapping.protocol == 0) continue;
    try {
      mapping.port = std::stoi(tokens[i + 1]);
      mapping.target = tokens[i + 2];
      mapping.to_port = std::stoi(tokens[i + 3]);
    } catch (const std::exception&) {
      continue;
    }
    mappings.push_back(mapping);
  }
  return mappings;
}

std::size_t ForgetConnections(const std::vector<ClosedMapping>& mappings) {
  if (mappings.empty()) return 0;
  nfct_handle* handle = nfct_open(CONNTRACK, 0);
  if (!handle) return 0;
  DumpContext context{&mappings, {}};
  nfct_callback_register(handle, NFCT_T_ALL, OnEntry, &context);
  std::uint32_t family = AF_INET;
  nfct_query(handle, NFCT_Q_DUMP, &family);
  nfct_callback_unregister(handle);
  std::size_t deleted = 0;
  for (nf_conntrack* ct : context.matches) {
    if (nfct_query(handle, NFCT_Q_DESTROY, ct) == 0) ++deleted;
    nfct_destroy(ct);
  }
  nfct_close(handle);
  return deleted;
}

}  // namespace virtnat
