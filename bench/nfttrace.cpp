// nfttrace.so: an LD_PRELOAD library for the phase breakdown of `virtnat apply` (bench only).
// It wraps libnftables' nft_run_cmd_from_buffer and appends one line per call to the file
// named by $NFTTRACE_FILE, plus a line when the library is loaded (before main) and one at
// exit (and, under bench/vnbench, the moment the process was spawned):
//   spawn T
//   load T
//   nft START END COMMAND_BYTES JSON(0|1) FIRST_WORDS_OF_THE_COMMAND
//   exit T
// Times are CLOCK_MONOTONIC nanoseconds. Nothing else is changed: the call goes on to the
// real function.
#include <dlfcn.h>

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

void Append(const std::string& line) {
  const char* path = std::getenv("NFTTRACE_FILE");
  if (!path || !*path) return;
  FILE* file = std::fopen(path, "a");
  if (!file) return;
  std::fputs(line.c_str(), file);
  std::fclose(file);
}

void AtExit() {
  Append("exit " + std::to_string(NowNs()) + "\n");
}

__attribute__((constructor)) void OnLoad() {
  if (const char* spawned = std::getenv("VNBENCH_SPAWN_NS"))
    Append(std::string("spawn ") + spawned + "\n");
  Append("load " + std::to_string(NowNs()) + "\n");
  std::atexit(AtExit);
}

}  // namespace

extern "C" {

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
