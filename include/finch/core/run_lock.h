// Note [One trainer per run directory]
// ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
// Rank 0 of `finch train` holds an exclusive lock on runs/NAME/.finch-lock (flock, released by the
// kernel when the process ends however it ends) from before the run directory is touched until it
// exits. Two jobs on one run directory (a sweep submitted twice while its first array still runs,
// a requeued job and its manual twin) would otherwise interleave their checkpoints and logs; the
// second is refused naming the host, pid and Slurm job of the first. The same lock tells
// `finch sweep list` a running run from one that died without an end record (run_state.h).
// Filesystems without locks (Lustre mounted without -o flock) make the lock a no-op with a
// warning: nothing is refused there, and a run's state can say only "started".
#pragma once

#include <optional>
#include <string>

namespace finch {

class RunLock {
 public:
  // Takes the lock of `run_dir` (created if missing) or throws ConfigError naming the holder.
  // `unsupported` receives why when the filesystem has no locks (the lock is then not held).
  static RunLock acquire(const std::string& run_dir, std::string* unsupported = nullptr);
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

enum class LockProbe { kFree, kHeld, kUnknown };  // kUnknown: no lock file, or no locks on this filesystem

// Whether a finch holds `run_dir`'s lock now; `holder` receives what the holder wrote (host, pid, job).
LockProbe probe_run_lock(const std::string& run_dir, std::string* holder = nullptr);

// The lock file of a run directory.
std::string run_lock_file(const std::string& run_dir);

}  // namespace finch
