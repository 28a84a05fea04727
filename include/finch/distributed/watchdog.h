// The collective watchdog: a rank that waits in one MPI collective longer than dist.timeout_s
// (its peer died without the launcher noticing, or hangs) prints which rank and which operation,
// and calls MPI_Abort, which takes the whole job down. Off until set_collective_timeout is called.
#pragma once

namespace finch::distributed {

void set_collective_timeout(double seconds);  // <= 0: off

// Marks a collective as in progress for its lifetime (several may be, on different threads).
class CollectiveGuard {
 public:
  explicit CollectiveGuard(const char* what);
  ~CollectiveGuard();
  CollectiveGuard(const CollectiveGuard&) = delete;
  CollectiveGuard& operator=(const CollectiveGuard&) = delete;
};

}  // namespace finch::distributed
