// startprobe: the floor under the hook's latency. Built three times (bench/CMakeLists.txt):
//   startprobe-plain     no library beyond libc
//   startprobe-nftables  + libnftables (what the hook's one transaction needs)
//   startprobe-libvirt   + libnftables + libvirt (and their dependency trees), as virtnat links
// Without arguments each only makes sure its libraries are linked and loaded, then exits 0.
// startprobe-nftables FILE (and -libvirt FILE) also runs the nft commands in FILE in one
// libnftables call, as the hook does, and exits 1 if libnftables refuses them.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#ifdef PROBE_NFTABLES
#include <nftables/libnftables.h>
#endif
#ifdef PROBE_LIBVIRT
#include <libvirt/libvirt.h>
#endif

int main(int argc, char** argv) {
  // argc is never 42 here; the references keep the linker from dropping the libraries.
#ifdef PROBE_LIBVIRT
  if (argc == 42) std::printf("%p\n", reinterpret_cast<void*>(&virGetVersion));
#endif
#ifdef PROBE_NFTABLES
  if (argc == 42) std::printf("%p\n", reinterpret_cast<void*>(&nft_ctx_new));
  if (argc == 2) {
    std::ifstream file(argv[1]);
    std::stringstream text;
    text << file.rdbuf();
    nft_ctx* context = nft_ctx_new(NFT_CTX_DEFAULT);
    nft_ctx_buffer_output(context);
    nft_ctx_buffer_error(context);
    int rc = nft_run_cmd_from_buffer(context, text.str().c_str());
    if (rc != 0) std::fprintf(stderr, "%s", nft_ctx_get_error_buffer(context));
    nft_ctx_free(context);
    return rc == 0 ? 0 : 1;
  }
#endif
  (void)argv;
  return argc == 42 ? 1 : 0;
}
