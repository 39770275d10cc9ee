// connrate: new TCP connections per second, for the data-plane benchmark.
//
//   connrate serve --port P [--bind ADDR] [--threads K] [--seconds T]
//       K listeners on ADDR:P (SO_REUSEPORT, default 2). Every accepted connection gets one
//       byte, then is closed. Prints "ready" once listening; exits by itself after T
//       seconds (default 60, at most 600).
//   connrate client --connect ADDR --port P [--parallel C] [--seconds T] [--timeout-ms MS]
//       C threads (default 8), each a loop of: connect, read the server's byte, close with
//       SO_LINGER 0 (an RST: no TIME_WAIT, so client ports never run out), for T seconds
//       (default 3, at most 60). A connection counts when its byte arrived.
//       Prints: connections=N failures=F seconds=S rate=R median_us=M p99_us=Q
//       (median and p99 of the time from connect() to the byte, over all connections).
//       Exits 1 when no connection succeeded.
//
// Only libc and the standard library. Only the given address is ever contacted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "connrate: %s\n", why.c_str());
  std::exit(2);
}

sockaddr_in Address(const std::string& text, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, text.c_str(), &address.sin_addr) != 1) Die("not an IPv4 address: " + text);
  return address;
}

struct Args {
  std::string mode, bind = "0.0.0.0", connect;
  int port = 0, threads = 2, parallel = 8, timeout_ms = 1000;
  double seconds = -1;
};

Args Parse(int argc, char** argv) {
  if (argc < 2) Die("usage: connrate serve|client [options] (see the source's head)");
  Args args;
  args.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Die(flag + " needs a value");
    std::string value = argv[++i];
    if (flag == "--port")
      args.port = std::atoi(value.c_str());
    else if (flag == "--bind")
      args.bind = value;
    else if (flag == "--connect")
      args.connect = value;
    else if (flag == "--threads")
      args.threads = std::atoi(value.c_str());
    else if (flag == "--parallel")
      args.parallel = std::atoi(value.c_str());
    else if (flag == "--seconds")
      args.seconds = std::atof(value.c_str());
    else if (flag == "--timeout-ms")
      args.timeout_ms = std::atoi(value.c_str());
    else
      Die("unknown option " + flag);
  }
  if (args.port < 1 || args.port > 65535) Die("--port must be 1..65535");
  if (args.threads < 1 || args.threads > 64) Die("--threads must be 1..64");
  if (args.parallel < 1 || args.parallel > 256) Die("--parallel must be 1..256");
  if (args.timeout_ms < 10 || args.timeout_ms > 10000) Die("--timeout-ms must be 10..10000");
  return args;
}

int Serve(const Args& args) {
  double seconds = args.seconds < 0 ? 60 : args.seconds;
  if (seconds <= 0 || seconds > 600) Die("--seconds must be 0..600 for serve");
  sockaddr_in address = Address(args.bind, args.port);
  std::vector<int> listeners;
  for (int i = 0; i < args.threads; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      Die("bind: " + std::string(std::strerror(errno)));
    if (listen(fd, 4096) != 0) Die("listen: " + std::string(std::strerror(errno)));
    listeners.push_back(fd);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int fd : listeners)
    threads.emplace_back([fd, deadline] {
      while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        int client = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        char byte = 'x';
        (void)!write(client, &byte, 1);
        close(client);
      }
    });
  for (auto& thread : threads) thread.join();
  return 0;
}

int Client(const Args& args) {
  double seconds = args.seconds < 0 ? 3 : args.seconds;
  if (seconds <= 0 || seconds > 60) Die("--seconds must be 0..60 for client");
  if (args.connect.empty()) Die("client needs --connect ADDR");
  sockaddr_in address = Address(args.connect, args.port);
  std::atomic<long> failures{0};
  std::vector<std::vector<long>> latencies(args.parallel);
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  timeval timeout{args.timeout_ms / 1000, (args.timeout_ms % 1000) * 1000};
  std::vector<std::thread> threads;
  for (int t = 0; t < args.parallel; ++t)
    threads.emplace_back([&, t] {
      auto& mine = latencies[t];
      mine.reserve(1 << 16);
      while (Clock::now() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          ++failures;
          continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto begin = Clock::now();
        bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
        char byte = 0;
        ok = ok && read(fd, &byte, 1) == 1;
        auto end = Clock::now();
        linger hard{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        close(fd);
        if (ok && end <= deadline)
          mine.push_back(
              std::chrono::duration_cast<std::chrono::microseconds>(end - begin).count());
        else if (!ok)
          ++failures;
      }
    });
  for (auto& thread : threads) thread.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<long> all;
  for (const auto& mine : latencies) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  long median = all.empty() ? 0 : all[all.size() / 2];
  long p99 = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
  std::printf("connections=%zu failures=%ld seconds=%.3f rate=%.0f median_us=%ld p99_us=%ld\n",
              all.size(), failures.load(), elapsed, static_cast<double>(all.size()) / elapsed,
              median, p99);
  return all.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  if (args.mode == "serve") return Serve(args);
  if (args.mode == "client") return Client(args);
  Die("the mode is serve or client");
}
