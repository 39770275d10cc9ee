#include "backends/nftables/netlink_send.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace virtnat {
namespace {

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
  }
  ~Socket() { mnl_socket_close(socket_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return mnl_socket_get_fd(socket_); }
  mnl_socket* get() const { return socket_; }

 private:
  mnl_socket* socket_;
};

// "add element to set fwd_dnat of table inet virtnat": what a message of the batch does.
std::string Describe(const nlmsghdr* message) {
  const char* what = "change";
  int name_attribute = -1, table_attribute = -1;
  switch (message->nlmsg_type & 0xff) {
    case NFT_MSG_NEWTABLE:
      what = "create table";
      name_attribute = NFTA_TABLE_NAME;
      break;
    case NFT_MSG_DELTABLE:
      what = "delete table";
      name_attribute = NFTA_TABLE_NAME;
      break;
    case NFT_MSG_NEWCHAIN:
      what = "create chain";
      name_attribute = NFTA_CHAIN_NAME;
      table_attribute = NFTA_CHAIN_TABLE;
      break;
    case NFT_MSG_NEWRULE:
      what = "add a rule to chain";
      name_attribute = NFTA_RULE_CHAIN;
      table_attribute = NFTA_RULE_TABLE;
      break;
    case NFT_MSG_NEWSET:
      what = "create set";
      name_attribute = NFTA_SET_NAME;
      table_attribute = NFTA_SET_TABLE;
      break;
    case NFT_MSG_NEWSETELEM:
      what = "add elements to set";
      name_attribute = NFTA_SET_ELEM_LIST_SET;
      table_attribute = NFTA_SET_ELEM_LIST_TABLE;
      break;
    case NFT_MSG_DELSETELEM:
      what = "delete elements from set";
      name_attribute = NFTA_SET_ELEM_LIST_SET;
      table_attribute = NFTA_SET_ELEM_LIST_TABLE;
      break;
    default:
      break;
  }
  std::string name, table;
  const char* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(message));
  for (auto* attribute =
           static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(message, sizeof(nfgenmsg)));
       mnl_attr_ok(attribute, static_cast<int>(tail - reinterpret_cast<const char*>(attribute)));
       attribute = mnl_attr_next(attribute)) {
    int type = mnl_attr_get_type(attribute);
    if (type != name_attribute && type != table_attribute) continue;
    if (mnl_attr_validate(attribute, MNL_TYPE_NUL_STRING) < 0) continue;
    (type == name_attribute ? name : table) = mnl_attr_get_str(attribute);
  }
  std::string text = what;
  if (!name.empty()) text += " " + name;
  if (!table.empty()) text += " of table inet " + table;
  return text;
}

const nlmsghdr* FindMessage(std::string_view batch, std::uint32_t seq) {
  int remaining = static_cast<int>(batch.size());
  auto* message = reinterpret_cast<const nlmsghdr*>(batch.data());
  while (mnl_nlmsg_ok(message, remaining)) {
    if (message->nlmsg_seq == seq) return message;
    message = mnl_nlmsg_next(message, &remaining);
  }
  return nullptr;
}

// A batch begin or end message for the nftables subsystem.
void PutBatchMessage(std::string& out, std::uint16_t type,
                     std::optional<std::uint32_t> generation) {
  alignas(nlmsghdr) char buffer[64];
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = type;
  header->nlmsg_flags = NLM_F_REQUEST;
  auto* body = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  body->nfgen_family = AF_UNSPEC;
  body->version = NFNETLINK_V0;
  body->res_id = htons(NFNL_SUBSYS_NFTABLES);
  if (generation) mnl_attr_put_u32(header, NFNL_BATCH_GENID, htonl(*generation));
  out.append(buffer, NLMSG_ALIGN(header->nlmsg_len));
}

}  // namespace

std::string WrapNftBatch(std::string_view messages, std::optional<std::uint32_t> generation) {
  std::string batch;
  batch.reserve(messages.size() + 64);
  PutBatchMessage(batch, NFNL_MSG_BATCH_BEGIN, generation);
  batch.append(messages);
  PutBatchMessage(batch, NFNL_MSG_BATCH_END, std::nullopt);
  return batch;
}

void SendNftBatch(std::string_view batch) {
  // A debugging aid, like `nft --debug`: VIRTNAT_SAVE_BATCH=FILE keeps a copy of the batch
  // (bench/nlsend sends it again, to measure the kernel's own cost).
  if (const char* save = std::getenv("VIRTNAT_SAVE_BATCH"); save && *save) {
    if (FILE* file = std::fopen(save, "we")) {
      std::fwrite(batch.data(), 1, batch.size(), file);
      std::fclose(file);
    }
  }
  Socket socket;
  // The kernel takes a batch in one message of the socket's send buffer: make room for it
  // (FORCE passes the system's limit; virtnat runs as root).
  int size = static_cast<int>(batch.size()) + 4096;
  if (size > 212992 && setsockopt(socket.fd(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    setsockopt(socket.fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (mnl_socket_sendto(socket.get(), batch.data(), batch.size()) < 0)
    throw RuntimeFailure(std::string("cannot send the nftables transaction: ") + strerror(errno));
  // The kernel processes the whole batch inside sendmsg: any error is queued by now, and
  // success sends nothing (no message asks for an acknowledgement).
  alignas(nlmsghdr) char buffer[MNL_SOCKET_BUFFER_SIZE];
  std::string failure;
  bool moved = false;
  while (true) {
    ssize_t length = recv(socket.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (length < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // errors were lost: the batch failed anyway
        if (failure.empty()) failure = "the kernel refused the transaction";
        break;
      }
      throw RuntimeFailure(std::string("cannot read the kernel's answer: ") + strerror(errno));
    }
    int remaining = static_cast<int>(length);
    auto* reply = reinterpret_cast<nlmsghdr*>(buffer);
    for (; mnl_nlmsg_ok(reply, remaining); reply = mnl_nlmsg_next(reply, &remaining)) {
      if (reply->nlmsg_type != NLMSG_ERROR) continue;
      auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(reply));
      if (error->error == 0) continue;
      if (error->error == -ERESTART) {
        moved = true;
        continue;
      }
      if (!failure.empty()) continue;  // the first refusal is the reason
      failure = strerror(-error->error);
      if (const nlmsghdr* message = FindMessage(batch, error->msg.nlmsg_seq))
        failure += " (" + Describe(message) + ")";
    }
  }
  if (moved && failure.empty())
    throw GenerationMoved("the nftables ruleset changed meanwhile; nothing was applied");
  if (!failure.empty()) throw RuntimeFailure("nftables refused the transaction: " + failure);
}

}  // namespace virtnat

namespace virtnat {

bool NftTableExists(const std::string& table) {
  Socket socket;
  alignas(nlmsghdr) char request[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* header = mnl_nlmsg_put_header(request);
  header->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  header->nlmsg_seq = 1;
  auto* body = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  body->nfgen_family = NFPROTO_INET;
  body->version = NFNETLINK_V0;
  mnl_attr_put_strz(header, NFTA_TABLE_NAME, table.c_str());
  if (mnl_socket_sendto(socket.get(), header, header->nlmsg_len) < 0)
    throw RuntimeFailure(std::string("cannot ask nftables: ") + strerror(errno));
  alignas(nlmsghdr) char buffer[MNL_SOCKET_BUFFER_SIZE];
  bool exists = false;
  while (true) {
    ssize_t length = mnl_socket_recvfrom(socket.get(), buffer, sizeof buffer);
    if (length < 0) {
      if (errno == EINTR) continue;
      throw RuntimeFailure(std::string("cannot ask nftables: ") + strerror(errno));
    }
    int remaining = static_cast<int>(length);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(buffer); mnl_nlmsg_ok(reply, remaining);
         reply = mnl_nlmsg_next(reply, &remaining)) {
      if (reply->nlmsg_type != NLMSG_ERROR) {
        exists = true;
        continue;
      }
      int error = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(reply))->error;
      if (error == 0) return exists;
      if (error == -ENOENT) return false;
      throw RuntimeFailure(std::string("cannot ask nftables: ") + strerror(-error));
    }
  }
}

}  // namespace virtnat
