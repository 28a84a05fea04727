// Automatic augmentation on the uint8 crop, as torchvision's TrivialAugmentWide, RandAugment and
// AutoAugment (ImageNet policy) with their tensor implementation (torchvision/transforms/
// autoaugment.py, _functional_tensor.py): nearest interpolation, no fill (0 outside the image).
//
// Note [Automatic augmentation]
// With data.auto_augment each training image, after the crop and the flip and before Normalize (and
// random erasing), goes through one policy's ops. The ops and their magnitudes are planned with the
// sample's other augmentation draws (transforms.cpp plan_transform: one Rng per (seed, epoch,
// sample)), in torchvision's order of draws (which op, which bin, which sign; AutoAugment: which
// sub-policy, each op's probability and sign), so the pixels do not depend on the world size, a
// worker or a resume. Each op is torchvision's tensor code in ATen ops (an affine op is its grid
// and grid_sample); the reference test compares every op on real photographs and replays
// torchvision's own draws through whole policies (AugmentDraws).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/core/config.h"

namespace finch::data {

enum class AugOp {
  kIdentity, kShearX, kShearY, kTranslateX, kTranslateY, kRotate, kBrightness, kColor, kContrast, kSharpness,
  kPosterize, kSolarize, kAutoContrast, kEqualize, kInvert,
};
const char* aug_op_name(AugOp op);            // torchvision's name: "ShearX"
AugOp aug_op_from_name(const std::string& name);

struct AugStep {
  AugOp op = AugOp::kIdentity;
  double magnitude = 0;  // signed, as torchvision passes it to _apply_op
};

struct AutoAugmentOptions {
  AutoAugmentPolicy policy = AutoAugmentPolicy::kNone;
  int num_ops = 2;          // randaugment
  int magnitude = 9;        // randaugment: the bin
  int magnitude_bins = 31;  // randaugment, trivialaugment_wide
};

// torch.randint / torch.rand as torchvision's policies call them.
class AugmentDraws {
 public:
  virtual ~AugmentDraws() = default;
  virtual int64_t randint(int64_t n) = 0;  // torch.randint(n, (1,))
  virtual double rand() = 0;               // one value of torch.rand((k,)), a float32
};

// One image's ops (h x w: the crop the ops see), drawn as the policy's forward draws them.
std::vector<AugStep> plan_auto_augment(const AutoAugmentOptions& o, int64_t h, int64_t w, AugmentDraws& draws);

// torchvision's _apply_op on a uint8 3 x H x W image (NEAREST, fill None); a new tensor.
at::Tensor apply_aug_op(const at::Tensor& chw, AugOp op, double magnitude);
at::Tensor apply_auto_augment(at::Tensor chw, const std::vector<AugStep>& steps);

}  // namespace finch::data
