#include "finch/distributed/grad_sync.h"

#include <mutex>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>

#include "finch/core/error.h"
#include "finch/core/torch_compat.h"

namespace finch::distributed {

struct GradientSynchronizer::State {
  Communicator* comm = nullptr;
  std::vector<at::Tensor> params;
  std::vector<std::vector<size_t>> buckets;  // parameter indices per bucket
  std::vector<size_t> bucket_of;             // parameter -> bucket
  std::vector<size_t> sizes;
  std::vector<size_t> pending;               // gradients still missing per bucket
  std::vector<at::Tensor> flat;
  std::vector<std::unique_ptr<Work>> work;
  size_t next_launch = 0;
  bool sync = true;
  bool alone = false;                        // world size 1: no hooks, no copies, nothing reduced
  bool active = true;                        // false once the synchronizer is destroyed
  std::mutex m;                              // CUDA backward runs hooks on device threads

  void launch(size_t b) {
    std::vector<at::Tensor> grads;
    for (size_t i : buckets[b]) {
      const auto& p = params[i];
      grads.push_back(p.grad().defined() ? p.grad().reshape({-1}) : at::zeros({p.numel()}, p.options()));
    }
    flat[b] = at::cat(grads);
    work[b] = comm->allreduce_async(flat[b], ReduceOp::kSum);
  }

  void ready(size_t i) {
    std::lock_guard<std::mutex> lock(m);
    if (!active || !sync) return;
    const size_t b = bucket_of[i];
    if (pending[b] > 0) --pending[b];
    while (next_launch < buckets.size() && pending[next_launch] == 0) launch(next_launch++);
  }
};

GradientSynchronizer::GradientSynchronizer(Communicator& comm, std::vector<at::Tensor> params, double bucket_mb)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  s.comm = &comm;
  s.alone = comm.size() == 1;
  for (auto& p : params)
    if (p.requires_grad()) s.params.push_back(p);
  const double cap = bucket_mb * 1024 * 1024;
  s.bucket_of.assign(s.params.size(), 0);
  double bytes = 0;
  for (size_t k = s.params.size(); k-- > 0;) {
    const double n = static_cast<double>(s.params[k].numel() * s.params[k].element_size());
    if (s.buckets.empty() || (bytes + n > cap && !s.buckets.back().empty())) {
      s.buckets.emplace_back();
      bytes = 0;
    }
    s.buckets.back().push_back(k);
    s.bucket_of[k] = s.buckets.size() - 1;
    bytes += n;
  }
  for (const auto& b : s.buckets) s.sizes.push_back(b.size());
  s.pending.assign(s.buckets.size(), 0);
  s.flat.resize(s.buckets.size());
  s.work.resize(s.buckets.size());
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < s.params.size() && !s.alone; ++i)
    accumulators_.push_back(compat::on_grad_accumulated(s.params[i], [weak, i] {
      if (auto st = weak.lock()) st->ready(i);
    }));
  prepare();
}

GradientSynchronizer::~GradientSynchronizer() {
  std::lock_guard<std::mutex> lock(state_->m);
  state_->active = false;  // the hooks stay registered on the accumulators but do nothing
}

void GradientSynchronizer::set_sync(bool enabled) { state_->sync = enabled; }

void GradientSynchronizer::prepare() {
  auto& s = *state_;
  std::lock_guard<std::mutex> lock(s.m);
  for (size_t b = 0; b < s.buckets.size(); ++b) s.pending[b] = s.buckets[b].size();
  s.next_launch = 0;
}

void GradientSynchronizer::finish() {
  auto& s = *state_;
  if (!s.sync) return;
  if (s.alone) {
    // A world of one averages nothing: the gradients stay where backward put them. Only what a
    // larger world would do to a parameter that got no gradient (a zero to average) is kept.
    for (auto& p : s.params)
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(s.m);
    // Parameters that got no gradient this step (unused branches) count as zero.
    while (s.next_launch < s.buckets.size()) s.launch(s.next_launch++);
  }
  const double world = s.comm->size();
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    s.work[b]->wait();
    s.work[b].reset();
    s.flat[b].div_(world);
    int64_t offset = 0;
    for (size_t i : s.buckets[b]) {
      auto& p = s.params[i];
      const int64_t n = p.numel();
      auto slice = s.flat[b].narrow(0, offset, n).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(slice);
      else p.mutable_grad() = slice.clone();
      offset += n;
    }
    s.flat[b] = at::Tensor();
  }
  prepare();
}

size_t GradientSynchronizer::num_buckets() const { return state_->buckets.size(); }
const std::vector<size_t>& GradientSynchronizer::bucket_sizes() const { return state_->sizes; }

void broadcast_tensors(Communicator& comm, const std::vector<at::Tensor>& tensors, int root) {
  std::vector<at::Tensor> ts;
  for (const auto& t : tensors) ts.push_back(t.detach());
  comm.broadcast(ts, root);
}

}  // namespace finch::distributed
