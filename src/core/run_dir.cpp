#include "finch/core/run_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "finch/core/error.h"

namespace finch {
namespace fs = std::filesystem;

RunDir run_dir_for(const Config& config) { return RunDir{fs::path(config.output_dir) / config.name}; }

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw RuntimeError("cannot write '" + tmp.string() + "': " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw RuntimeError("cannot write '" + tmp.string() + "': " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw RuntimeError("cannot flush '" + tmp.string() + "': " + std::strerror(errno));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw RuntimeError("cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
}

RunDir create_run_dir(const Config& config, RunDirMode mode) {
  RunDir dir = run_dir_for(config);
  const bool has_run = fs::exists(dir.config_file());
  if (mode == RunDirMode::kFresh && has_run)
    throw ConfigError("run directory '" + dir.root.string() +
                      "' already holds a run: pass --resume auto to continue it, or choose another --name");
  if (mode == RunDirMode::kResume && !has_run)
    throw ConfigError("cannot resume: '" + dir.root.string() + "' holds no run (no config.json)");
  std::error_code ec;
  for (const auto& d : {dir.root, dir.checkpoints(), dir.report()}) {
    fs::create_directories(d, ec);
    if (ec) throw RuntimeError("cannot create '" + d.string() + "': " + ec.message());
  }
  write_file_atomically(dir.config_file(), config_to_json(config).dump(2) + "\n");
  return dir;
}

}  // namespace finch
