// virtnat-hook: the program libvirt runs for its qemu and network hooks. It is virtnat's
// hook code without the command line and without libvirt's client library (linked
// --as-needed), so that a VM start does not wait for 60 shared libraries to load.
//   #!/usr/sbin/virtnat-hook --hook-state-dir=/run/virtnat       (first line of the hook file)
// libvirt then runs: virtnat-hook --hook-state-dir=DIR HOOKFILE NAME OPERATION SUBOP EXTRA
// with the domain's XML (qemu) or <hookData><network>... (network) on stdin. The network hook
// builds a bridged network's host bridge through netlink (libnl-route), which is all it links.
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>

#include "engine/libvirt_hooks.h"
#include "state/state_dir.h"

int main(int argc, char** argv) {
  using namespace virtnat;
  constexpr std::string_view kOption = "--hook-state-dir=";
  if (argc < 5 || !std::string_view(argv[1]).starts_with(kOption)) {
    std::cerr << "virtnat-hook: run by libvirt through an installed hook file (see `virtnat hook "
                 "install`)\n";
    return 2;
  }
  StateDir state(std::string(argv[1] + kOption.size()));
  std::string kind = std::filesystem::path(argv[2]).parent_path().filename().string();
  HookCall call{argv[3], argv[4], argc > 5 ? argv[5] : "-", argc > 6 ? argv[6] : "-"};
  try {
    if (kind == "qemu.d") return RunQemuHook(state, call, std::cin);
    if (kind == "network.d") return RunNetworkHook(state, call, std::cin);
  } catch (const std::exception& error) {
    std::cerr << "virtnat hook: " << error.what() << "\n";
  }
  // Other hook kinds are not ours; a hook problem never blocks a VM by itself (only a bridged
  // network whose host bridge cannot be made, through RunNetworkHook's status).
  return 0;
}
