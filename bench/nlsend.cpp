// nlsend: the kernel's own cost of a transaction, without any program around it that parses,
// plans or renders: a minimal libmnl sender of a ready netlink batch.
//   nlsend FILE               FILE holds a whole batch (virtnat's VIRTNAT_SAVE_BATCH copy)
//   nlsend --host FILE start|stop
//                             FILE is a hook file of virtnat's state (hosts/HOST.nft): its
//                             start or stop messages, wrapped in a batch as the hook does
// Reads the file, sends it in one sendmsg, exits 1 if the kernel refuses it. libmnl and libc
// only, like virtnat-hook.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

bool ReadAll(const char* path, std::string& out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat info {};
  if (fstat(fd, &info) == 0) out.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[65536];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<std::size_t>(got));
  close(fd);
  return got == 0;
}

void PutBatchMessage(std::string& out, std::uint16_t type) {
  alignas(nlmsghdr) char buffer[64];
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = type;
  header->nlmsg_flags = NLM_F_REQUEST;
  auto* body = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  body->nfgen_family = AF_UNSPEC;
  body->version = NFNETLINK_V0;
  body->res_id = htons(NFNL_SUBSYS_NFTABLES);
  out.append(buffer, NLMSG_ALIGN(header->nlmsg_len));
}

// The start (0) or stop (1) messages of a hook file: "virtnat host batch 1\n", then each part
// as a 32-bit length and its bytes (backends/nftables/host_batches.cpp).
bool HostPart(const std::string& file, int part, std::string& out) {
  const std::string magic = "virtnat host batch 1\n";
  if (file.compare(0, magic.size(), magic) != 0) return false;
  std::size_t at = magic.size();
  for (int i = 0; i <= part; ++i) {
    std::uint32_t length = 0;
    if (at + 4 > file.size()) return false;
    std::memcpy(&length, file.data() + at, 4);
    at += 4;
    if (at + length > file.size()) return false;
    if (i == part) out.assign(file, at, length);
    at += length;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string batch;
  if (argc == 2) {
    if (!ReadAll(argv[1], batch)) return std::perror(argv[1]), 2;
  } else if (argc == 4 && std::strcmp(argv[1], "--host") == 0) {
    std::string file, messages;
    int part = std::strcmp(argv[3], "stop") == 0 ? 1 : 0;
    if (!ReadAll(argv[2], file) || !HostPart(file, part, messages)) {
      std::fprintf(stderr, "nlsend: %s: not a hook file\n", argv[2]);
      return 2;
    }
    PutBatchMessage(batch, NFNL_MSG_BATCH_BEGIN);
    batch += messages;
    PutBatchMessage(batch, NFNL_MSG_BATCH_END);
  } else {
    std::fprintf(stderr, "usage: nlsend FILE | nlsend --host FILE start|stop\n");
    return 2;
  }
  mnl_socket* socket = mnl_socket_open(NETLINK_NETFILTER);
  if (!socket || mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0)
    return std::perror("netlink"), 1;
  int size = static_cast<int>(batch.size()) + 4096;
  setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
  if (mnl_socket_sendto(socket, batch.data(), batch.size()) < 0) return std::perror("sendto"), 1;
  // The kernel handled the batch inside sendmsg: errors, if any, are queued now.
  alignas(nlmsghdr) char buffer[MNL_SOCKET_BUFFER_SIZE];
  int status = 0;
  ssize_t got;
  while ((got = recv(mnl_socket_get_fd(socket), buffer, sizeof buffer, MSG_DONTWAIT)) > 0) {
    int remaining = static_cast<int>(got);
    for (auto* reply = reinterpret_cast<nlmsghdr*>(buffer); mnl_nlmsg_ok(reply, remaining);
         reply = mnl_nlmsg_next(reply, &remaining)) {
      if (reply->nlmsg_type != NLMSG_ERROR) continue;
      int error = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(reply))->error;
      if (error == 0) continue;
      std::fprintf(stderr, "nlsend: %s\n", std::strerror(-error));
      status = 1;
    }
  }
  mnl_socket_close(socket);
  return status;
}
