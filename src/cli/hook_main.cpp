// virtnat-hook: the program libvirt runs for its qemu and network hooks.
//   #!/usr/sbin/virtnat-hook --hook-state-dir=/run/virtnat       (first line of the hook file)
// libvirt then runs: virtnat-hook --hook-state-dir=DIR HOOKFILE NAME OPERATION SUBOP EXTRA
// with the domain's XML (qemu) or <hookData><network>... (network) on stdin.
//
// A VM start or stop is the hot path: it reads the hook index and the VM's precomputed netlink
// batch from the state folder and sends it (engine/hook_fast.h), and this binary links nothing
// but libmnl, libnftnl, libc and the C++ library for it. Everything else (the network hook,
// which builds a bridged network's host bridge through libnl; the libvirt shim at `reconnect`)
// is the full program's: virtnat beside this binary is exec'd with the same arguments and the
// same stdin, and behaves exactly as the hook did before it had a fast path.
#include <fcntl.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "engine/hook_fast.h"
#include "state/state_dir.h"

namespace {

void Say(const std::string& message) {
  std::string line = message + "\n";
  if (write(2, line.data(), line.size()) < 0) return;
}

// Standard input, whole (no iostreams: this binary starts without setting them up).
std::string ReadStdin() {
  std::string text;
  char buffer[16384];
  while (true) {
    ssize_t got = read(0, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  return text;
}

// Replaces this process with virtnat beside it; `stdin_text`, when given, becomes its stdin
// (this process read the real one). Returns only when that fails.
int ExecFullProgram(char** argv, const std::string* stdin_text) {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  std::string program = (self.parent_path() / "virtnat").string();
  if (stdin_text) {
    int fd = memfd_create("virtnat-hook-stdin", MFD_CLOEXEC);
    if (fd < 0 ||
        write(fd, stdin_text->data(), stdin_text->size()) !=
            static_cast<ssize_t>(stdin_text->size()) ||
        lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) < 0) {
      Say("virtnat hook: cannot pass the XML on to " + program);
      return 0;
    }
    close(fd);
  }
  argv[0] = program.data();
  execv(program.c_str(), argv);
  std::string message = "cannot run " + program + ": " + std::strerror(errno);
  openlog("virtnat-hook", LOG_PID, LOG_DAEMON);
  syslog(LOG_ERR, "%s", message.c_str());
  closelog();
  Say("virtnat hook: " + message);
  return 0;  // a hook problem never blocks a VM by itself
}

}  // namespace

int main(int argc, char** argv) {
  using namespace virtnat;
  constexpr std::string_view kOption = "--hook-state-dir=";
  if (argc < 5 || !std::string_view(argv[1]).starts_with(kOption)) {
    Say("virtnat-hook: run by libvirt through an installed hook file (see `virtnat hook "
        "install`)");
    return 2;
  }
  std::string kind = std::filesystem::path(argv[2]).parent_path().filename().string();
  if (kind == "network.d") return ExecFullProgram(argv, nullptr);
  if (kind != "qemu.d") return 0;  // other hook kinds are not ours
  StateDir state(std::string(argv[1] + kOption.size()));
  HookCall call{argv[3], argv[4], argc > 5 ? argv[5] : "-", argc > 6 ? argv[6] : "-"};
  std::string xml = ReadStdin();
  try {
    if (auto status = RunQemuHookFast(state, call, xml)) return *status;
  } catch (const std::exception& error) {
    Say(std::string("virtnat hook: ") + error.what());
    return 0;
  }
  return ExecFullProgram(argv, &xml);
}
