// NCCL backend (CUDA builds only): collectives on CUDA tensors. Failures surface as errors, never
// hangs (issue 27's reading against ProcessGroupNCCL):
// - Setup: rank 0's unique id travels over MPI together with whether making it worked
//   (broadcast_made_on_root), and the communicator is created non-blocking (ncclConfig_t.blocking
//   = 0) and polled with ncclCommGetAsyncError up to dist.timeout_s: a wrong NCCL_SOCKET_IFNAME
//   across nodes ends in an error naming the rank and the variables to check, not a silent hang.
//   A non-blocking communicator may answer any call with ncclInProgress; settle() polls it out.
// - Gradient buckets (allreduce_async) run on a communication stream of their own, as
//   ProcessGroupNCCL's: it waits on an event from the compute stream, and the Work's wait() makes
//   the compute stream wait on the end event (no host sync), so buckets overlap backward.
//   The buckets are persistent (GradientSynchronizer), so nothing is freed under the collective.
// - Other collectives on CUDA tensors (broadcasts of weights, buffer averages, barriers) stay on
//   the current stream. CPU tensors are host values (the step's agreement, metrics, decisions,
//   validation sums): they go over the MPI control communicator, never through the device (a copy
//   there, a stream wait and a copy back: a host sync per call).
// - Every collective nobody waits on is watched by a CompletionWatchdog through a CUDA event
//   recorded after it: past dist.timeout_s, or on an asynchronous NCCL error, it names the rank and
//   the operation, aborts the communicator and takes the job down with MPI_Abort. The communicator
//   is an AbortableHandle (Note [Aborting a communicator another thread uses]).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "backends.h"
#include "finch/core/clock.h"
#include "finch/core/error.h"
#include "finch/core/trace.h"
#include "finch/distributed/abortable_handle.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/completion_watchdog.h"
#include "finch/distributed/world.h"

namespace finch::distributed {
namespace {

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return ncclFloat32;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
    case at::kDouble: return ncclFloat64;
    case at::kInt: return ncclInt32;
    case at::kLong: return ncclInt64;
    case at::kByte: return ncclUint8;
    case at::kChar: return ncclInt8;
    default: throw RuntimeError(fmt::format("NCCL backend: unsupported dtype {}", c10::toString(t)));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAvg: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
    case ReduceOp::kMin: return ncclMin;
  }
  return ncclSum;
}

// What to check when the communicator cannot be set up (ncclCommInitRank never returns: the ranks
// cannot reach each other) or a collective fails.
constexpr const char* kNcclHints =
    "check NCCL_SOCKET_IFNAME (an interface every node reaches the others on, e.g. ib0 or eth0; not lo across nodes), "
    "NCCL_IB_HCA / NCCL_IB_DISABLE=1 (InfiniBand), a firewall between the nodes, and NCCL_DEBUG=INFO for NCCL's own account";

class NcclCommunicator final : public Communicator {
 public:
  // `device` is the GPU distributed::select_device made current; NCCL binds the communicator to the
  // current device at creation, so the guard makes that explicit.
  NcclCommunicator(int device, double timeout_s)
      : rank_(world().rank), size_(world().size), device_(device), timeout_s_(timeout_s), control_(make_mpi_communicator()) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    ncclUniqueId id;
    const auto bytes = broadcast_made_on_root(
        sizeof(id), [this](char* out) { check(ncclGetUniqueId(reinterpret_cast<ncclUniqueId*>(out)), "ncclGetUniqueId"); },
        "create the NCCL unique id");
    std::memcpy(&id, bytes.data(), sizeof(id));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // returns at once; settle() below bounds the wait by dist.timeout_s
    ncclComm_t comm = nullptr;
    const ncclResult_t r = ncclCommInitRankConfig(&comm, size_, id, rank_, &config);
    if (comm == nullptr) check(r, "ncclCommInitRankConfig");
    comm_ = std::make_unique<AbortableHandle<ncclComm_t>>(comm);
    settle(r, "setting up the communicator (ncclCommInitRankConfig)");
    comm_stream_ = std::make_unique<c10::cuda::CUDAStream>(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device_));
    watchdog_ = std::make_unique<CompletionWatchdog>(
        CompletionWatchdogOptions{timeout_s_, std::chrono::milliseconds(100)},
        [this](const std::string& what, double waited) { abort_job(what, waited); },
        [this]() -> std::string {
          const auto s = state();  // nullopt: aborted by this rank, which says so itself
          if (!s || *s == ncclSuccess || *s == ncclInProgress) return {};
          return std::string("an asynchronous NCCL error: ") + ncclGetErrorString(*s);
        });
  }
  ~NcclCommunicator() override {
    watchdog_.reset();  // stops its thread before the communicator goes
    if (comm_)
      if (ncclComm_t c = comm_->take()) ncclCommDestroy(c);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) override {
    for (auto& t : tensors) {
      if (!t.is_cuda()) {
        control_->allreduce(t, op);
        continue;
      }
      at::Tensor d = t.contiguous();
      call("ncclAllReduce", [&](ncclComm_t c) {
        return ncclAllReduce(d.data_ptr(), d.data_ptr(), d.numel(), nccl_type(d.scalar_type()), nccl_op(op), c, stream());
      });
      watch("ncclAllReduce", stream());
      finish(t, d);
    }
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    for (auto& t : tensors) {
      if (!t.is_cuda()) {
        std::vector<at::Tensor> one{t};
        control_->broadcast(one, root);
        continue;
      }
      at::Tensor d = t.contiguous();
      call("ncclBroadcast", [&](ncclComm_t c) {
        return ncclBroadcast(d.data_ptr(), d.data_ptr(), d.numel(), nccl_type(d.scalar_type()), root, c, stream());
      });
      watch("ncclBroadcast", stream());
      finish(t, d);
    }
  }

  void barrier() override {
    auto one = at::ones({1}, at::TensorOptions().device(at::kCUDA, device_));
    call("ncclAllReduce(barrier)", [&](ncclComm_t c) { return ncclAllReduce(one.data_ptr(), one.data_ptr(), 1, ncclFloat32, ncclSum, c, stream()); });
    wait_stream("barrier");
  }

  // On the communication stream, after everything the compute stream enqueued so far (the
  // bucket's gradients); wait() orders the compute stream after it, without a host wait.
  std::unique_ptr<Work> allreduce_async(at::Tensor flat, ReduceOp op) override {
    if (!flat.is_cuda() || !flat.is_contiguous()) return Communicator::allreduce_async(flat, op);
    // The host's part only: enqueueing (the stream's own timing would need CUDA events).
    trace::Span span(trace::recording() ? fmt::format("ncclAllReduce enqueue {:.2f} MB", flat.nbytes() / 1e6) : std::string(), "comm");
    const cudaStream_t compute = stream(), comm_stream = comm_stream_->stream();
    cudaEvent_t ready = make_event();
    cudaEventRecord(ready, compute);
    cudaStreamWaitEvent(comm_stream, ready, 0);
    cudaEventDestroy(ready);  // released once recorded work completes
    // The allocator must not hand the bucket's memory out again before the collective is done
    // (the buckets live as long as the synchronizer; this keeps a temporary safe too).
    c10::cuda::CUDACachingAllocator::recordStream(flat.storage().data_ptr(), *comm_stream_);
    call("ncclAllReduce (gradient bucket)", [&](ncclComm_t c) {
      return ncclAllReduce(flat.data_ptr(), flat.data_ptr(), flat.numel(), nccl_type(flat.scalar_type()), nccl_op(op), c, comm_stream);
    });
    watch("ncclAllReduce (gradient bucket)", comm_stream);
    cudaEvent_t done = make_event();
    cudaEventRecord(done, comm_stream);
    struct StreamOrdered final : Work {
      StreamOrdered(cudaEvent_t e, int device) : event(e), device(device) {}
      ~StreamOrdered() override {
        if (event) cudaEventDestroy(event);
      }
      void wait() override {
        cudaStreamWaitEvent(c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream(), event, 0);
      }
      cudaEvent_t event;
      int device;
    };
    return std::make_unique<StreamOrdered>(done, device_);
  }

 private:
  cudaStream_t stream() const { return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)).stream(); }

  cudaEvent_t make_event() const {
    cudaEvent_t event = nullptr;
    if (cudaEventCreateWithFlags(&event, cudaEventDisableTiming) != cudaSuccess)
      throw RuntimeError(fmt::format("rank {}: cudaEventCreate failed", rank_));
    return event;
  }

  // A non-contiguous tensor went through a contiguous copy: back into it, on the same stream.
  static void finish(at::Tensor& t, const at::Tensor& d) {
    if (d.data_ptr() != t.data_ptr()) t.copy_(d);
  }

  // A CUDA event after the collective just enqueued on `s`, for the watchdog to poll.
  void watch(const char* what, cudaStream_t s) {
    cudaEvent_t event = nullptr;
    if (cudaEventCreateWithFlags(&event, cudaEventDisableTiming) != cudaSuccess) return;  // unwatched, not wrong
    cudaEventRecord(event, s);
    const int device = device_;
    watchdog_->watch(what, [event, device] {
      cudaSetDevice(device);  // the watchdog's thread
      if (cudaEventQuery(event) == cudaErrorNotReady) return false;
      cudaEventDestroy(event);
      return true;
    });
  }

  // The watchdog's verdict (on its thread): a message naming this rank and the operation, then
  // ncclCommAbort (kernels waiting on a dead peer return) and MPI_Abort (the launcher ends every rank).
  void abort_job(const std::string& what, double waited) {
    if (waited > 0)
      std::fprintf(stderr,
                   "finch: error: rank %d: %s has not completed after %.0f s, longer than dist.timeout_s=%.0f: a peer rank died "
                   "or hangs; aborting NCCL and the job\n",
                   rank_, what.c_str(), waited, timeout_s_);
    else
      std::fprintf(stderr, "finch: error: rank %d: %s (a peer rank died?); aborting NCCL and the job\n", rank_, what.c_str());
    std::fflush(stderr);
    if (ncclComm_t c = comm_->take()) ncclCommAbort(c);
    if (world().mpi) MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

  // Before the communicator exists (the unique id, its creation).
  void check(ncclResult_t r, const char* what) const {
    if (r != ncclSuccess && r != ncclInProgress)
      throw RuntimeError(fmt::format("rank {}: {} failed: {}; {}", rank_, what, ncclGetErrorString(r), kNcclHints));
  }

  // The communicator's asynchronous state; nullopt once it was aborted (taken).
  std::optional<ncclResult_t> state() {
    std::optional<ncclResult_t> s;
    comm_->use([&](ncclComm_t c) {
      ncclResult_t r = ncclSuccess;
      ncclCommGetAsyncError(c, &r);
      s = r;
    });
    return s;
  }

  // Aborts the communicator (if this rank still holds it) and throws naming the rank, what failed
  // and what to check.
  [[noreturn]] void fail(const char* what, const std::string& why) {
    if (ncclComm_t c = comm_->take()) ncclCommAbort(c);
    throw RuntimeError(fmt::format("rank {}: NCCL {} {}; {}", rank_, what, why, kNcclHints));
  }

  // Polls `done` until it holds, while the communicator stays healthy, for at most dist.timeout_s:
  // an asynchronous error (a dead peer) or the timeout aborts the communicator and throws.
  template <class Done>
  void wait_until(const char* what, Done&& done) {
    const auto start = Clock::now();
    while (!done()) {
      const auto s = state();
      if (!s) fail(what, "was aborted");
      if (*s != ncclSuccess && *s != ncclInProgress) fail(what, std::string("failed: ") + ncclGetErrorString(*s));
      if (seconds_since(start) > timeout_s_) fail(what, fmt::format("did not finish within dist.timeout_s={} s (a peer died or hangs?)", timeout_s_));
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  // One NCCL call on the communicator, then settle() for a non-blocking communicator's answer.
  template <class Fn>
  void call(const char* what, Fn&& fn) {
    ncclResult_t r = ncclSuccess;
    if (!comm_->use([&](ncclComm_t c) { r = fn(c); })) throw RuntimeError(fmt::format("rank {}: {} after NCCL was aborted", rank_, what));
    settle(r, what);
  }

  // A non-blocking communicator answers ncclInProgress while it still works on a call (the
  // setup; a collective's first connection to a peer): wait until its state is ncclSuccess.
  void settle(ncclResult_t r, const char* what) {
    if (r == ncclSuccess) return;
    if (r != ncclInProgress) fail(what, std::string("failed: ") + ncclGetErrorString(r));
    wait_until(what, [&] { return state() == std::optional<ncclResult_t>(ncclSuccess); });
  }

  // Waits for the current stream (a barrier's collective) under the same watch.
  void wait_stream(const char* what) {
    wait_until(what, [&] {
      const cudaError_t q = cudaStreamQuery(stream());
      if (q != cudaSuccess && q != cudaErrorNotReady)
        throw RuntimeError(fmt::format("rank {}: CUDA error during {}: {}", rank_, what, cudaGetErrorString(q)));
      return q == cudaSuccess;
    });
  }

  int rank_, size_;
  int device_;
  double timeout_s_;
  std::unique_ptr<Communicator> control_;  // MPI: CPU tensors (host values)
  std::unique_ptr<AbortableHandle<ncclComm_t>> comm_;  // the watchdog's thread reads it, and may abort it
  std::unique_ptr<c10::cuda::CUDAStream> comm_stream_;  // the gradient buckets' (CUDAStream has no default constructor)
  std::unique_ptr<CompletionWatchdog> watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(int device, double timeout_s) {
  return std::make_unique<NcclCommunicator>(device, timeout_s);
}

std::string nccl_version() {
  int v = 0;
  ncclGetVersion(&v);
  return fmt::format("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
}

}  // namespace finch::distributed
