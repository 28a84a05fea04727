// Every difference between the LibTorch versions finch builds against (Debian's 1.13 CPU build and
// the 2.x CUDA builds inside PyTorch wheels) lives here, chosen by TORCH_VERSION_MAJOR/MINOR.
#pragma once

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/version.h>

#include <ATen/Functions.h>
#include <ATen/autocast_mode.h>
#include <functional>
#include <memory>

#define FINCH_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace finch::compat {

// Optimizer state is keyed by the parameter's TensorImpl address: a string in 1.13, a void* from 2.2.
inline auto optimizer_state_key(const at::Tensor& p) {
#if FINCH_TORCH_AT_LEAST(2, 2)
  return static_cast<void*>(p.unsafeGetTensorImpl());
#else
  return c10::guts::to_string(p.unsafeGetTensorImpl());
#endif
}

// Calls `ready` each time autograd has accumulated a gradient into p.grad (a post-hook on the
// parameter's grad accumulator, as DDP's reducer does; Tensor::register_hook fires *before*
// accumulation). Autograd holds the accumulator weakly: the caller keeps the returned owner alive.
// The accumulator is a std::shared_ptr<Node> up to 2.14 and a c10::intrusive_ptr<Node> in 2.15+:
// the owner is type-erased so that callers need neither.
inline std::shared_ptr<void> on_grad_accumulated(const at::Tensor& p, std::function<void()> ready) {
  auto acc = torch::autograd::impl::grad_accumulator(p);
  using list = std::vector<torch::autograd::Variable>;
  acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
      [ready = std::move(ready)](const list& outputs, const list&) {
        ready();
        return outputs;
      }));
  return std::make_shared<decltype(acc)>(std::move(acc));
}

// ema[i] += weight * (model[i] - ema[i]) over lists: one fused kernel per device from 2.0
// (torch._foreach_lerp_, what timm's ModelEmaV3 calls); 1.13 has no foreach lerp, and timm's own
// fallback for it, a multiply and an add, is used instead.
inline void foreach_lerp_(at::TensorList ema, at::TensorList model, double weight) {
#if FINCH_TORCH_AT_LEAST(2, 0)
  at::_foreach_lerp_(ema, model, at::Scalar(weight));
#else
  at::_foreach_mul_(ema, at::Scalar(1.0 - weight));
  at::_foreach_add_(ema, model, at::Scalar(weight));
#endif
}

// CUDA autocast on/off with a dtype. Leaving the outermost region clears the cast cache, otherwise
// stale low-precision weight copies would survive optimizer.step().
class CudaAutocast {
 public:
  CudaAutocast(bool enabled, at::ScalarType dtype) : enabled_(enabled) {
    if (!enabled_) return;
#if FINCH_TORCH_AT_LEAST(2, 4)
    previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    previous_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~CudaAutocast() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if FINCH_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(at::kCUDA, previous_);
#else
    at::autocast::set_enabled(previous_);
#endif
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool enabled_;
  bool previous_ = false;
};

}  // namespace finch::compat
