// A handle (an ncclComm_t) that one thread may take away to abort or destroy while others use it.
//
// Note [Aborting a communicator another thread uses]: the NCCL backend's watchdog thread asks the
// communicator for asynchronous errors while the training thread may, on a timeout, abort it: an
// atomic pointer alone let the watchdog load the communicator, the other thread abort (free) it,
// and the watchdog then call into freed memory. Every use holds the lock for the call; take()
// waits for a use in progress, and after it no use sees the handle (they return false), so the
// caller that took it is the only one left to abort or destroy it.
#pragma once

#include <mutex>
#include <utility>

namespace finch::distributed {

template <class Handle>
class AbortableHandle {
 public:
  explicit AbortableHandle(Handle handle = Handle{}) : handle_(handle) {}
  AbortableHandle(const AbortableHandle&) = delete;
  AbortableHandle& operator=(const AbortableHandle&) = delete;

  // fn(handle) with the handle held alive for the call; false (fn not called) once it was taken.
  template <class Fn>
  bool use(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (handle_ == Handle{}) return false;
    std::forward<Fn>(fn)(handle_);
    return true;
  }
  // The handle, now no one else's (Handle{} when it was already taken).
  Handle take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(handle_, Handle{});
  }

 private:
  std::mutex mutex_;
  Handle handle_;
};

}  // namespace finch::distributed
