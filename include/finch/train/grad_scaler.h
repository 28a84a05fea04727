// fp16 dynamic loss scaling, as torch.cuda.amp.GradScaler: the loss is multiplied by `scale` before
// backward so that small fp16 gradients do not flush to zero; after the gradients are synchronised
// `unscale_` divides them in place and leaves an inf/NaN flag on the device (no host read: the step
// reads it with the loss, once); the ranks agree on it with the step's other decisions, and
// `update` then backs the scale off (the step is skipped everywhere) or, after `growth_interval`
// clean steps in a row, grows it. Disabled (bf16, fp32): scale 1, every call a no-op.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>


namespace finch::train {

struct GradScalerOptions {
  bool enabled = false;
  double init_scale = 65536.0;  // GradScaler's defaults
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});

  bool enabled() const { return o_.enabled; }
  double scale() const { return scale_; }
  // Steps skipped for non-finite gradients since this process started (metrics: "overflows").
  int64_t overflows() const { return overflows_; }

  // `loss` times the scale (the loss itself when disabled).
  at::Tensor scale_loss(const at::Tensor& loss) const;

  // After the gradients of `params` are averaged: divides them by the scale in place and returns a
  // one-element float tensor on their device, 1 when any of them holds inf/NaN, else 0 (on CUDA in
  // one fused kernel, torch's own _amp_foreach_non_finite_check_and_unscale_). No host read, no
  // collective. Undefined when disabled or when no parameter has a gradient.
  at::Tensor unscale_(const std::vector<at::Tensor>& params) const;

  // Once the ranks agreed whether any of them found inf/NaN (the step is then skipped everywhere):
  // backs the scale off, or counts a clean step toward growth. No-op when disabled.
  void update(bool found_inf_anywhere);

  // {"enabled", "scale", "growth_tracker"}: saved with the run so a resumed fp16 run keeps its scale.
  nlohmann::json state() const;
  void load(const nlohmann::json& state);

 private:
  GradScalerOptions o_;
  double scale_;                // 1 when disabled
  int64_t growth_tracker_ = 0;  // clean steps since the last growth or back-off
  int64_t overflows_ = 0;
};

}  // namespace finch::train
