// NCCL backend (CUDA builds only): collectives on CUDA tensors, enqueued on LibTorch's current CUDA
// stream, so they order with the surrounding kernels without host synchronisation. The unique id
// travels over MPI. Failures surface as errors, never hangs: every wait polls the stream together
// with ncclCommGetAsyncError and gives up (ncclCommAbort, then an error naming the rank) after
// dist.timeout_s; and every collective nobody waits on (the gradient buckets) is watched by a
// CompletionWatchdog through a CUDA event recorded after it: past dist.timeout_s, or on an
// asynchronous NCCL error, it names the rank and the operation, calls ncclCommAbort and takes the
// job down with MPI_Abort (as the MPI path's watchdog does).
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "backends.h"
#include "finch/core/clock.h"
#include "finch/core/error.h"
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

class NcclCommunicator final : public Communicator {
 public:
  // `device` is the GPU distributed::select_device made current; NCCL binds the communicator to the
  // current device at creation, so the guard makes that explicit.
  NcclCommunicator(int device, double timeout_s) : rank_(world().rank), size_(world().size), device_(device), timeout_s_(timeout_s) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    if (world().mpi && MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
      throw RuntimeError(fmt::format("rank {}: broadcasting the NCCL id over MPI failed", rank_));
    ncclComm_t comm = nullptr;
    check(ncclCommInitRank(&comm, size_, id, rank_), "ncclCommInitRank");
    comm_ = comm;
    watchdog_ = std::make_unique<CompletionWatchdog>(
        CompletionWatchdogOptions{timeout_s_, std::chrono::milliseconds(100)},
        [this](const std::string& what, double waited) { abort_job(what, waited); },
        [this]() -> std::string {
          ncclComm_t c = comm_;
          ncclResult_t async = ncclSuccess;
          if (c == nullptr || ncclCommGetAsyncError(c, &async) != ncclSuccess) return {};
          if (async == ncclSuccess || async == ncclInProgress) return {};
          return std::string("an asynchronous NCCL error: ") + ncclGetErrorString(async);
        });
  }
  ~NcclCommunicator() override {
    watchdog_.reset();  // stops its thread before the communicator goes
    if (ncclComm_t c = comm_.exchange(nullptr)) ncclCommDestroy(c);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) override {
    for (auto& t : tensors) {
      at::Tensor d = on_device(t);
      check(ncclAllReduce(d.data_ptr(), d.data_ptr(), d.numel(), nccl_type(d.scalar_type()), nccl_op(op), comm_, stream()),
            "ncclAllReduce");
      watch("ncclAllReduce");
      finish(t, d);
    }
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    for (auto& t : tensors) {
      at::Tensor d = on_device(t);
      check(ncclBroadcast(d.data_ptr(), d.data_ptr(), d.numel(), nccl_type(d.scalar_type()), root, comm_, stream()), "ncclBroadcast");
      watch("ncclBroadcast");
      finish(t, d);
    }
  }

  void barrier() override {
    auto one = at::ones({1}, at::TensorOptions().device(at::kCUDA, device_));
    check(ncclAllReduce(one.data_ptr(), one.data_ptr(), 1, ncclFloat32, ncclSum, comm_, stream()), "ncclAllReduce(barrier)");
    wait_stream("barrier");
  }

  // Stream-ordered: the result is ready for every later kernel on this stream, no host wait needed.
  std::unique_ptr<Work> allreduce_async(at::Tensor flat, ReduceOp op) override {
    if (!flat.is_cuda() || !flat.is_contiguous()) {
      Communicator::allreduce(flat, op);
    } else {
      check(ncclAllReduce(flat.data_ptr(), flat.data_ptr(), flat.numel(), nccl_type(flat.scalar_type()), nccl_op(op), comm_, stream()),
            "ncclAllReduce");
      watch("ncclAllReduce (gradient bucket)");
    }
    struct StreamOrdered final : Work {
      void wait() override {}
    };
    return std::make_unique<StreamOrdered>();
  }

 private:
  cudaStream_t stream() const { return c10::cuda::getCurrentCUDAStream(device_).stream(); }

  // CPU (scalar helpers) or non-contiguous tensors go through a contiguous device copy.
  at::Tensor on_device(const at::Tensor& t) const {
    if (t.is_cuda() && t.is_contiguous()) return t;
    return t.to(at::TensorOptions().device(at::kCUDA, device_), /*non_blocking=*/false, /*copy=*/true).contiguous();
  }

  void finish(at::Tensor& t, const at::Tensor& d) {
    if (d.data_ptr() == t.data_ptr()) return;
    wait_stream("copy-back");  // CPU callers read the value right away
    t.copy_(d);
  }

  // A CUDA event after the collective just enqueued, for the watchdog to poll.
  void watch(const char* what) {
    cudaEvent_t event = nullptr;
    if (cudaEventCreateWithFlags(&event, cudaEventDisableTiming) != cudaSuccess) return;  // unwatched, not wrong
    cudaEventRecord(event, stream());
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
    if (ncclComm_t c = comm_.exchange(nullptr)) ncclCommAbort(c);
    if (world().mpi) MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

  void check(ncclResult_t r, const char* what) const {
    if (r != ncclSuccess && r != ncclInProgress)
      throw RuntimeError(fmt::format("rank {}: {} failed: {}", rank_, what, ncclGetErrorString(r)));
  }

  // Waits for the stream while watching for asynchronous NCCL errors (a dead peer) and the timeout.
  void wait_stream(const char* what) {
    const auto start = Clock::now();
    while (true) {
      const cudaError_t q = cudaStreamQuery(stream());
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) throw RuntimeError(fmt::format("rank {}: CUDA error during {}: {}", rank_, what, cudaGetErrorString(q)));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      if (async != ncclSuccess || waited > timeout_s_) {
        if (ncclComm_t c = comm_.exchange(nullptr)) ncclCommAbort(c);
        throw RuntimeError(fmt::format("rank {}: NCCL {} {} (a peer died or hangs); aborting", rank_, what,
                                       async != ncclSuccess ? std::string("failed: ") + ncclGetErrorString(async)
                                                            : fmt::format("took longer than dist.timeout_s={}", timeout_s_)));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::atomic<ncclComm_t> comm_{nullptr};  // the watchdog's thread reads it, and aborts it
  int rank_, size_;
  int device_;
  double timeout_s_;
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
