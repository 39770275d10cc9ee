// `virtnat init` and `virtnat import libvirt-hook-qemu`: configs from defaults and old tools.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "config/diagnostics.h"
#include "importers/hook_qemu_import.h"
#include "base/files.h"

namespace virtnat {

namespace fs = std::filesystem;

int CommandInit(const GlobalOptions& options, const InitOptions& init, bool force, bool to_stdout) {
  std::string text = GenerateInitConfig(init);
  if (to_stdout) {
    std::cout << text;
    return 0;
  }
  if (fs::exists(options.config_path) && !force)
    throw BadInput(
        fmt::format("virtnat: init: {} exists; add --force to replace it or --stdout "
                    "to print the config",
                    options.config_path.string()));
  // The generated text must pass the same validation as a hand-written config.
  Diagnostics diagnostics;
  std::vector<ConfigSource> sources{{options.config_path.string(), text}};
  ParseConfig(sources, diagnostics);
  if (diagnostics.HasErrors()) throw BadInput(FormatErrors(diagnostics));
  fs::create_directories(options.config_path.parent_path().empty()
                             ? fs::path(".")
                             : options.config_path.parent_path());
  WriteFileAtomically(options.config_path, text);
  std::cout << fmt::format("wrote {}: review it, then `virtnat check` and `virtnat apply`\n",
                           options.config_path.string());
  return 0;
}

int CommandImportHookQemu(const GlobalOptions& options, const fs::path& file, bool write) {
  auto text = ReadFileIfExists(file);
  if (!text || !fs::is_regular_file(file))
    throw BadInput(fmt::format("{}: cannot read the file to import", file.string()));
  ImportResult result = ImportLibvirtHookQemu(*text, file.filename().string());
  for (const auto& problem : result.problems) std::cerr << "not imported: " << problem << "\n";
  if (!write) {
    std::cout << result.toml;
    return 0;
  }
  fs::path target = options.config_path.parent_path() / "conf.d" / "40-imported.toml";
  auto sources = ReadConfigSources(options.config_path);
  std::erase_if(sources,
                [&](const ConfigSource& source) { return source.path == target.string(); });
  sources.push_back({target.string(), result.toml});
  Diagnostics diagnostics;
  ParseConfig(sources, diagnostics);
  if (diagnostics.HasErrors()) throw BadInput(FormatErrors(diagnostics));
  fs::create_directories(target.parent_path());
  WriteFileAtomically(target, result.toml);
  std::cout << fmt::format(
      "wrote {} forwards to {}{}; run `virtnat apply`\n", result.forwards, target.string(),
      result.problems.empty()
          ? ""
          : fmt::format(" ({} things not imported, listed above)", result.problems.size()));
  return 0;
}

}  // namespace virtnat
