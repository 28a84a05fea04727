#include "finch/distributed/grad_sync.h"

#include <algorithm>
#include <mutex>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>

#include "finch/core/clock.h"
#include "finch/core/error.h"
#include "finch/core/torch_compat.h"

namespace finch::distributed {

struct GradientSynchronizer::State {
  Communicator* comm = nullptr;
  std::vector<at::Tensor> params;
  std::vector<std::vector<size_t>> buckets;  // parameter indices per bucket
  std::vector<size_t> bucket_of;             // parameter -> bucket
  std::vector<int64_t> offset;               // parameter -> first element in its bucket
  std::vector<size_t> sizes;
  std::vector<size_t> pending;               // gradients still missing per bucket
  std::vector<at::Tensor> flat;              // one persistent buffer per bucket; gradients are views into it
  std::vector<std::unique_ptr<Work>> work;
  size_t next_launch = 0;
  bool sync = true;
  bool alone = false;                        // world size 1: no hooks, no buffers, nothing reduced
  bool prescaled = false;                    // the loss carries 1/world: sum, divide nothing
  bool active = true;                        // false once the synchronizer is destroyed
  Overlap overlap;
  std::mutex m;                              // CUDA backward runs hooks on device threads

  // Parameter i's place in its bucket, with the parameter's own strides (channels_last weights get
  // channels_last gradients, as DDP's bucket views do). It shares the bucket's storage without
  // being an autograd view, so LibTorch 1.13's Optimizer::zero_grad (detach_, then zero_ in place)
  // still works on it. Made once: a launch checks ~200 of them per step.
  at::Tensor make_view(size_t i) const {
    const auto& p = params[i];
    const auto& f = flat[bucket_of[i]];
    at::Tensor v = at::empty({0}, f.options());
    v.set_(f.storage(), f.storage_offset() + offset[i], p.sizes(), p.strides());
    return v;
  }
  std::vector<at::Tensor> views;
  bool is_view(size_t i) const {
    const auto& g = params[i].grad();
    return g.defined() && g.data_ptr() == views[i].data_ptr() && g.strides() == params[i].strides();
  }

  // Backward accumulates into the views in place once they are the gradients; a gradient that is
  // not one (the first step, an unused parameter, one replaced by other code) is copied in, or
  // zeroed, and replaced by its view. Then the bucket's all-reduce starts.
  void launch(size_t b) {
    for (size_t i : buckets[b]) {
      if (is_view(i)) continue;
      auto& p = params[i];
      const at::Tensor& v = views[i];
      if (p.grad().defined()) v.copy_(p.grad());
      else v.zero_();
      p.mutable_grad() = v;
    }
    // Prescaled: the gradients are already divided. Otherwise ncclAvg, or MPI divides on its reduce thread.
    work[b] = comm->allreduce_async(flat[b], prescaled ? ReduceOp::kSum : ReduceOp::kAvg);
  }

  void ready(size_t i) {
    std::lock_guard<std::mutex> lock(m);
    if (!active || !sync) return;
    const size_t b = bucket_of[i];
    if (pending[b] > 0) --pending[b];
    while (next_launch < buckets.size() && pending[next_launch] == 0) launch(next_launch++);
  }
};

GradientSynchronizer::GradientSynchronizer(Communicator& comm, std::vector<at::Tensor> params, GradientSynchronizerOptions options)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  s.comm = &comm;
  s.alone = comm.size() == 1;
  s.prescaled = options.loss_prescaled;
  const double bucket_mb = options.bucket_mb;
  for (auto& p : params)
    if (p.requires_grad()) {
      if (!p.is_non_overlapping_and_dense())  // a bucket view needs the parameter's strides to cover it densely
        throw RuntimeError("gradient synchronizer: a parameter is not dense (sizes " + c10::str(p.sizes()) + ", strides " +
                           c10::str(p.strides()) + ")");
      s.params.push_back(p);
    }
  // DDP's layout: buckets of about bucket_mb in reverse registration order, the first one small
  // (1 MiB, as DDP's first bucket) so that its all-reduce starts as soon as backward has produced
  // the classifier's gradients. A bucket holds one dtype on one device.
  const double cap = bucket_mb * 1024 * 1024, first_cap = std::min(cap, 1024.0 * 1024.0);
  s.bucket_of.assign(s.params.size(), 0);
  s.offset.assign(s.params.size(), 0);
  double bytes = 0;
  int64_t elements = 0;
  for (size_t k = s.params.size(); k-- > 0;) {
    const auto& p = s.params[k];
    const double n = static_cast<double>(p.numel() * p.element_size());
    const bool full = !s.buckets.empty() && bytes + n > (s.buckets.size() == 1 ? first_cap : cap);
    const bool other_kind = !s.buckets.empty() && (p.scalar_type() != s.params[s.buckets.back().front()].scalar_type() ||
                                                   p.device() != s.params[s.buckets.back().front()].device());
    if (s.buckets.empty() || full || other_kind) {
      s.buckets.emplace_back();
      bytes = 0;
      elements = 0;
    }
    s.buckets.back().push_back(k);
    s.bucket_of[k] = s.buckets.size() - 1;
    s.offset[k] = elements;
    bytes += n;
    elements += p.numel();
  }
  for (const auto& b : s.buckets) {
    s.sizes.push_back(b.size());
    int64_t n = 0;
    for (size_t i : b) n += s.params[i].numel();
    if (!s.alone) s.flat.push_back(at::zeros({n}, s.params[b.front()].options().requires_grad(false)));
  }
  for (size_t i = 0; i < s.params.size() && !s.alone; ++i) s.views.push_back(s.make_view(i));
  s.pending.assign(s.buckets.size(), 0);
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

double GradientSynchronizer::loss_factor() const {
  const auto& s = *state_;
  return s.prescaled && !s.alone ? 1.0 / s.comm->size() : 1.0;
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
  // The gradients are views into the buckets, which are reduced in place: nothing to copy back.
  const auto t0 = Clock::now();
  double busy = 0;
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    s.work[b]->wait();
    const double w = s.work[b]->busy_seconds();
    busy = busy < 0 || w < 0 ? -1 : busy + w;
    s.work[b].reset();
  }
  s.overlap.exposed_s += seconds_since(t0);
  s.overlap.comm_s = s.overlap.comm_s < 0 || busy < 0 ? -1 : s.overlap.comm_s + busy;
  ++s.overlap.syncs;
  prepare();
}

void GradientSynchronizer::zero_grad() {
  auto& s = *state_;
  if (s.alone) {
    // As PyTorch's zero_grad(set_to_none=True): backward then writes fresh gradients, no memset.
    for (auto& p : s.params) p.mutable_grad() = at::Tensor();
    return;
  }
  for (auto& f : s.flat) f.zero_();
  for (size_t i = 0; i < s.params.size(); ++i)
    if (!s.is_view(i)) s.params[i].mutable_grad() = at::Tensor();  // launch() puts its view back
}

GradientSynchronizer::Overlap GradientSynchronizer::overlap() const { return state_->overlap; }
void GradientSynchronizer::reset_overlap() { state_->overlap = {}; }

size_t GradientSynchronizer::num_buckets() const { return state_->buckets.size(); }
const std::vector<size_t>& GradientSynchronizer::bucket_sizes() const { return state_->sizes; }

void broadcast_tensors(Communicator& comm, const std::vector<at::Tensor>& tensors, int root) {
  std::vector<at::Tensor> ts;
  for (const auto& t : tensors) ts.push_back(t.detach());
  comm.broadcast(ts, root);
}

}  // namespace finch::distributed
