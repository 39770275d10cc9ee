// Crash-safe file writing and advisory locks.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtnat {

// Writes `content` to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the folder: readers see the old file or the new one, never a mix.
void WriteFileAtomically(const std::filesystem::path& path, const std::string& content,
                         unsigned mode = 0644);
// The same for content in pieces (written one after the other, never joined in memory).
void WriteFileAtomically(const std::filesystem::path& path,
                         const std::vector<std::string_view>& pieces, unsigned mode = 0644);

std::optional<std::string> ReadFileIfExists(const std::filesystem::path& path);

// An exclusive flock(2) held for the object's lifetime; the kernel drops it if we die.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace virtnat
