#include "finch/core/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch {
namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

}  // namespace

std::string not_a_regular_file(const std::string& path) {
  struct stat st {};
  const char* kind = ::stat(path.c_str(), &st) == 0 ? kind_of(st.st_mode) : "not a plain file";
  return fmt::format("'{}' is {}, not a regular file (finch does not read from it)", path, kind);
}

int open_regular_fd(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // Note [Only regular files are opened]
  if (fd < 0) {
    if (errno == ENXIO) throw RuntimeError(not_a_regular_file(path));  // a FIFO with no writer (some systems)
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw RuntimeError(fmt::format("'{}' is {}, not a regular file (finch does not read from it)", path, kind_of(st.st_mode)));
  }
  // Regular files ignore O_NONBLOCK; it is cleared anyway so that nothing downstream sees EAGAIN.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::ifstream open_regular(const std::string& path, std::ios::openmode mode) {
  const int fd = open_regular_fd(path);  // throws for a FIFO, device, directory
  if (fd < 0) {  // not good(): the caller names what was expected (errno says why)
    const int why = errno;
    std::ifstream none;
    none.setstate(std::ios::failbit);
    errno = why;
    return none;
  }
  // The stream opens the very file the checked descriptor holds (Linux's /proc/self/fd link), not
  // whatever the name means a moment later; without /proc, the name again.
  std::ifstream in("/proc/self/fd/" + std::to_string(fd), mode);
  if (!in.is_open()) in.open(path, mode);
  ::close(fd);
  return in;
}

}  // namespace finch
