#include "backends/nftables/ruleset_generation.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace virtnat {

std::optional<std::uint32_t> ReadRulesetGeneration() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    nfgenmsg body;
  } request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = 1;
  request.body.nfgen_family = AF_UNSPEC;
  request.body.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  std::optional<std::uint32_t> generation;
  if (sendto(fd, &request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) == static_cast<ssize_t>(sizeof request)) {
    alignas(nlmsghdr) char buffer[1024];
    ssize_t length = recv(fd, buffer, sizeof buffer, 0);
    if (length > 0) {
      auto* reply = reinterpret_cast<nlmsghdr*>(buffer);
      if (NLMSG_OK(reply, static_cast<unsigned>(length)) &&
          reply->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
        int remaining = static_cast<int>(reply->nlmsg_len - NLMSG_LENGTH(sizeof(nfgenmsg)));
        auto* attribute = reinterpret_cast<nlattr*>(static_cast<char*>(NLMSG_DATA(reply)) +
                                                    NLMSG_ALIGN(sizeof(nfgenmsg)));
        while (remaining >= static_cast<int>(sizeof(nlattr)) &&
               attribute->nla_len >= sizeof(nlattr) &&
               attribute->nla_len <= static_cast<unsigned>(remaining)) {
          if ((attribute->nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID &&
              attribute->nla_len >= NLA_HDRLEN + sizeof(std::uint32_t)) {
            std::uint32_t value;
            std::memcpy(&value, reinterpret_cast<char*>(attribute) + NLA_HDRLEN, sizeof value);
            generation = ntohl(value);
            break;
          }
          int step = NLA_ALIGN(attribute->nla_len);
          remaining -= step;
          attribute = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(attribute) + step);
        }
      }
    }
  }
  close(fd);
  return generation;
}

}  // namespace virtnat
