#include "backends/nftables/kernel_netlink.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <functional>
#include <set>
#include <vector>

#include "backends/nftables/element_codec.h"
#include "backends/nftables/nft_layout.h"
#include "base/errors.h"

namespace virtnat {
namespace {

constexpr int kDumpRetries = 5;

class InconsistentDump : public std::exception {};
class NoSuchObject : public std::exception {};

class Socket {
 public:
  Socket() : socket_(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) {
    if (!socket_)
      throw RuntimeFailure(std::string("cannot open a netlink socket: ") + strerror(errno));
    if (mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
      int error = errno;
      mnl_socket_close(socket_);
      throw RuntimeFailure(std::string("cannot bind a netlink socket: ") + strerror(error));
    }
    int size = 4 << 20;  // big dumps come faster in big pieces
    setsockopt(mnl_socket_get_fd(socket_), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  }
  ~Socket() { mnl_socket_close(socket_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Sends one request and hands every reply message to `on_message` until the dump ends
  // (or the single answer and its acknowledgement came). Throws NoSuchObject for ENOENT and
  // InconsistentDump when the ruleset changed during the dump.
  void Request(std::uint16_t type, bool dump, const std::function<void(nlmsghdr*)>& put_attributes,
               const std::function<void(const nlmsghdr*)>& on_message,
               std::uint8_t family = NFPROTO_INET) {
    alignas(nlmsghdr) char request[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* header = mnl_nlmsg_put_header(request);
    header->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
    header->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
    header->nlmsg_seq = ++seq_;
    auto* body = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
    body->nfgen_family = family;
    body->version = NFNETLINK_V0;
    body->res_id = 0;
    put_attributes(header);
    if (mnl_socket_sendto(socket_, header, header->nlmsg_len) < 0)
      throw RuntimeFailure(std::string("cannot ask nftables: ") + strerror(errno));
    std::vector<char> buffer(64 * 1024);
    bool inconsistent = false;
    while (true) {
      ssize_t length = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
      if (length < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS) throw InconsistentDump();
        throw RuntimeFailure(std::string("cannot read nftables: ") + strerror(errno));
      }
      int remaining = static_cast<int>(length);
      auto* reply = reinterpret_cast<nlmsghdr*>(buffer.data());
      for (; mnl_nlmsg_ok(reply, remaining); reply = mnl_nlmsg_next(reply, &remaining)) {
        if (reply->nlmsg_seq != seq_) continue;
        if (reply->nlmsg_flags & NLM_F_DUMP_INTR) inconsistent = true;
        if (reply->nlmsg_type == NLMSG_DONE) {
          if (inconsistent) throw InconsistentDump();
          return;
        }
        if (reply->nlmsg_type == NLMSG_ERROR) {
          auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(reply));
          if (error->error == 0) return;  // the acknowledgement after a single answer
          if (error->error == -ENOENT) throw NoSuchObject();
          if (error->error == -EINTR) throw InconsistentDump();
          throw RuntimeFailure(std::string("cannot read nftables: ") + strerror(-error->error));
        }
        on_message(reply);
      }
    }
  }

 private:
  mnl_socket* socket_;
  std::uint32_t seq_ = 0;
};

// libmnl's iteration macros are C (void*): the same walks, typed.
template <typename Visit>
void ForEachAttribute(const nlmsghdr* message, Visit visit) {
  const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(message));
  for (auto* attribute =
           static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(message, sizeof(nfgenmsg)));
       mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute))
    visit(attribute);
}

template <typename Visit>
void ForEachNested(const nlattr* nest, Visit visit) {
  const char* tail =
      static_cast<const char*>(mnl_attr_get_payload(nest)) + mnl_attr_get_payload_len(nest);
  for (auto* attribute = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
       mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute))
    visit(attribute);
}

// FNV-1a 64 over the layout's attributes.
struct Fingerprint {
  std::uint64_t hash = 1469598103934665603ull;
  void Add(const void* data, std::size_t length) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < length; ++i) {
      hash ^= bytes[i];
      hash *= 1099511628211ull;
    }
  }
  // Every attribute of a message but those that change without a change of layout (handles,
  // use counts, counters).
  void AddMessage(const nlmsghdr* message, std::initializer_list<int> skipped) {
    std::uint16_t type = message->nlmsg_type & 0xff;
    Add(&type, sizeof type);
    ForEachAttribute(message, [&](const nlattr* attribute) {
      int kind = mnl_attr_get_type(attribute);
      bool skip = false;
      for (int s : skipped) skip = skip || s == kind;
      if (!skip) Add(attribute, attribute->nla_len);
    });
  }
  std::string Text() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
  }
};

const nlattr* Find(const nlmsghdr* message, int type) {
  const nlattr* found = nullptr;
  ForEachAttribute(message, [&](const nlattr* attribute) {
    if (!found && mnl_attr_get_type(attribute) == type) found = attribute;
  });
  return found;
}

const nlattr* FindNested(const nlattr* nest, int type) {
  const nlattr* found = nullptr;
  ForEachNested(nest, [&](const nlattr* attribute) {
    if (!found && mnl_attr_get_type(attribute) == type) found = attribute;
  });
  return found;
}

std::string String(const nlattr* attribute) {
  if (!attribute || mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) < 0) return "";
  return mnl_attr_get_str(attribute);
}

std::uint32_t U32(const nlattr* attribute) {
  if (!attribute || mnl_attr_validate(attribute, MNL_TYPE_U32) < 0) return 0;
  return ntohl(mnl_attr_get_u32(attribute));
}

// The comment in a table's user data (libnftnl's TLV: type, length, value).
std::string TableComment(const nlmsghdr* message) {
  const nlattr* data = Find(message, NFTA_TABLE_USERDATA);
  if (!data) return "";
  const auto* bytes = static_cast<const unsigned char*>(mnl_attr_get_payload(data));
  std::size_t length = mnl_attr_get_payload_len(data);
  for (std::size_t at = 0; at + 2 <= length;) {
    unsigned type = bytes[at], size = bytes[at + 1];
    if (at + 2 + size > length) break;
    if (type == 0 /* NFTNL_UDATA_TABLE_COMMENT */ && size > 0)
      return std::string(reinterpret_cast<const char*>(bytes + at + 2),
                         strnlen(reinterpret_cast<const char*>(bytes + at + 2), size));
    at += 2 + size;
  }
  return "";
}

// The value inside NFTA_SET_ELEM_KEY / _KEY_END / _DATA (a nest holding NFTA_DATA_VALUE).
const nlattr* DataValue(const nlattr* nest) {
  return nest ? FindNested(nest, NFTA_DATA_VALUE) : nullptr;
}

void ReadCounter(const nlattr* expression, TrafficCounters& counters, bool& found) {
  if (String(FindNested(expression, NFTA_EXPR_NAME)) != "counter") return;
  const nlattr* data = FindNested(expression, NFTA_EXPR_DATA);
  if (!data) return;
  if (const nlattr* bytes = FindNested(data, NFTA_COUNTER_BYTES))
    counters.bytes = be64toh(mnl_attr_get_u64(bytes));
  if (const nlattr* packets = FindNested(data, NFTA_COUNTER_PACKETS))
    counters.packets = be64toh(mnl_attr_get_u64(packets));
  found = true;
}

struct KnownSet {
  std::string name;
  const nftlayout::SetSpec* spec;  // virtnat's declaration when the kernel's set matches it
};

KernelTable ReadOnce(Socket& socket, const std::string& table, const KernelReadOptions& options) {
  KernelTable result;
  Fingerprint fingerprint;
  auto put_table = [&](int attribute) {
    return
        [&, attribute](nlmsghdr* header) { mnl_attr_put_strz(header, attribute, table.c_str()); };
  };
  try {
    socket.Request(NFT_MSG_GETTABLE, false, put_table(NFTA_TABLE_NAME), [&](const nlmsghdr* m) {
      result.exists = true;
      result.comment = TableComment(m);
      fingerprint.AddMessage(m, {NFTA_TABLE_HANDLE, NFTA_TABLE_USE, NFTA_TABLE_OWNER});
    });
  } catch (const NoSuchObject&) {
    return KernelTable{};
  }
  // Chains cannot be dumped per table: every inet chain comes, ours are picked out.
  socket.Request(
      NFT_MSG_GETCHAIN, true, [](nlmsghdr*) {},
      [&](const nlmsghdr* m) {
        if (String(Find(m, NFTA_CHAIN_TABLE)) != table) return;
        fingerprint.AddMessage(m, {NFTA_CHAIN_HANDLE, NFTA_CHAIN_USE, NFTA_CHAIN_COUNTERS});
      });
  std::vector<KnownSet> sets;
  socket.Request(NFT_MSG_GETSET, true, put_table(NFTA_SET_TABLE), [&](const nlmsghdr* m) {
    // NFTA_SET_COUNT (20, kernels from 6.x on) is the number of elements.
    fingerprint.AddMessage(m, {NFTA_SET_HANDLE, 20});
    std::string name = String(Find(m, NFTA_SET_NAME));
    const nftlayout::SetSpec* spec = nftlayout::FindSet(name);
    if (spec && (U32(Find(m, NFTA_SET_KEY_TYPE)) != NftTypeId(spec->key) ||
                 U32(Find(m, NFTA_SET_KEY_LEN)) != NftKeyLength(spec->key)))
      spec = nullptr;  // not the set virtnat declares: its elements are not read
    if (spec) result.elements[name];
    sets.push_back({name, spec});
  });
  socket.Request(NFT_MSG_GETRULE, true, put_table(NFTA_RULE_TABLE), [&](const nlmsghdr* m) {
    fingerprint.AddMessage(m, {NFTA_RULE_HANDLE, NFTA_RULE_POSITION});
  });
  result.fingerprint = fingerprint.Text();
  if (!options.elements && !options.counters) return result;

  for (const auto& set : sets) {
    if (!set.spec) continue;
    if (!options.elements && !set.spec->counter) continue;
    auto& elements = result.elements[set.name];
    const nftlayout::SetSpec& spec = *set.spec;
    socket.Request(
        NFT_MSG_GETSETELEM, true,
        [&](nlmsghdr* header) {
          mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
          mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_SET, set.name.c_str());
        },
        [&](const nlmsghdr* m) {
          const nlattr* list = Find(m, NFTA_SET_ELEM_LIST_ELEMENTS);
          if (!list) return;
          ForEachNested(list, [&](const nlattr* item) {
            const nlattr *key = nullptr, *key_end = nullptr, *data = nullptr;
            TrafficCounters counters;
            bool counted = false;
            ForEachNested(item, [&](const nlattr* attribute) {
              switch (mnl_attr_get_type(attribute)) {
                case NFTA_SET_ELEM_KEY:
                  key = DataValue(attribute);
                  break;
                case NFTA_SET_ELEM_KEY_END:
                  key_end = DataValue(attribute);
                  break;
                case NFTA_SET_ELEM_DATA:
                  data = DataValue(attribute);
                  break;
                case NFTA_SET_ELEM_EXPR:
                  ReadCounter(attribute, counters, counted);
                  break;
                case NFTA_SET_ELEM_EXPRESSIONS:
                  ForEachNested(attribute, [&](const nlattr* expression) {
                    ReadCounter(expression, counters, counted);
                  });
                  break;
                default:
                  break;
              }
            });
            if (!key) return;
            std::string text =
                DecodeElement(spec, mnl_attr_get_payload(key), mnl_attr_get_payload_len(key),
                              key_end ? mnl_attr_get_payload(key_end) : nullptr,
                              key_end ? mnl_attr_get_payload_len(key_end) : 0,
                              data ? mnl_attr_get_payload(data) : nullptr,
                              data ? mnl_attr_get_payload_len(data) : 0);
            if (text.empty()) text = "(undecodable element)";
            if (counted && options.counters) result.counters[set.name + "|" + text] = counters;
            if (options.elements) elements.insert(std::move(text));
          });
        });
  }
  return result;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ListNftTables() {
  Socket socket;
  for (int attempt = 1;; ++attempt) {
    std::vector<std::pair<std::string, std::string>> tables;
    try {
      socket.Request(
          NFT_MSG_GETTABLE, true, [](nlmsghdr*) {},
          [&](const nlmsghdr* m) {
            int family = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(m))->nfgen_family;
            const char* name = family == NFPROTO_IPV4     ? "ip"
                               : family == NFPROTO_IPV6   ? "ip6"
                               : family == NFPROTO_INET   ? "inet"
                               : family == NFPROTO_ARP    ? "arp"
                               : family == NFPROTO_BRIDGE ? "bridge"
                               : family == NFPROTO_NETDEV ? "netdev"
                                                          : nullptr;
            if (name) tables.emplace_back(name, String(Find(m, NFTA_TABLE_NAME)));
          },
          NFPROTO_UNSPEC);
      return tables;
    } catch (const InconsistentDump&) {
      if (attempt >= kDumpRetries)
        throw RuntimeFailure("cannot list the nftables tables: nftables kept changing");
    }
  }
}

KernelTable ReadKernelTableNetlink(const std::string& table, KernelReadOptions options) {
  Socket socket;
  for (int attempt = 1;; ++attempt) {
    try {
      return ReadOnce(socket, table, options);
    } catch (const InconsistentDump&) {
      if (attempt >= kDumpRetries)
        throw RuntimeFailure("cannot read table inet " + table +
                             ": nftables kept changing during the listing");
    }
  }
}

}  // namespace virtnat
