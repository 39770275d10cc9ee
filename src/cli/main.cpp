// virtnat's command line: parses arguments with CLI11 and maps failures to exit statuses
// (0 ok, 1 runtime failure, 2 bad input), never CLI11's own codes.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/doctor_command.h"
#include "config/config_loader.h"
#include "base/errors.h"
#include "engine/libvirt_hooks.h"
#include "state/state_dir.h"
#include "version.h"
#include "watch/watcher.h"

namespace {

using namespace virtnat;

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// CLI11 reports usage errors in several lines with its own codes; we want one line and 2.
std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

void AddForwardOptions(CLI::App* command, ForwardSpec& spec, std::string& target,
                       std::string& public_port) {
  command->add_option("target", target, "HOST:PORT[-PORT], the guest side (host name or address)")
      ->required();
  command->add_option("public_port", public_port, "PUBLICPORT[-PORT], the port(s) clients use")
      ->required();
  command->add_option("--protocol", spec.protocol, "tcp, udp or tcp,udp (default tcp)")
      ->check(CLI::IsMember({"tcp", "udp", "tcp,udp", "udp,tcp"}));
  command->add_option("--listen", spec.listen,
                      "address clients connect to (default settings.public_address; * = any)");
  command->add_option("--source", spec.sources, "allowed client network (repeatable)");
  command->add_option("--description", spec.description, "free text shown by status");
}

// CLI11 reports a mistyped command as "A subcommand is required"; name the word instead.
std::optional<std::string> UnknownCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string token = argv[i];
    if (token == "--") break;
    if (token.starts_with("-")) {
      if (token.find('=') != std::string::npos) continue;
      for (CLI::App* scope = current; scope; scope = scope->get_parent()) {
        const CLI::Option* option = scope->get_option_no_throw(token);
        if (option) {
          if (option->get_expected_min() > 0) ++i;  // skip the option's value
          break;
        }
      }
      continue;
    }
    CLI::App* sub = nullptr;
    for (CLI::App* candidate : current->get_subcommands([](CLI::App*) { return true; }))
      if (candidate->get_name() == token) sub = candidate;
    if (sub) {
      current = sub;
      path += (path.empty() ? "" : " ") + token;
      continue;
    }
    if (current->get_require_subcommand_min() > 0)
      return fmt::format("unknown command '{}'{}", token,
                         path.empty() ? "" : fmt::format(" for '{}'", path));
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

// libvirt runs an installed hook as `virtnat --hook-state-dir=DIR HOOKFILE NAME OP SUBOP EXTRA`
// (the #! line of the hook file). Handled before CLI11 to keep VM start fast.
int RunInstalledHook(int argc, char** argv) {
  GlobalOptions options;
  options.state_dir = std::string(argv[1]).substr(std::strlen("--hook-state-dir="));
  std::filesystem::path hook_file = argc > 2 ? argv[2] : "";
  std::string kind = hook_file.parent_path().filename().string();  // "qemu.d", "network.d"
  if (kind.ends_with(".d")) kind.resize(kind.size() - 2);
  std::vector<std::string> arguments(argv + std::min(argc, 3), argv + argc);
  try {
    return CommandHook(options, kind, arguments);
  } catch (const std::exception& error) {
    std::cerr << "virtnat hook: " << error.what() << "\n";
    return 0;  // never block a VM over a hook usage problem
  }
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]).starts_with("--hook-state-dir="))
    return RunInstalledHook(argc, argv);
  CLI::App app{
      "virtnat: NAT networks and port forwards for KVM/libvirt hosts, applied "
      "atomically with nftables"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every command");
  app.footer(
      "Examples:\n"
      "  virtnat check                      validate /etc/virtnat/virtnat.toml\n"
      "  virtnat apply                      install the whole config in one transaction\n"
      "  virtnat forward add lxdev01:22 2222\n"
      "  virtnat status\n"
      "Exit status: 0 ok, 1 runtime failure, 2 bad input.");
  GlobalOptions options;
  std::string config_path = EnvOr("VIRTNAT_CONFIG", kDefaultConfigPath);
  std::string state_dir = EnvOr("VIRTNAT_STATE_DIR", kDefaultStateDir);
  app.add_option("-c,--config", config_path,
                 "config file (default $VIRTNAT_CONFIG or /etc/virtnat/virtnat.toml)")
      ->configurable(false);
  app.add_option("--connect", options.connect,
                 "libvirt URI (default settings.libvirt_uri, qemu:///system)");
  app.add_option("--state-dir", state_dir,
                 "run-time state folder (default $VIRTNAT_STATE_DIR or /run/virtnat)");
  app.add_flag_callback(
      "-V,--version",
      [] {
        std::cout << fmt::format("virtnat {} (commit {})\n", VIRTNAT_VERSION, VIRTNAT_GIT_COMMIT);
        throw CLI::Success();
      },
      "print the version and the git commit");
  app.fallthrough();

  std::function<int()> run;
  auto simple = [&](const char* name, const char* help, const char* example,
                    int (*command)(const GlobalOptions&), bool json = false) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->footer(fmt::format("Example:\n  {}", example));
    if (json) sub->add_flag("--json", options.json, "machine-readable output");
    sub->callback(
        [&run, &options, command] { run = [&options, command] { return command(options); }; });
    return sub;
  };
  simple("check", "validate the config and report every error",
         "virtnat --config ./virtnat.toml check", CommandCheck);
  simple("plan", "show the ruleset apply would install and what differs from the kernel",
         "virtnat plan", CommandPlan);
  simple("apply", "install the whole config in one nftables transaction", "virtnat apply",
         CommandApply);
  simple("status", "networks, hosts and forwards with their state and counters",
         "virtnat status --json", CommandStatus, true);
  simple("down",
         "delete virtnat's nftables table and what it added to libvirt's, firewalld's, Docker's "
         "and ufw's firewalls; nothing else",
         "virtnat down", CommandDown);
  simple("doctor",
         "what in the host's other firewalls drops the traffic of forwards, guests and their "
         "DHCP/DNS; exit 1 when something does (or may)",
         "virtnat doctor --json", CommandDoctor, true);

  CLI::App* forward = app.add_subcommand("forward", "add, remove or list port forwards");
  forward->require_subcommand(1);
  ForwardSpec spec;
  std::string target, public_port;
  CLI::App* add =
      forward->add_subcommand("add", "add a forward to conf.d/50-cli.toml and apply it at once");
  AddForwardOptions(add, spec, target, public_port);
  add->footer(
      "Examples:\n  virtnat forward add lxdev01:22 2222\n"
      "  virtnat forward add lxdev01:9000-9002 8000-8002 --protocol tcp,udp "
      "--source 198.51.100.0/24 --description web");
  add->callback([&] {
    run = [&] {
      ForwardSpec parsed = ParseForwardSpec(target, public_port);
      parsed.protocol = spec.protocol;
      parsed.listen = spec.listen;
      parsed.sources = spec.sources;
      parsed.description = spec.description;
      return CommandForwardAdd(options, parsed);
    };
  });
  CLI::App* remove = forward->add_subcommand(
      "remove", "remove a forward that `forward add` wrote, and apply at once");
  AddForwardOptions(remove, spec, target, public_port);
  remove->footer("Example:\n  virtnat forward remove lxdev01:22 2222");
  remove->callback([&] {
    run = [&] {
      ForwardSpec parsed = ParseForwardSpec(target, public_port);
      parsed.protocol = spec.protocol;
      parsed.listen = spec.listen;
      return CommandForwardRemove(options, parsed);
    };
  });
  CLI::App* list = forward->add_subcommand("list", "list every forward and the file it is in");
  list->add_flag("--json", options.json, "machine-readable output");
  list->footer("Example:\n  virtnat forward list --json");
  list->callback([&] { run = [&] { return CommandForwardList(options); }; });

  CLI::App* host = app.add_subcommand("host", "list or look up the hosts of the networks");
  host->require_subcommand(1);
  CLI::App* host_list =
      host->add_subcommand("list", "print MAC,FQDN,IP (and ,IPV6 when it has one) for every host");
  host_list->add_flag("--json", options.json, "machine-readable output");
  host_list->callback([&] { run = [&] { return CommandHostList(options); }; })
      ->footer("Example:\n  virtnat host list --json");
  std::string host_name;
  CLI::App* lookup = host->add_subcommand(
      "lookup",
      "print FQDN IP MAC (and IPV6 when it has one) of the host with exactly this name, IPv4 "
      "or IPv6 address");
  lookup->add_option("name", host_name, "host name or address")->required();
  lookup->add_flag("--json", options.json, "machine-readable output");
  lookup->footer(
      "Examples:\n  virtnat host lookup lxdev01\n  virtnat host lookup fd00:77::1c --json");
  lookup->callback([&] { run = [&] { return CommandHostLookup(options, host_name); }; });

  CLI::App* network =
      app.add_subcommand("network", "networks of the config: libvirt and standalone");
  network->require_subcommand(1);
  CLI::App* network_list =
      network->add_subcommand("list", "networks of the config and of libvirt, with their state");
  network_list->add_flag("--json", options.json, "machine-readable output");
  network_list->callback([&] { run = [&] { return CommandNetworkList(options); }; })
      ->footer("Example:\n  virtnat network list --json");
  std::string network_name;
  for (auto [name, help] : std::initializer_list<std::pair<const char*, const char*>>{
           {"xml", "print the libvirt XML (provider ovn: the OVN rows) virtnat generates for it"},
           {"status", "whether libvirt runs the network and whether it matches the config"},
           {"start", "define (if needed) and start one network"},
           {"stop", "stop one network"},
           {"undefine", "stop and undefine one network virtnat defined"}}) {
    CLI::App* action = network->add_subcommand(name, help);
    action->add_option("name", network_name, "network name from the config")->required();
    action->footer(fmt::format("Example:\n  virtnat network {} nat_bridge", name));
    std::string verb = name;
    action->callback([&run, &options, &network_name, verb] {
      run = [&options, &network_name, verb] {
        return verb == "xml" ? CommandNetworkXml(options, network_name)
                             : CommandNetworkAction(options, verb, network_name);
      };
    });
  }

  std::string leases_network;
  CLI::App* leases = app.add_subcommand("leases", "current DHCP leases of the networks");
  leases->add_option("network", leases_network, "only this network");
  leases->add_flag("--json", options.json, "machine-readable output");
  leases->footer("Example:\n  virtnat leases nat_bridge --json");
  leases->callback([&] { run = [&] { return CommandLeases(options, leases_network); }; });

  CLI::App* vm = app.add_subcommand("vm", "libvirt's VMs and their network interfaces");
  vm->require_subcommand(1);
  CLI::App* vm_list = vm->add_subcommand(
      "list", "every VM with its interfaces: type, model, MAC, IP (leases), source, host");
  vm_list->add_flag("--json", options.json, "machine-readable output");
  vm_list->footer("Example:\n  virtnat vm list --json");
  vm_list->callback([&] { run = [&] { return CommandVmList(options); }; });
  std::string vm_network, vm_host;
  CLI::App* vm_interface = vm->add_subcommand(
      "interface", "the libvirt <interface> that plugs a VM into a network as one of its hosts");
  vm_interface->add_option("network", vm_network, "network name from the config")->required();
  vm_interface->add_option("host", vm_host, "host name on that network")->required();
  vm_interface->footer(
      "Example:\n  virtnat vm interface fleet web1 > web1-nic.xml && virsh attach-device web1 "
      "web1-nic.xml --config");
  vm_interface->callback(
      [&] { run = [&] { return CommandVmInterface(options, vm_network, vm_host); }; });

  CLI::App* hook = app.add_subcommand("hook", "the libvirt hook: install, uninstall, run");
  hook->require_subcommand(1);
  std::string hooks_dir = kLibvirtHooksDir;
  CLI::App* install = hook->add_subcommand(
      "install", "install qemu.d/virtnat and network.d/virtnat into libvirt's hooks folder");
  install->add_option("--hooks-dir", hooks_dir, "libvirt's hooks folder")->capture_default_str();
  install->footer("Example:\n  virtnat hook install && systemctl restart libvirtd");
  install->callback([&] { run = [&] { return CommandHookInstall(options, hooks_dir); }; });
  CLI::App* uninstall = hook->add_subcommand("uninstall", "remove exactly the files install wrote");
  uninstall->add_option("--hooks-dir", hooks_dir, "libvirt's hooks folder")->capture_default_str();
  uninstall->footer("Example:\n  virtnat hook uninstall");
  uninstall->callback([&] { run = [&] { return CommandHookUninstall(options, hooks_dir); }; });
  std::vector<std::string> hook_arguments;
  for (auto [name, help] : std::initializer_list<std::pair<const char*, const char*>>{
           {"qemu",
            "run as libvirt's qemu hook: DOMAIN OPERATION SUBOPERATION EXTRA, XML on "
            "stdin"},
           {"network", "run as libvirt's network hook: NETWORK OPERATION SUBOPERATION EXTRA"}}) {
    CLI::App* kind = hook->add_subcommand(name, help);
    kind->add_option("arguments", hook_arguments, "what libvirt passes")->required();
    kind->footer(
        fmt::format("Example:\n  virtnat hook {} lxdev01 start begin - < domain.xml", name));
    std::string kind_name = name;
    kind->callback([&run, &options, &hook_arguments, kind_name] {
      run = [&options, &hook_arguments, kind_name] {
        return CommandHook(options, kind_name, hook_arguments);
      };
    });
  }

  WatchOptions watch;
  CLI::App* watch_command = app.add_subcommand(
      "watch",
      "stay in the foreground and repair drift within a second (systemd: virtnat.service)");
  watch_command->add_option("--recheck", watch.recheck_seconds,
                            "also compare every SECONDS (default 5)");
  watch_command->add_option("--for", watch.run_seconds, "stop after SECONDS (for tests)");
  watch_command->footer("Example:\n  virtnat watch   # logs each repair to stderr and syslog");
  watch_command->callback([&] {
    run = [&] {
      watch.config_path = config_path;
      watch.state_dir = state_dir;
      watch.libvirt_uri = options.connect;
      return RunWatch(watch);
    };
  });

  InitOptions init;
  bool init_force = false, init_stdout = false, no_default_nodes = false;
  CLI::App* init_command = app.add_subcommand(
      "init", "write a starting config with vm-tools' defaults (44 hosts from .5)");
  init_command->add_option("--bridge", init.bridge, "bridge name")->capture_default_str();
  init_command->add_option("--domain", init.domain, "DNS domain")->capture_default_str();
  init_command->add_option("--mac-prefix", init.mac_prefix, "five MAC bytes")
      ->capture_default_str();
  init_command->add_option("--network", init.network, "first three octets")->capture_default_str();
  init_command->add_option("--nodes", init.nodes, "extra host names, comma separated")
      ->delimiter(',');
  init_command->add_flag("--no-default-nodes", no_default_nodes, "only the --nodes hosts");
  init_command->add_option("--provider", init.provider, "external, libvirt or standalone")
      ->capture_default_str();
  init_command->add_option("--public-address", init.public_address,
                           "default listen address of forwards");
  init_command->add_flag("--force", init_force, "replace an existing config file");
  init_command->add_flag("--stdout", init_stdout, "print the config instead of writing it");
  init_command->footer(
      "Examples:\n  virtnat init --provider libvirt --public-address 198.51.100.1\n"
      "  virtnat init --network 10.2.2 --nodes web1,web2 --no-default-nodes --stdout");
  init_command->callback([&] {
    run = [&] {
      init.default_nodes = !no_default_nodes;
      return CommandInit(options, init, init_force, init_stdout);
    };
  });

  CLI::App* import = app.add_subcommand("import", "convert another tool's config to forwards");
  import->require_subcommand(1);
  std::string import_file;
  bool import_write = false;
  CLI::App* hook_qemu = import->add_subcommand(
      "libvirt-hook-qemu", "hooks.json or config.json of libvirt-hook-qemu -> [[forward]] TOML");
  hook_qemu->add_option("file", import_file, "the JSON file")->required();
  hook_qemu->add_flag("--write", import_write, "write conf.d/40-imported.toml instead of printing");
  hook_qemu->footer(
      "Example:\n  virtnat import libvirt-hook-qemu /etc/libvirt/hooks/hooks.json --write");
  hook_qemu->callback(
      [&] { run = [&] { return CommandImportHookQemu(options, import_file, import_write); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);  // prints the help of the innermost command given
  } catch (const CLI::Success&) {
    return 0;
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return 0;
    if (auto unknown = UnknownCommand(app, argc, argv)) {
      std::cerr << "virtnat: " << *unknown << " (see virtnat --help)\n";
      return 2;
    }
    std::cerr << "virtnat: " << OneLine(error.what()) << " (see virtnat --help)\n";
    return 2;
  }
  options.config_path = config_path;
  options.state_dir = state_dir;
  try {
    return run ? run() : 2;
  } catch (const BadInput& error) {
    std::cerr << error.what() << "\n";
    return 2;
  } catch (const RuntimeFailure& error) {
    std::cerr << "virtnat: " << error.what() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "virtnat: " << error.what() << "\n";
    return 1;
  }
}
