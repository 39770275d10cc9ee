// vnbench: times whole processes, from posix_spawn to exit, inside network namespaces it
// creates itself (so nothing outside them is ever touched, and nothing is left behind: an
// anonymous namespace disappears with its last process).
//
//   vnbench [OPTIONS] -- CMD [ARG...] [--- CMD2 [ARG...]]...
//
// One "run" executes every command in order; each command gets its own statistics.
//   --runs N            timed runs (required, 1..100000)
//   --warmup N          untimed runs first (default 0)
//   --max-seconds S     stop starting new runs after S seconds (default 300); at least
//                       --min-runs are still made (default 1)
//   --netns MODE        each: a new anonymous namespace before every run (and warm-up);
//                       once: one new namespace for the whole benchmark; none (default):
//                       stay where vnbench was started (e.g. under `ip netns exec`)
//   --setup SHELLCMD    run once, untimed, after the namespace of `once` is made (repeatable)
//   --pre SHELLCMD      run untimed before every run, inside its namespace (repeatable)
//   --stdin FILE        the commands' standard input (default /dev/null)
//   --label TEXT        names the commands in the output: label, label.2, label.3 ...
//   --raw FILE          append every sample: label run wall_ns maxrss_kb
//   --env KEY=VALUE     set in the environment of the timed commands only (repeatable)
//   --lo                bring lo up in every new namespace
// The commands' stdout goes to /dev/null and their stderr to a temporary file, shown when
// a command fails; a failing command (exit status != 0) stops vnbench with status 1.
//
// Output, one line per command:
//   label=L n=N median_ms=.. p99_ms=.. min_ms=.. mean_ms=.. max_ms=.. rss_kb=.. rss_kb_max=..
// (rss_kb: median of the children's peak resident set size, from wait4's rusage.)
//
// Every child gets VNBENCH_SPAWN_NS (CLOCK_MONOTONIC ns just before posix_spawn).
// Only libc and the standard library; runs as root (unshare needs CAP_SYS_ADMIN).
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

extern char** environ;

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "vnbench: %s\n", why.c_str());
  std::exit(2);
}

double NowSeconds() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

long long NowNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

struct Sample {
  long long wall_ns = 0;
  long maxrss_kb = 0;
};

struct Options {
  int runs = 0, warmup = 0, min_runs = 1;
  double max_seconds = 300;
  std::string netns = "none";
  std::vector<std::string> setup, pre;
  std::string stdin_file = "/dev/null";
  std::string label = "cmd";
  std::string raw;
  std::vector<std::string> env;
  bool lo = false;
  std::vector<std::vector<std::string>> commands;
};

void BringLoUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die(std::string("socket: ") + std::strerror(errno));
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &request) == 0) {
    request.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) Die("cannot bring lo up");
  }
  close(fd);
}

void NewNamespace(const Options& options) {
  if (unshare(CLONE_NEWNET) != 0)
    Die(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) + " (run as root)");
  if (options.lo) BringLoUp();
}

// Spawns argv with stdin from a file, stdout to /dev/null, stderr to `err_fd`; waits.
int Spawn(const std::vector<std::string>& args, const std::string& stdin_file, int err_fd,
          Sample* sample, const std::vector<std::string>& extra_env = {}) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  if (err_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  else
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  // The extra variables come first, so they win over inherited ones of the same name.
  std::vector<std::string> env_strings = extra_env;
  env_strings.emplace_back(64, '\0');  // VNBENCH_SPAWN_NS=..., filled in below
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  long long start = NowNs();
  // Tells a traced child (bench/nfttrace.cpp) when it was spawned, for the phase breakdown.
  std::snprintf(env_strings.back().data(), env_strings.back().size(), "VNBENCH_SPAWN_NS=%lld",
                start);
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) Die("cannot run " + args[0] + ": " + std::strerror(rc));
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0)
    if (errno != EINTR) Die(std::string("wait4: ") + std::strerror(errno));
  long long end = NowNs();
  if (sample) {
    sample->wall_ns = end - start;
    sample->maxrss_kb = usage.ru_maxrss;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void ShowErrors(int fd) {
  lseek(fd, 0, SEEK_SET);
  char buffer[4096];
  ssize_t got = read(fd, buffer, sizeof buffer - 1);
  if (got > 0) {
    buffer[got] = 0;
    std::fprintf(stderr, "%s", buffer);
  }
}

void RunShell(const std::string& command, const char* what) {
  char name[] = "/tmp/vnbench-err.XXXXXX";
  int fd = mkstemp(name);
  if (fd < 0) Die("mkstemp failed");
  unlink(name);
  int rc = Spawn({"/bin/sh", "-c", command}, "/dev/null", fd, nullptr);
  if (rc != 0) {
    std::fprintf(stderr, "vnbench: %s command failed (exit %d): %s\n", what, rc, command.c_str());
    ShowErrors(fd);
    std::exit(1);
  }
  close(fd);
}

int RunCommand(const Options& options, std::size_t index, Sample* sample) {
  char name[] = "/tmp/vnbench-err.XXXXXX";
  int fd = mkstemp(name);
  if (fd < 0) Die("mkstemp failed");
  unlink(name);
  int rc = Spawn(options.commands[index], options.stdin_file, fd, sample, options.env);
  if (rc != 0) {
    std::fprintf(stderr, "vnbench: command %zu failed (exit %d):", index + 1, rc);
    for (const auto& arg : options.commands[index]) std::fprintf(stderr, " %s", arg.c_str());
    std::fprintf(stderr, "\n");
    ShowErrors(fd);
    std::exit(1);
  }
  close(fd);
  return rc;
}

std::string Label(const std::string& base, std::size_t index) {
  if (index == 0) return base;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%zu", index + 1);
  return base + suffix;
}

long long Percentile(std::vector<long long> values, double fraction) {
  // Nearest rank: the smallest value with at least `fraction` of the samples at or below it.
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(values.size())));
  if (rank < 1) rank = 1;
  return values[rank - 1];
}

long long Median(std::vector<long long> values) {
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Options Parse(int argc, char** argv) {
  Options options;
  int i = 1;
  auto value = [&](const char* flag) -> std::string {
    if (i + 1 >= argc) Die(std::string(flag) + " needs a value");
    return argv[++i];
  };
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "--runs")
      options.runs = std::atoi(value("--runs").c_str());
    else if (arg == "--warmup")
      options.warmup = std::atoi(value("--warmup").c_str());
    else if (arg == "--min-runs")
      options.min_runs = std::atoi(value("--min-runs").c_str());
    else if (arg == "--max-seconds")
      options.max_seconds = std::atof(value("--max-seconds").c_str());
    else if (arg == "--netns")
      options.netns = value("--netns");
    else if (arg == "--setup")
      options.setup.push_back(value("--setup"));
    else if (arg == "--pre")
      options.pre.push_back(value("--pre"));
    else if (arg == "--stdin")
      options.stdin_file = value("--stdin");
    else if (arg == "--label")
      options.label = value("--label");
    else if (arg == "--raw")
      options.raw = value("--raw");
    else if (arg == "--env")
      options.env.push_back(value("--env"));
    else if (arg == "--lo")
      options.lo = true;
    else
      Die("unknown option " + arg);
  }
  options.commands.emplace_back();
  for (; i < argc; ++i) {
    if (std::string(argv[i]) == "---")
      options.commands.emplace_back();
    else
      options.commands.back().push_back(argv[i]);
  }
  for (const auto& command : options.commands)
    if (command.empty()) Die("usage: vnbench --runs N [options] -- CMD... [--- CMD...]");
  if (options.runs < 1 || options.runs > 100000) Die("--runs must be 1..100000");
  if (options.warmup < 0 || options.warmup > 1000) Die("--warmup must be 0..1000");
  if (options.max_seconds <= 0 || options.max_seconds > 3600) Die("--max-seconds must be 0..3600");
  if (options.netns != "none" && options.netns != "each" && options.netns != "once")
    Die("--netns must be none, each or once");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = Parse(argc, argv);
  if (options.netns == "once") NewNamespace(options);
  for (const auto& command : options.setup) RunShell(command, "--setup");
  std::vector<std::vector<Sample>> samples(options.commands.size());
  FILE* raw = options.raw.empty() ? nullptr : std::fopen(options.raw.c_str(), "a");
  double deadline = NowSeconds() + options.max_seconds;
  int total = options.warmup + options.runs;
  int timed = 0;
  for (int run = 0; run < total; ++run) {
    bool warm = run < options.warmup;
    if (!warm && timed >= options.min_runs && NowSeconds() > deadline) break;
    if (options.netns == "each") NewNamespace(options);
    for (const auto& command : options.pre) RunShell(command, "--pre");
    for (std::size_t c = 0; c < options.commands.size(); ++c) {
      Sample sample;
      RunCommand(options, c, &sample);
      if (warm) continue;
      samples[c].push_back(sample);
      if (raw)
        std::fprintf(raw, "%s %d %lld %ld\n", Label(options.label, c).c_str(), timed,
                     sample.wall_ns, sample.maxrss_kb);
    }
    if (!warm) ++timed;
  }
  if (raw) std::fclose(raw);
  for (std::size_t c = 0; c < samples.size(); ++c) {
    std::vector<long long> wall, rss;
    long long sum = 0;
    for (const auto& s : samples[c]) {
      wall.push_back(s.wall_ns);
      rss.push_back(s.maxrss_kb);
      sum += s.wall_ns;
    }
    std::string label = Label(options.label, c);
    std::printf(
        "label=%s n=%zu median_ms=%.3f p99_ms=%.3f min_ms=%.3f mean_ms=%.3f max_ms=%.3f "
        "rss_kb=%lld rss_kb_max=%lld\n",
        label.c_str(), wall.size(), Median(wall) / 1e6, Percentile(wall, 0.99) / 1e6,
        *std::min_element(wall.begin(), wall.end()) / 1e6,
        static_cast<double>(sum) / static_cast<double>(wall.size()) / 1e6,
        *std::max_element(wall.begin(), wall.end()) / 1e6, Median(rss),
        *std::max_element(rss.begin(), rss.end()));
  }
  return 0;
}
