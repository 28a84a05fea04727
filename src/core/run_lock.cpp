#include "finch/core/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch {
namespace {

std::string read_holder(int fd) {
  char buf[512];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? "another finch" : s;
}

bool no_locks_here(int err) { return err == ENOLCK || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL; }

}  // namespace

std::string run_lock_file(const std::string& run_dir) { return (std::filesystem::path(run_dir) / ".finch-lock").string(); }

RunLock RunLock::acquire(const std::string& run_dir, std::string* unsupported) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) throw RuntimeError(fmt::format("cannot create '{}': {}", run_dir, ec.message()));
  const std::string path = run_lock_file(run_dir);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw RuntimeError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  // A `finch sweep list` probing at this very moment holds a shared lock for microseconds: retry
  // briefly before calling the directory taken.
  int err = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      err = 0;
      break;
    }
    err = errno;
    if (err != EWOULDBLOCK && err != EINTR) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (err != 0 && no_locks_here(err)) {
    if (unsupported) *unsupported = fmt::format("'{}' cannot be locked ({}): a second finch on this run would not be stopped", path, std::strerror(err));
    return RunLock(fd);
  }
  if (err != 0) {
    const std::string holder = read_holder(fd);
    ::close(fd);
    if (err == EWOULDBLOCK)
      throw ConfigError(fmt::format("run directory '{}' is in use by {}: one finch trains a run at a time (its lock: {})", run_dir, holder, path));
    throw RuntimeError(fmt::format("cannot lock '{}': {}", path, std::strerror(err)));
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const char* job = std::getenv("SLURM_JOB_ID");
  char since[32] = {0};
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S", &local);
  const std::string me = fmt::format("host {} pid {}{} since {}\n", host, getpid(), job ? fmt::format(" (Slurm job {})", job) : "", since);
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, me.data(), me.size(), 0) < 0) {
  }  // who holds it is for messages only
  return RunLock(fd);
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}
RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

LockProbe probe_run_lock(const std::string& run_dir, std::string* holder) {
  const int fd = ::open(run_lock_file(run_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return LockProbe::kUnknown;
  LockProbe result = LockProbe::kFree;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    result = errno == EWOULDBLOCK ? LockProbe::kHeld : LockProbe::kUnknown;
    if (result == LockProbe::kHeld && holder) *holder = read_holder(fd);
  }
  ::close(fd);  // and with it the shared lock, if taken
  return result;
}

}  // namespace finch
