// vnpeer: a tiny TCP/UDP test peer for the virtnat namespace lab.
//
//   vnpeer serve --name NAME [--tcp PORTLIST] [--udp PORTLIST] [--bind ADDR]
//       Serves forever from one process (a poll loop). PORTLIST is like 22,80,8000-8002.
//       TCP: every connection gets "NAME PORT PEERADDR\n", then the server closes it.
//       UDP: every datagram is answered with the same line, sent back to its sender
//            from the address it was sent to.
//       PORT is the local port that was hit, PEERADDR the client's source address as
//       the server sees it (this is what proves DNAT and masquerade in the lab).
//       Once every socket is bound it prints "ready NAME" on stdout.
//
//   vnpeer connect (--tcp|--udp) ADDR PORT [--timeout-ms 1500] [--bind ADDR] [--sport PORT]
//       Prints the reply line and exits 0. On failure prints exactly one of
//       "refused", "timeout", "unreachable" or "error: ..." and exits 1.
//       --bind and --sport pick the source address and port.
//       For UDP an ICMP port unreachable counts as refused (connected socket).
//
// Usage errors exit 2. No dependencies beyond libc and the standard library.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t max_ports = 4096;

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr,
               "vnpeer: %s\n"
               "usage: vnpeer serve --name NAME [--tcp PORTLIST] [--udp PORTLIST] [--bind ADDR]\n"
               "       vnpeer connect (--tcp|--udp) ADDR PORT [--timeout-ms MS] [--bind ADDR] "
               "[--sport PORT]\n",
               why.c_str());
  std::exit(2);
}

// A numeric IPv4 or IPv6 address with an optional port.
struct Endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

std::optional<Endpoint> parse_address(const std::string& text, std::uint16_t port) {
  Endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    ep.length = sizeof(sockaddr_in);
    return ep;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    ep.length = sizeof(sockaddr_in6);
    return ep;
  }
  return std::nullopt;
}

std::string address_text(const sockaddr_storage& storage) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &v4->sin_addr, buffer, sizeof buffer);
  } else if (storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], buffer, sizeof buffer);
    } else {
      inet_ntop(AF_INET6, &v6->sin6_addr, buffer, sizeof buffer);
    }
  } else {
    return "?";
  }
  return buffer;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// "22,80,8000-8002" -> {22, 80, 8000, 8001, 8002}
std::vector<std::uint16_t> parse_port_list(const std::string& text) {
  std::vector<std::uint16_t> ports;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string_view item(text.data() + start, comma - start);
    std::size_t dash = item.find('-');
    auto first = parse_port(item.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : parse_port(item.substr(dash + 1));
    if (!first || !last || *last < *first) usage_error("bad port list: " + text);
    for (unsigned p = *first; p <= *last; ++p) {
      ports.push_back(static_cast<std::uint16_t>(p));
      if (ports.size() > max_ports) usage_error("too many ports: " + text);
    }
    start = comma + 1;
  }
  return ports;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// ---------------------------------------------------------------- serve

struct Listener {
  int fd;
  bool tcp;
  std::uint16_t port;
};

int open_listener(const Endpoint& bind_to, bool tcp, std::uint16_t port, std::string& error) {
  Endpoint ep = bind_to;
  if (ep.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&ep.storage)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&ep.storage)->sin6_port = htons(port);
  }
  int fd = socket(ep.family(), (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = "socket: " + errno_text(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ep.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (!tcp) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  } else if (!tcp) {
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  }
  if (bind(fd, ep.addr(), ep.length) != 0) {
    error = "bind " + std::string(tcp ? "tcp" : "udp") + " port " + std::to_string(port) + ": " +
            errno_text(errno);
    close(fd);
    return -1;
  }
  if (tcp && listen(fd, 128) != 0) {
    error = "listen port " + std::to_string(port) + ": " + errno_text(errno);
    close(fd);
    return -1;
  }
  return fd;
}

void serve_tcp(const Listener& l, const std::string& name) {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: nothing more queued (or a transient error)
    std::string line = name + " " + std::to_string(l.port) + " " + address_text(peer) + "\n";
    // A fresh socket has an empty send buffer, so this small write does not block.
    ssize_t sent = send(fd, line.data(), line.size(), MSG_NOSIGNAL);
    (void)sent;
    shutdown(fd, SHUT_WR);
    close(fd);
  }
}

void serve_udp(const Listener& l, const std::string& name) {
  for (;;) {
    char data[2048];
    sockaddr_storage peer{};
    alignas(cmsghdr) char control[256];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof peer;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(l.fd, &msg, 0) < 0) return;  // EAGAIN, or an ICMP error queued on the socket

    // Reply from the address the datagram was sent to (matters on multi-address hosts).
    alignas(cmsghdr) char reply_control[256];
    std::size_t reply_control_len = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        in_pktinfo out{};
        out.ipi_spec_dst = info.ipi_addr;
        auto* rc = reinterpret_cast<cmsghdr*>(reply_control);
        rc->cmsg_level = IPPROTO_IP;
        rc->cmsg_type = IP_PKTINFO;
        rc->cmsg_len = CMSG_LEN(sizeof out);
        std::memcpy(CMSG_DATA(rc), &out, sizeof out);
        reply_control_len = CMSG_SPACE(sizeof out);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        in6_pktinfo out{};
        out.ipi6_addr = info.ipi6_addr;
        auto* rc = reinterpret_cast<cmsghdr*>(reply_control);
        rc->cmsg_level = IPPROTO_IPV6;
        rc->cmsg_type = IPV6_PKTINFO;
        rc->cmsg_len = CMSG_LEN(sizeof out);
        std::memcpy(CMSG_DATA(rc), &out, sizeof out);
        reply_control_len = CMSG_SPACE(sizeof out);
      }
    }
    std::string line = name + " " + std::to_string(l.port) + " " + address_text(peer) + "\n";
    iovec out_iov{line.data(), line.size()};
    msghdr out{};
    out.msg_name = &peer;
    out.msg_namelen = msg.msg_namelen;
    out.msg_iov = &out_iov;
    out.msg_iovlen = 1;
    if (reply_control_len > 0) {
      out.msg_control = reply_control;
      out.msg_controllen = reply_control_len;
    }
    ssize_t sent = sendmsg(l.fd, &out, MSG_NOSIGNAL);
    (void)sent;
  }
}

int run_serve(const std::vector<std::string>& args) {
  std::string name;
  std::vector<std::uint16_t> tcp_ports, udp_ports;
  std::string bind_text = "0.0.0.0";
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) usage_error(args[i] + " needs a value");
      return args[++i];
    };
    if (args[i] == "--name") {
      name = value();
    } else if (args[i] == "--tcp") {
      auto ports = parse_port_list(value());
      tcp_ports.insert(tcp_ports.end(), ports.begin(), ports.end());
    } else if (args[i] == "--udp") {
      auto ports = parse_port_list(value());
      udp_ports.insert(udp_ports.end(), ports.begin(), ports.end());
    } else if (args[i] == "--bind") {
      bind_text = value();
    } else {
      usage_error("serve: unknown argument " + args[i]);
    }
  }
  if (name.empty() || name.find_first_of(" \n") != std::string::npos) {
    usage_error("serve needs --name NAME (no spaces)");
  }
  if (tcp_ports.empty() && udp_ports.empty()) usage_error("serve needs --tcp or --udp ports");
  auto bind_to = parse_address(bind_text, 0);
  if (!bind_to) usage_error("bad --bind address: " + bind_text);

  std::signal(SIGPIPE, SIG_IGN);
  std::vector<Listener> listeners;
  std::string error;
  for (bool tcp : {true, false}) {
    for (std::uint16_t port : tcp ? tcp_ports : udp_ports) {
      int fd = open_listener(*bind_to, tcp, port, error);
      if (fd < 0) {
        std::fprintf(stderr, "vnpeer: error: %s\n", error.c_str());
        return 1;
      }
      listeners.push_back({fd, tcp, port});
    }
  }
  std::printf("ready %s\n", name.c_str());
  std::fflush(stdout);

  std::vector<pollfd> fds;
  for (const auto& l : listeners) fds.push_back({l.fd, POLLIN, 0});
  for (;;) {
    int n = poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "vnpeer: error: poll: %s\n", errno_text(errno).c_str());
      return 1;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (listeners[i].tcp) {
        serve_tcp(listeners[i], name);
      } else {
        serve_udp(listeners[i], name);
      }
    }
  }
}

// ---------------------------------------------------------------- connect

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Maps a socket error to the words the lab tests look for.
int report_error(int err) {
  switch (err) {
    case ECONNREFUSED:
      std::printf("refused\n");
      break;
    case EHOSTUNREACH:
    case EACCES:  // ICMPv6 "administratively prohibited" (IPv4's is EHOSTUNREACH)
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
      std::printf("unreachable\n");
      break;
    case ETIMEDOUT:
      std::printf("timeout\n");
      break;
    default:
      std::printf("error: %s\n", errno_text(err).c_str());
      break;
  }
  return 1;
}

int report_timeout() {
  std::printf("timeout\n");
  return 1;
}

int pending_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

// Prints the reply up to and including the first newline (adds one if missing).
int print_reply(const std::string& reply) {
  std::string line = reply.substr(0, reply.find('\n'));
  std::printf("%s\n", line.c_str());
  return 0;
}

int connect_tcp(int fd, const Endpoint& target, Clock::time_point deadline) {
  if (connect(fd, target.addr(), target.length) != 0 && errno != EINPROGRESS) {
    return report_error(errno);
  }
  pollfd p{fd, POLLOUT, 0};
  for (;;) {
    int n = poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return report_error(errno);
    if (n == 0) return report_timeout();
    break;
  }
  if (int err = pending_error(fd); err != 0) return report_error(err);

  std::string reply;
  p = {fd, POLLIN, 0};
  for (;;) {
    int n = poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return report_error(errno);
    if (n == 0) return reply.empty() ? report_timeout() : print_reply(reply);
    char buffer[1024];
    ssize_t got = recv(fd, buffer, sizeof buffer, 0);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (!reply.empty()) return print_reply(reply);
      return report_error(errno);
    }
    if (got == 0) {
      if (reply.empty()) {
        std::printf("error: connection closed without a reply\n");
        return 1;
      }
      return print_reply(reply);
    }
    reply.append(buffer, static_cast<std::size_t>(got));
    if (reply.find('\n') != std::string::npos) return print_reply(reply);
  }
}

int connect_udp(int fd, const Endpoint& target, Clock::time_point deadline, int timeout_ms) {
  if (connect(fd, target.addr(), target.length) != 0) return report_error(errno);
  const std::string probe = "vnpeer\n";
  // Send up to three times within the timeout, in case a datagram waited on neighbour
  // resolution; the first answer wins.
  const int resend_every = timeout_ms / 3 > 100 ? timeout_ms / 3 : 100;
  auto next_send = Clock::now();
  int sends = 0;
  for (;;) {
    if (sends < 3 && Clock::now() >= next_send) {
      if (send(fd, probe.data(), probe.size(), MSG_NOSIGNAL) < 0) {
        if (errno != EAGAIN) return report_error(errno);
      }
      ++sends;
      next_send = Clock::now() + std::chrono::milliseconds(resend_every);
    }
    int wait = remaining_ms(deadline);
    if (wait == 0) return report_timeout();
    if (sends < 3) {
      int to_next = remaining_ms(next_send);
      if (to_next < wait) wait = to_next;
    }
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, wait);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return report_error(errno);
    if (n == 0) continue;
    char buffer[2048];
    ssize_t got = recv(fd, buffer, sizeof buffer, 0);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return report_error(errno);  // ECONNREFUSED from an ICMP port unreachable
    }
    return print_reply(std::string(buffer, static_cast<std::size_t>(got)));
  }
}

int run_connect(const std::vector<std::string>& args) {
  std::optional<bool> tcp;
  std::vector<std::string> positional;
  int timeout_ms = 1500;
  std::string bind_text;
  std::uint16_t source_port = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--tcp") {
      tcp = true;
    } else if (args[i] == "--udp") {
      tcp = false;
    } else if (args[i] == "--timeout-ms" || args[i] == "--bind" || args[i] == "--sport") {
      if (i + 1 >= args.size()) usage_error(args[i] + " needs a value");
      if (args[i] == "--bind") {
        bind_text = args[++i];
      } else if (args[i] == "--sport") {
        auto p = parse_port(args[++i]);
        if (!p) usage_error("bad --sport: " + args[i]);
        source_port = *p;
      } else {
        const std::string& v = args[++i];
        char* end = nullptr;
        long ms = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || ms < 1 || ms > 600000)
          usage_error("bad --timeout-ms: " + v);
        timeout_ms = static_cast<int>(ms);
      }
    } else if (args[i].size() > 1 && args[i][0] == '-' && args[i][1] == '-') {
      usage_error("connect: unknown option " + args[i]);
    } else {
      positional.push_back(args[i]);
    }
  }
  if (!tcp) usage_error("connect needs --tcp or --udp");
  if (positional.size() != 2) usage_error("connect needs ADDR PORT");
  auto port = parse_port(positional[1]);
  if (!port) usage_error("bad port: " + positional[1]);
  auto target = parse_address(positional[0], *port);
  if (!target) usage_error("bad address: " + positional[0]);

  std::signal(SIGPIPE, SIG_IGN);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int fd =
      socket(target->family(), (*tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return report_error(errno);
  if (!bind_text.empty() || source_port != 0) {
    if (bind_text.empty()) bind_text = target->family() == AF_INET ? "0.0.0.0" : "::";
    auto source = parse_address(bind_text, source_port);
    if (!source) usage_error("bad --bind address: " + bind_text);
    if (source->family() != target->family()) usage_error("--bind and ADDR differ in family");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, source->addr(), source->length) != 0) {
      std::printf("error: bind %s: %s\n", bind_text.c_str(), errno_text(errno).c_str());
      close(fd);
      return 1;
    }
  }
  int rc =
      *tcp ? connect_tcp(fd, *target, deadline) : connect_udp(fd, *target, deadline, timeout_ms);
  close(fd);
  std::fflush(stdout);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf(
        "usage: vnpeer serve --name NAME [--tcp PORTLIST] [--udp PORTLIST] [--bind ADDR]\n"
        "       vnpeer connect (--tcp|--udp) ADDR PORT [--timeout-ms MS] [--bind ADDR] [--sport "
        "PORT]\n"
        "PORTLIST is like 22,80,8000-8002. serve answers \"NAME PORT PEERADDR\".\n"
        "connect prints the answer (exit 0) or refused|timeout|unreachable|error: ... (exit 1).\n");
    return args.empty() ? 2 : 0;
  }
  std::string mode = args[0];
  args.erase(args.begin());
  if (mode == "serve") return run_serve(args);
  if (mode == "connect") return run_connect(args);
  usage_error("unknown mode " + mode);
}
