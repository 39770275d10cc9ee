#include "base/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/errors.h"

namespace virtnat {
namespace {

[[noreturn]] void Fail(const std::string& what, const std::filesystem::path& path) {
  throw RuntimeFailure(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

}  // namespace

void WriteFileAtomically(const std::filesystem::path& path, const std::string& content,
                         unsigned mode) {
  std::filesystem::path folder = path.parent_path().empty() ? "." : path.parent_path();
  std::filesystem::path temporary =
      folder / fmt::format(".{}.tmp.{}", path.filename().string(), getpid());
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) Fail("cannot create", temporary);
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
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
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
