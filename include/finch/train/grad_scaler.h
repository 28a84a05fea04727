// fp16 dynamic loss scaling, as torch.cuda.amp.GradScaler: the loss is multiplied by `scale` before
// backward so that small fp16 gradients do not flush to zero; after the gradients are synchronised
// the scaler checks them for inf/NaN on every rank (one agreed answer), skips the step and backs
// off the scale when any rank overflowed, else unscales them in place and lets the optimizer step;
// after `growth_interval` clean steps in a row the scale grows. Disabled (bf16, fp32, CPU): scale 1,
// every call a no-op.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "finch/distributed/communicator.h"

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

  // Collective (when enabled): every rank calls it after the gradients of `params` are averaged.
  // Returns true when the optimizer may step (gradients unscaled in place); false when some rank
  // saw inf/NaN: the step is to be skipped everywhere and the scale was backed off.
  bool unscale_and_check(const std::vector<at::Tensor>& params, distributed::Communicator& comm);

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
