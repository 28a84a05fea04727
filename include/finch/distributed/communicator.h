// Collectives over all ranks, in place on LibTorch tensors. Two backends: MPI (CPU tensors; CUDA
// tensors are staged through host memory) and NCCL (CUDA tensors, on LibTorch's current stream).
// Every rank must call the same collectives in the same order with tensors of the same shapes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "finch/core/config.h"

namespace finch::distributed {

enum class ReduceOp { kSum, kAvg, kMax, kMin };

// A collective in flight. wait() returns once the result is in the tensor it was started on.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  // After wait(): how long the collective itself ran on the host, in seconds (MPI: the
  // MPI_Allreduce call and the division); negative where the host does not see it (NCCL runs on
  // the device).
  virtual double busy_seconds() const { return -1; }
};

// A collective that was done by the time it was started (a synchronous backend, a world of one).
class DoneWork final : public Work {
 public:
  explicit DoneWork(double busy_s = 0) : busy_s_(busy_s) {}
  void wait() override {}
  double busy_seconds() const override { return busy_s_; }

 private:
  double busy_s_;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;

  virtual void allreduce(std::vector<at::Tensor>& tensors, ReduceOp op) = 0;
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;

  // Starts an in-place all-reduce of one contiguous tensor and returns at once, so that gradient
  // buckets reduce while backward goes on. Default: done synchronously.
  virtual std::unique_ptr<Work> allreduce_async(at::Tensor flat, ReduceOp op);

  // Scalar helpers for decisions and metrics (always exact: double on the wire). They pass CPU
  // tensors, which the NCCL backend sends over MPI, never through the device.
  std::vector<double> allreduce_values(std::vector<double> values, ReduceOp op);
  double allreduce_value(double value, ReduceOp op) { return allreduce_values({value}, op)[0]; }
  int64_t broadcast_value(int64_t value, int root);
  // `root`'s text on every rank (a resolved config to compare with one's own).
  std::string broadcast_text(const std::string& text, int root);
  void allreduce(at::Tensor tensor, ReduceOp op) {
    std::vector<at::Tensor> one{std::move(tensor)};
    allreduce(one, op);
  }
};

// MPI_COMM_WORLD (a world of one when no launcher started the process). The other backends'
// factories are in src/distributed/backends.h.
std::unique_ptr<Communicator> make_mpi_communicator();

// dist.backend: "auto" is NCCL when the model is on CUDA, MPI otherwise. `device` is the one
// distributed::select_device chose (NCCL's communicator lives on it). ConfigError for a backend this
// build or device cannot provide.
std::unique_ptr<Communicator> make_communicator(Backend backend, const c10::Device& device, double timeout_s);

// "NCCL 2.28.9" in CUDA builds, "not in this build" otherwise.
std::string nccl_description();

}  // namespace finch::distributed
