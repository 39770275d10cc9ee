// nfttrace.so: an LD_PRELOAD library for the phase breakdown of virtnat's commands and hook
// (bench only). It times every nftables transaction, whether libnftables runs it
// (nft_run_cmd_from_buffer) or it is a netlink batch sent with sendto/sendmsg (the kernel
// applies a batch inside that call), and appends one line per transaction to the file named by
// $NFTTRACE_FILE, plus a line when the library is loaded (before main) and one at exit (and,
// under bench/vnbench, the moment the process was spawned):
//   spawn T
//   load T
//   nft START END COMMAND_BYTES JSON(0|1) FIRST_WORDS_OF_THE_COMMAND
//   nl START END BATCH_BYTES
//   exit T
// Times are CLOCK_MONOTONIC nanoseconds. Nothing else is changed: the call goes on to the
// real function.
#include <dlfcn.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

struct nft_ctx;

namespace {

long long NowNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

// The trace file, taken from the environment when the library is loaded: the environment
// variables are then removed, so that programs virtnat runs (which inherit LD_PRELOAD otherwise)
// do not write into the trace of the process being measured.
std::string& TracePath() {
  static std::string path;
  return path;
}

void Append(const std::string& line) {
  if (TracePath().empty()) return;
  FILE* file = std::fopen(TracePath().c_str(), "a");
  if (!file) return;
  std::fputs(line.c_str(), file);
  std::fclose(file);
}

void AtExit() {
  Append("exit " + std::to_string(NowNs()) + "\n");
}

__attribute__((constructor)) void OnLoad() {
  if (const char* path = std::getenv("NFTTRACE_FILE")) TracePath() = path;
  if (const char* spawned = std::getenv("VNBENCH_SPAWN_NS"))
    Append(std::string("spawn ") + spawned + "\n");
  unsetenv("LD_PRELOAD");
  unsetenv("NFTTRACE_FILE");
  unsetenv("VNBENCH_SPAWN_NS");
  Append("load " + std::to_string(NowNs()) + "\n");
  std::atexit(AtExit);
}

}  // namespace

namespace {

// A netlink batch of nftables begins with NFNL_MSG_BATCH_BEGIN (16).
bool IsBatch(const void* data, std::size_t length) {
  if (length < sizeof(nlmsghdr)) return false;
  nlmsghdr header;
  std::memcpy(&header, data, sizeof header);
  return header.nlmsg_type == 16;
}

void LogBatch(long long start, long long end, std::size_t length) {
  Append("nl " + std::to_string(start) + " " + std::to_string(end) + " " + std::to_string(length) +
         "\n");
}

}  // namespace

extern "C" {

using SendtoFunction = ssize_t (*)(int, const void*, size_t, int, const sockaddr*, socklen_t);
using SendmsgFunction = ssize_t (*)(int, const msghdr*, int);

ssize_t sendto(int fd, const void* data, size_t length, int flags, const sockaddr* to,
               socklen_t to_length) {
  static auto real = reinterpret_cast<SendtoFunction>(dlsym(RTLD_NEXT, "sendto"));
  if (!IsBatch(data, length)) return real(fd, data, length, flags, to, to_length);
  long long start = NowNs();
  ssize_t rc = real(fd, data, length, flags, to, to_length);
  LogBatch(start, NowNs(), length);
  return rc;
}

ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  static auto real = reinterpret_cast<SendmsgFunction>(dlsym(RTLD_NEXT, "sendmsg"));
  if (!message || message->msg_iovlen < 1 ||
      !IsBatch(message->msg_iov[0].iov_base, message->msg_iov[0].iov_len))
    return real(fd, message, flags);
  std::size_t length = 0;
  for (std::size_t i = 0; i < message->msg_iovlen; ++i) length += message->msg_iov[i].iov_len;
  long long start = NowNs();
  ssize_t rc = real(fd, message, flags);
  LogBatch(start, NowNs(), length);
  return rc;
}

using RunFunction = int (*)(nft_ctx*, const char*);
using FlagsFunction = unsigned int (*)(nft_ctx*);

int nft_run_cmd_from_buffer(nft_ctx* context, const char* buffer) {
  static auto real = reinterpret_cast<RunFunction>(dlsym(RTLD_NEXT, "nft_run_cmd_from_buffer"));
  static auto flags = reinterpret_cast<FlagsFunction>(dlsym(RTLD_NEXT, "nft_ctx_output_get_flags"));
  long long start = NowNs();
  int rc = real(context, buffer);
  long long end = NowNs();
  bool json = flags && (flags(context) & (1u << 4));  // NFT_CTX_OUTPUT_JSON
  std::string words(buffer, strnlen(buffer, 60));
  for (char& c : words)
    if (c == '\n' || c == '\t') c = ' ';
  Append("nft " + std::to_string(start) + " " + std::to_string(end) + " " +
         std::to_string(std::strlen(buffer)) + " " + (json ? "1" : "0") + " " + words + "\n");
  return rc;
}
}
