#include "backends/nftables/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>

#include "base/files.h"

namespace virtnat {
namespace {

// An address of either family in network byte order (IPv4: the first 4 bytes).
using AddressBytes = std::array<unsigned char, 16>;

// A mapping with its addresses as bytes (network byte order), for matching entries.
struct Wanted {
  int family = AF_INET;
  bool any_listen = true;
  AddressBytes listen{};
  std::uint8_t protocol = 0;
  std::uint16_t port = 0;  // network byte order
  AddressBytes target{};
  std::uint16_t to_port = 0;
};

// An address's family and bytes from its text; nullopt for neither family.
std::optional<std::pair<int, AddressBytes>> ParseAddressText(const std::string& text) {
  AddressBytes bytes{};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) return std::pair{AF_INET, bytes};
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) return std::pair{AF_INET6, bytes};
  return std::nullopt;
}

// What a conntrack entry says about one direction: addresses, protocol and ports.
struct Tuple {
  int family = AF_INET;
  AddressBytes source{}, destination{};
  std::uint8_t protocol = 0;
  std::uint16_t source_port = 0, destination_port = 0;
  bool complete = false;
};

const nlattr* Nested(const nlattr* nest, int type) {
  const char* tail =
      static_cast<const char*>(mnl_attr_get_payload(nest)) + mnl_attr_get_payload_len(nest);
  for (auto* attribute = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
       mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute))
    if (mnl_attr_get_type(attribute) == type) return attribute;
  return nullptr;
}

Tuple ReadTuple(const nlattr* tuple) {
  Tuple result;
  const nlattr* ip = Nested(tuple, CTA_TUPLE_IP);
  const nlattr* proto = Nested(tuple, CTA_TUPLE_PROTO);
  if (!ip || !proto) return result;
  const nlattr *source = Nested(ip, CTA_IP_V4_SRC), *destination = Nested(ip, CTA_IP_V4_DST);
  std::size_t length = 4;
  if (!source && !destination) {
    source = Nested(ip, CTA_IP_V6_SRC);
    destination = Nested(ip, CTA_IP_V6_DST);
    result.family = AF_INET6;
    length = 16;
  }
  const nlattr* number = Nested(proto, CTA_PROTO_NUM);
  if (!source || !destination || !number || mnl_attr_get_payload_len(source) < length ||
      mnl_attr_get_payload_len(destination) < length)
    return result;
  std::memcpy(result.source.data(), mnl_attr_get_payload(source), length);
  std::memcpy(result.destination.data(), mnl_attr_get_payload(destination), length);
  result.protocol = mnl_attr_get_u8(number);
  if (const nlattr* port = Nested(proto, CTA_PROTO_SRC_PORT))
    result.source_port = mnl_attr_get_u16(port);
  if (const nlattr* port = Nested(proto, CTA_PROTO_DST_PORT))
    result.destination_port = mnl_attr_get_u16(port);
  result.complete = true;
  return result;
}

bool Matches(const Tuple& original, const Tuple& reply, const Wanted& mapping) {
  return original.family == mapping.family && reply.family == mapping.family &&
         original.protocol == mapping.protocol && original.destination_port == mapping.port &&
         reply.source_port == mapping.to_port && reply.source == mapping.target &&
         (mapping.any_listen || original.destination == mapping.listen);
}

class Socket {
 public:
  Socket() : socket_(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) {
    if (socket_ && mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
      mnl_socket_close(socket_);
      socket_ = nullptr;
    }
  }
  ~Socket() {
    if (socket_) mnl_socket_close(socket_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  mnl_socket* get() const { return socket_; }

 private:
  mnl_socket* socket_;
};

nlmsghdr* PutHeader(char* buffer, std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
                    int family) {
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | type);
  header->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
  header->nlmsg_seq = seq;
  auto* body = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  body->nfgen_family = static_cast<std::uint8_t>(family);
  body->version = NFNETLINK_V0;
  body->res_id = 0;
  return header;
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
  std::vector<Wanted> wanted;
  for (const auto& mapping : mappings) {
    Wanted entry;
    auto target = ParseAddressText(mapping.target);
    if (!target) continue;
    entry.family = target->first;
    entry.target = target->second;
    if (!mapping.listen.empty()) {
      auto listen = ParseAddressText(mapping.listen);
      if (!listen || listen->first != entry.family) continue;  // no NAT46
      entry.any_listen = false;
      entry.listen = listen->second;
    }
    entry.protocol = static_cast<std::uint8_t>(mapping.protocol);
    entry.port = htons(static_cast<std::uint16_t>(mapping.port));
    entry.to_port = htons(static_cast<std::uint16_t>(mapping.to_port));
    wanted.push_back(entry);
  }
  if (wanted.empty()) return 0;
  // Nothing tracked in this namespace (or no connection tracking at all): nothing to end, and
  // no dump, which walks the whole hash table however empty it is.
  if (auto count = ReadFileIfExists("/proc/sys/net/netfilter/nf_conntrack_count");
      !count || count->starts_with("0\n") || count->empty())
    return 0;
  Socket socket;
  if (!socket.get()) return 0;  // failures are not fatal: the rule change already happened
  std::uint32_t seq = 1;
  alignas(nlmsghdr) char request[MNL_SOCKET_BUFFER_SIZE];
  // One family's entries, or both (AF_UNSPEC) when closed forwards of both are ended.
  int dump_family = wanted.front().family;
  for (const auto& entry : wanted)
    if (entry.family != dump_family) dump_family = AF_UNSPEC;
  nlmsghdr* dump = PutHeader(request, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq, dump_family);
  if (mnl_socket_sendto(socket.get(), dump, dump->nlmsg_len) < 0) return 0;
  // The delete requests of the matching entries: their original tuple, zone and id, as the
  // dump gave them; sent together once the dump is over.
  std::string deletes;
  std::vector<char> buffer(64 * 1024);
  bool done = false;
  while (!done) {
    ssize_t length = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
    if (length <= 0) {
      if (length < 0 && errno == EINTR) continue;
      return 0;
    }
    int remaining = static_cast<int>(length);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(reply, remaining);
         reply = mnl_nlmsg_next(reply, &remaining)) {
      if (reply->nlmsg_type == NLMSG_DONE || reply->nlmsg_type == NLMSG_ERROR) {
        done = true;
        break;
      }
      const nlattr *original = nullptr, *answer = nullptr, *zone = nullptr, *id = nullptr;
      const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(reply));
      for (auto* attribute =
               static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(reply, sizeof(nfgenmsg)));
           mnl_attr_ok(attribute,
                       static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
           attribute = mnl_attr_next(attribute)) {
        switch (mnl_attr_get_type(attribute)) {
          case CTA_TUPLE_ORIG:
            original = attribute;
            break;
          case CTA_TUPLE_REPLY:
            answer = attribute;
            break;
          case CTA_ZONE:
            zone = attribute;
            break;
          case CTA_ID:
            id = attribute;
            break;
          default:
            break;
        }
      }
      if (!original || !answer) continue;
      Tuple forward = ReadTuple(original), back = ReadTuple(answer);
      if (!forward.complete || !back.complete) continue;
      bool match = false;
      for (const auto& mapping : wanted) match = match || Matches(forward, back, mapping);
      if (!match) continue;
      char message[1024];
      // The family of the request tells the kernel how to read the tuple.
      nlmsghdr* request_header =
          PutHeader(message, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++seq, forward.family);
      for (const nlattr* attribute : {original, zone, id}) {
        if (!attribute) continue;
        std::memcpy(static_cast<char*>(mnl_nlmsg_get_payload_tail(request_header)), attribute,
                    attribute->nla_len);
        request_header->nlmsg_len += MNL_ALIGN(attribute->nla_len);
      }
      deletes.append(message, NLMSG_ALIGN(request_header->nlmsg_len));
    }
  }
  // In pieces the socket's send buffer takes; one acknowledgement (or error: the entry went
  // meanwhile) per request.
  std::size_t deleted = 0;
  std::size_t offset = 0;
  while (offset < deletes.size()) {
    std::size_t end = offset, in_piece = 0;
    while (end < deletes.size() && end - offset < 32 * 1024) {
      end += NLMSG_ALIGN(reinterpret_cast<const nlmsghdr*>(deletes.data() + end)->nlmsg_len);
      ++in_piece;
    }
    if (mnl_socket_sendto(socket.get(), deletes.data() + offset, end - offset) < 0) break;
    offset = end;
    std::size_t answered = 0;
    while (answered < in_piece) {
      ssize_t length = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
      if (length <= 0) return deleted;
      int remaining = static_cast<int>(length);
      for (auto* reply = reinterpret_cast<nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(reply, remaining);
           reply = mnl_nlmsg_next(reply, &remaining)) {
        if (reply->nlmsg_type != NLMSG_ERROR) continue;
        ++answered;
        if (static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(reply))->error == 0) ++deleted;
      }
    }
  }
  return deleted;
}

}  // namespace virtnat
