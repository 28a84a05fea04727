#include "finch/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "finch/core/error.h"

namespace finch {
namespace fs = std::filesystem;

void write_file_atomically(const fs::path& path, const std::function<void(std::FILE*)>& write) {
  // The rename below replaces whatever `path` is: a device node (`--out /dev/full`), a FIFO, a
  // socket. Only a regular file (or nothing) is ever replaced.
  std::error_code st;
  if (fs::exists(fs::symlink_status(path, st)) && !fs::is_regular_file(path, st))
    throw RuntimeError("'" + path.string() + "' exists and is not a regular file (a device, FIFO or directory): not replaced");
  const fs::path tmp = path.string() + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw RuntimeError("cannot write '" + tmp.string() + "': " + std::strerror(errno));
  try {
    write(f);
    if (std::fflush(f) != 0 || std::ferror(f)) throw RuntimeError("cannot write '" + tmp.string() + "': " + std::strerror(errno));
    if (::fsync(fileno(f)) != 0) throw RuntimeError("cannot fsync '" + tmp.string() + "': " + std::strerror(errno));
  } catch (...) {
    std::fclose(f);
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  std::error_code ec;
  if (std::fclose(f) != 0) {  // a full disk can show here first (delayed allocation)
    const std::string why = std::strerror(errno);
    fs::remove(tmp, ec);
    throw RuntimeError("cannot close '" + tmp.string() + "': " + why);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    throw RuntimeError("cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + why);
  }
}

void write_file_atomically(const fs::path& path, const std::string& text) {
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size())
      throw RuntimeError("cannot write '" + path.string() + "': " + std::strerror(errno));
  });
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems refuse directory fds
  ::fsync(fd);
  ::close(fd);
}

}  // namespace finch
