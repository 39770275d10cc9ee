#include "base/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/errors.h"

namespace virtnat {
namespace {

[[noreturn]] void Fail(const std::string& what, const std::filesystem::path& path) {
  throw RuntimeFailure(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

}  // namespace

void WriteFileAtomically(const std::filesystem::path& path, const std::string& content,
                         unsigned mode) {
  WriteFileAtomically(path, std::vector<std::string_view>{content}, mode);
}

void WriteFileAtomically(const std::filesystem::path& path,
                         const std::vector<std::string_view>& pieces, unsigned mode) {
  std::filesystem::path folder = path.parent_path().empty() ? "." : path.parent_path();
  std::filesystem::path temporary =
      folder / fmt::format(".{}.tmp.{}", path.filename().string(), getpid());
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) Fail("cannot create", temporary);
  for (std::string_view content : pieces) {
    std::size_t written = 0;
    while (written < content.size()) {
      ssize_t n = write(fd, content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        close(fd);
        unlink(temporary.c_str());
        errno = saved;
        Fail("cannot write", temporary);
      }
      written += static_cast<std::size_t>(n);
    }
  }
  if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
    int saved = errno;
    close(fd);
    unlink(temporary.c_str());
    errno = saved;
    Fail("cannot sync", temporary);
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    int saved = errno;
    unlink(temporary.c_str());
    errno = saved;
    Fail("cannot rename over", path);
  }
  int folder_fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    fsync(folder_fd);
    close(folder_fd);
  }
}

std::optional<std::string> ReadFileIfExists(const std::filesystem::path& path) {
  // read(2) into one buffer of the file's size: no stream or locale set-up (the hook binary
  // reads its files with this), and one copy of a large memo instead of several.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat info {};
  std::string text;
  if (fstat(fd, &info) == 0 && info.st_size > 0)
    text.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[65536];
  while (true) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  close(fd);
  return text;
}

FileLock::FileLock(const std::filesystem::path& path) {
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) Fail("cannot open lock", path);
  while (flock(fd_, LOCK_EX) != 0)
    if (errno != EINTR) Fail("cannot lock", path);
}

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace virtnat
