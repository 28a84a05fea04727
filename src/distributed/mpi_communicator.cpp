// MPI backend. Works on CPU tensors of float, double, int32, int64 and uint8; half types are
// reduced in float. CUDA tensors are copied to host and back (correct, not fast: NCCL is the
// GPU path).
#include <mpi.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/error.h"
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

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() : rank_(world().rank), size_(world().size), active_(world().mpi) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) override {
    for (auto& t : tensors) {
      if (op == ReduceOp::kAvg && !at::isFloatingType(t.scalar_type()))
        throw RuntimeError("allreduce(avg) needs a floating-point tensor");
      if (active_ && size_ > 1) {
        at::Tensor s = staging(t);
        CollectiveGuard guard("MPI_Allreduce");
        check(MPI_Allreduce(MPI_IN_PLACE, s.data_ptr(), static_cast<int>(s.numel()), mpi_type(s.scalar_type()),
                            mpi_op(op), MPI_COMM_WORLD),
              "MPI_Allreduce");
        write_back(t, s);
      }
      if (op == ReduceOp::kAvg && size_ > 1) t.div_(size_);
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

  std::unique_ptr<Work> allreduce_async(at::Tensor flat, ReduceOp op) override;

  void barrier() override {
    if (!active_ || size_ == 1) return;
    CollectiveGuard guard("MPI_Barrier");
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }

 private:
  int rank_, size_;
  bool active_;
};

// MPI_Iallreduce on a host copy (or the tensor itself when it is a contiguous CPU tensor of an
// MPI type); wait() completes it and writes the result back.
class MpiWork final : public Work {
 public:
  MpiWork(at::Tensor target, ReduceOp op, int size) : target_(std::move(target)), op_(op), size_(size) {
    buffer_ = staging(target_);
    check(MPI_Iallreduce(MPI_IN_PLACE, buffer_.data_ptr(), static_cast<int>(buffer_.numel()), mpi_type(buffer_.scalar_type()),
                         mpi_op(op), MPI_COMM_WORLD, &request_),
          "MPI_Iallreduce");
  }
  ~MpiWork() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  void wait() override {
    CollectiveGuard guard("MPI_Wait(gradient all-reduce)");
    check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait(allreduce)");
    write_back(target_, buffer_);
    if (op_ == ReduceOp::kAvg) target_.div_(size_);
  }

 private:
  at::Tensor target_, buffer_;
  ReduceOp op_;
  int size_;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

class DoneWork final : public Work {
 public:
  void wait() override {}
};

std::unique_ptr<Work> MpiCommunicator::allreduce_async(at::Tensor flat, ReduceOp op) {
  if (!active_ || size_ == 1) {
    Communicator::allreduce(flat, op);
    return std::make_unique<DoneWork>();
  }
  return std::make_unique<MpiWork>(std::move(flat), op, size_);
}

}  // namespace

std::unique_ptr<Work> Communicator::allreduce_async(at::Tensor flat, ReduceOp op) {
  allreduce(flat, op);
  struct Done final : Work {
    void wait() override {}
  };
  return std::make_unique<Done>();
}

std::vector<double> Communicator::allreduce_values(std::vector<double> values, ReduceOp op) {
  at::Tensor t = at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, at::kDouble);
  allreduce(t, op);
  return values;
}

int64_t Communicator::broadcast_value(int64_t value, int root) {
  std::vector<at::Tensor> t{at::from_blob(&value, {1}, at::kLong)};
  broadcast(t, root);
  return value;
}

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace finch::distributed
