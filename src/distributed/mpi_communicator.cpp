// MPI backend. Works on CPU tensors of float, double, int32, int64 and uint8; half types are
// reduced in float. CUDA tensors are copied to host and back (correct, not fast: NCCL is the
// GPU path).
//
// Gradient buckets (allreduce_async) are reduced by a thread of their own, with the blocking
// MPI_Allreduce on a duplicate of MPI_COMM_WORLD, in the order they were started: they proceed
// while backward goes on, without anyone calling MPI_Test, and get Open MPI's tuned all-reduce.
// (MPI_Iallreduce was the first design: Open MPI's libnbc makes no progress unless MPI is called,
// and took 59 ms for EfficientNet-B0's 17 MB of gradients against 7 ms for one MPI_Allreduce,
// 2 ranks, `finch bench allreduce`.) The duplicate keeps the thread's collectives apart from the
// main thread's (SyncBN, decisions), whose order on each rank the thread cannot know. Without
// MPI_THREAD_MULTIPLE a bucket is reduced at once, in the caller's thread.
#include <mpi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/clock.h"
#include "finch/core/error.h"
#include "finch/core/trace.h"
#include "finch/distributed/communicator.h"
#include "finch/distributed/watchdog.h"
#include "finch/distributed/world.h"

namespace finch::distributed {
namespace {

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kInt: return MPI_INT32_T;
    case at::kLong: return MPI_INT64_T;
    case at::kByte: return MPI_UINT8_T;
    case at::kBool: return MPI_C_BOOL;
    default: throw RuntimeError(fmt::format("MPI backend: unsupported dtype {}", c10::toString(t)));
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw RuntimeError(fmt::format("rank {}: {} failed: {}", world().rank, what, std::string(msg, len)));
}

// A contiguous host tensor in an MPI-capable dtype that aliases `t` when possible.
at::Tensor staging(const at::Tensor& t) {
  at::Tensor s = t;
  if (!s.device().is_cpu()) s = s.cpu();
  if (s.scalar_type() == at::kHalf || s.scalar_type() == at::kBFloat16) s = s.to(at::kFloat);
  return s.contiguous();
}

void write_back(at::Tensor& dst, const at::Tensor& src) {
  if (!dst.is_same(src) && dst.data_ptr() != src.data_ptr()) dst.copy_(src);
}

// Runs submitted jobs one after another on one thread (collectives must start in the same order
// on every rank: the order they were submitted in).
class ReduceThread {
 public:
  ReduceThread() : thread_([this] { run(); }) {}
  ~ReduceThread() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  std::future<void> submit(std::function<void()> job) {
    std::packaged_task<void()> task(std::move(job));
    auto done = task.get_future();
    {
      std::lock_guard<std::mutex> lock(m_);
      jobs_.push_back(std::move(task));
    }
    cv_.notify_one();
    return done;
  }

 private:
  void run() {
    trace::name_thread("MPI reduce thread (gradient buckets)");
    while (true) {
      std::packaged_task<void()> job;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stop_, and nothing left
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();  // an exception goes into the job's future
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

// A bucket's all-reduce: on the reduce thread, or already done (no MPI_THREAD_MULTIPLE).
// wait() writes the result back into the tensor it was started on.
class MpiWork final : public Work {
 public:
  MpiWork(at::Tensor target, at::Tensor buffer, std::future<void> done, std::shared_ptr<double> busy_s)
      : target_(std::move(target)), buffer_(std::move(buffer)), done_(std::move(done)), busy_s_(std::move(busy_s)) {}
  ~MpiWork() override {
    if (done_.valid()) done_.wait();  // the thread must not write into a buffer that is gone
  }
  void wait() override {
    if (done_.valid()) {
      CollectiveGuard guard("waiting for a gradient bucket's MPI_Allreduce");
      done_.get();  // rethrows the thread's error
    }
    write_back(target_, buffer_);
  }
  double busy_seconds() const override { return *busy_s_; }  // written by the job before its future is ready

 private:
  at::Tensor target_, buffer_;
  std::future<void> done_;
  std::shared_ptr<double> busy_s_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() : rank_(world().rank), size_(world().size), active_(world().mpi) {
    if (active_ && size_ > 1 && world().thread_level >= MPI_THREAD_MULTIPLE) {
      check(MPI_Comm_dup(MPI_COMM_WORLD, &grad_comm_), "MPI_Comm_dup");
      reducer_ = std::make_unique<ReduceThread>();
    }
  }
  ~MpiCommunicator() override {
    reducer_.reset();  // finishes what was submitted
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (grad_comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&grad_comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) override {
    for (auto& t : tensors) {
      if (op == ReduceOp::kAvg && !at::isFloatingType(t.scalar_type()))
        throw RuntimeError("allreduce(avg) needs a floating-point tensor");
      if (active_ && size_ > 1) {
        at::Tensor s = staging(t);
        reduce_in_place(s, op, size_, MPI_COMM_WORLD, "MPI_Allreduce");
        write_back(t, s);
      }
    }
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    if (!active_ || size_ == 1) return;
    for (auto& t : tensors) {
      at::Tensor s = staging(t);
      CollectiveGuard guard("MPI_Bcast");
      check(MPI_Bcast(s.data_ptr(), static_cast<int>(s.numel()), mpi_type(s.scalar_type()), root, MPI_COMM_WORLD),
            "MPI_Bcast");
      write_back(t, s);
    }
  }

  std::unique_ptr<Work> allreduce_async(at::Tensor flat, ReduceOp op) override {
    if (!active_ || size_ == 1) {
      Communicator::allreduce(flat, op);
      return std::make_unique<DoneWork>();
    }
    at::Tensor buffer = staging(flat);  // the tensor itself when it is a contiguous CPU float tensor
    std::future<void> done;
    auto busy_s = std::make_shared<double>(0.0);
    if (reducer_) {
      done = reducer_->submit([buffer, op, n = size_, comm = grad_comm_, busy_s] {
        trace::Span span(trace::recording() ? fmt::format("all-reduce {:.2f} MB", buffer.nbytes() / 1e6) : std::string(), "comm");
        const auto t0 = Clock::now();
        reduce_in_place(buffer, op, n, comm, "MPI_Allreduce(gradient bucket)");
        *busy_s = seconds_since(t0);
      });
    } else {
      trace::Span span(trace::recording() ? fmt::format("all-reduce {:.2f} MB", buffer.nbytes() / 1e6) : std::string(), "comm");
      const auto t0 = Clock::now();
      reduce_in_place(buffer, op, size_, MPI_COMM_WORLD, "MPI_Allreduce(gradient bucket)");
      *busy_s = seconds_since(t0);
    }
    return std::make_unique<MpiWork>(std::move(flat), std::move(buffer), std::move(done), std::move(busy_s));
  }

  void barrier() override {
    if (!active_ || size_ == 1) return;
    CollectiveGuard guard("MPI_Barrier");
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }

 private:
  // MPI has no average: a sum divided by the world size, on the thread that reduced (for a
  // gradient bucket, the reduce thread, while backward goes on).
  static void reduce_in_place(const at::Tensor& s, ReduceOp op, int size, MPI_Comm comm, const char* what) {
    {
      CollectiveGuard guard(what);
      check(MPI_Allreduce(MPI_IN_PLACE, s.data_ptr(), static_cast<int>(s.numel()), mpi_type(s.scalar_type()), mpi_op(op), comm), what);
    }
    if (op == ReduceOp::kAvg) s.div_(size);
  }

  int rank_, size_;
  bool active_;
  MPI_Comm grad_comm_ = MPI_COMM_NULL;
  std::unique_ptr<ReduceThread> reducer_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace finch::distributed
