// Automatic augmentation (Note [Automatic augmentation]): a policy's draws become its ops, the
// transform applies them where torchvision does, and every op and whole policies equal
// torchvision's tensor implementation on real photographs (AutoAugmentReference, through ctest's
// reference.auto_augment: tests/reference/auto_augment_reference.py).
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "finch/data/auto_augment.h"
#include "finch/data/transforms.h"

using namespace finch::data;
using finch::AutoAugmentPolicy;

namespace {

// torch.randint / torch.rand values given in advance; a draw of another kind or range fails.
class ReplayAugmentDraws : public AugmentDraws {
 public:
  struct Draw {
    std::string kind;
    int64_t n = 0;
    double value = 0;
  };
  explicit ReplayAugmentDraws(std::deque<Draw> d) : d_(std::move(d)) {}
  int64_t randint(int64_t n) override {
    const Draw d = take("randint");
    if (d.n != n) throw std::runtime_error("randint(" + std::to_string(n) + ") where torchvision drew randint(" + std::to_string(d.n) + ")");
    return static_cast<int64_t>(d.value);
  }
  double rand() override { return take("rand").value; }
  bool done() const { return d_.empty(); }

 private:
  Draw take(const std::string& kind) {
    if (d_.empty()) throw std::runtime_error("asked for a " + kind + " after torchvision's last draw");
    Draw d = d_.front();
    d_.pop_front();
    if (d.kind != kind) throw std::runtime_error("asked for a " + kind + ", torchvision drew a " + d.kind);
    return d;
  }
  std::deque<Draw> d_;
};

at::Tensor read_u8(const std::filesystem::path& p, const std::vector<int64_t>& shape) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  auto t = torch::empty(shape, torch::kByte);
  if (static_cast<int64_t>(bytes.size()) != t.numel()) throw std::runtime_error("size of " + p.string());
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

}  // namespace

TEST(AutoAugment, TrivialAugmentDrawsTheOpThenItsBinThenItsSign) {
  AutoAugmentOptions o;
  o.policy = AutoAugmentPolicy::kTrivialAugmentWide;
  ReplayAugmentDraws draws({{"randint", 14, 1}, {"randint", 31, 30}, {"randint", 2, 1}});  // ShearX, the last bin, negative
  const auto steps = plan_auto_augment(o, 32, 32, draws);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_TRUE(draws.done());
  EXPECT_EQ(steps[0].op, AugOp::kShearX);
  EXPECT_NEAR(steps[0].magnitude, -0.99, 1e-6);
  ReplayAugmentDraws equalize({{"randint", 14, 13}});  // Equalize: no bin, no sign
  EXPECT_EQ(plan_auto_augment(o, 32, 32, equalize).at(0).op, AugOp::kEqualize);
  EXPECT_TRUE(equalize.done());
}

TEST(AutoAugment, AutoAugmentAppliesASubPolicysOpsByTheirProbabilities) {
  AutoAugmentOptions o;
  o.policy = AutoAugmentPolicy::kAutoAugmentImagenet;
  // sub-policy 0: (Posterize 0.4 bin 8), (Rotate 0.6 bin 9); probabilities 0.3 and 0.7: only the first
  ReplayAugmentDraws draws({{"randint", 25, 0}, {"rand", 0, 0.3}, {"rand", 0, 0.7}, {"randint", 2, 0}, {"randint", 2, 1}});
  const auto steps = plan_auto_augment(o, 64, 64, draws);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].op, AugOp::kPosterize);
  EXPECT_EQ(steps[0].magnitude, 4.0);  // 8 - round(8 / (9 / 4)) = 4 bits
}

TEST(AutoAugment, TheTransformAppliesThePlannedOpsToTheCrop) {
  const auto pixels = torch::randint(0, 256, {48, 48, 3}, torch::kByte);
  TransformOptions o;
  o.size = 32;
  o.auto_augment.policy = AutoAugmentPolicy::kRandAugment;
  int changed = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const Plan p = plan_transform(48, 48, std::nullopt, o, seed);
    ASSERT_EQ(p.augment.size(), 2u);
    Plan plain = p;
    plain.augment.clear();
    auto a = torch::empty({3, 32, 32}), b = torch::empty({3, 32, 32});
    apply_transform(pixels, 48, 48, p, o, a);
    apply_transform(pixels, 48, 48, plain, o, b);
    bool identity = true;
    for (const auto& s : p.augment) identity = identity && s.op == AugOp::kIdentity;
    if (!identity && !a.equal(b)) ++changed;
    EXPECT_EQ(plan_transform(48, 48, std::nullopt, o, seed).augment.size(), p.augment.size());  // the sample's seed decides
  }
  EXPECT_GE(changed, 8);
}

// Every op, then whole policies with torchvision's draws replayed, on real photographs.
TEST(AutoAugmentReference, WithinOneLevelOfTorchvisionOnRealPhotographs) {
  const char* dir = std::getenv("FINCH_AUTO_AUGMENT_REFERENCE");
  if (!dir) GTEST_SKIP() << "run through ctest -R reference.auto_augment (needs torchvision and the photographs)";
  std::ifstream in(std::filesystem::path(dir) / "index.json");
  const auto index = nlohmann::json::parse(in);
  int ops = 0, policies = 0, exact = 0;
  for (const auto& c : index["cases"]) {
    const auto shape = c["shape"].get<std::vector<int64_t>>();
    const auto input = read_u8(std::filesystem::path(dir) / c["input"].get<std::string>(), shape);
    const auto want = read_u8(std::filesystem::path(dir) / c["output"].get<std::string>(), shape);
    at::Tensor got;
    std::string what;
    if (c["kind"] == "op") {
      got = apply_aug_op(input, aug_op_from_name(c["op"]), c["magnitude"]);
      what = c["op"].get<std::string>() + " " + std::to_string(c["magnitude"].get<double>());
      ++ops;
    } else {
      AutoAugmentOptions o;
      const std::string p = c["policy"];
      o.policy = p == "trivialaugment_wide" ? AutoAugmentPolicy::kTrivialAugmentWide
                 : p == "autoaugment_imagenet" ? AutoAugmentPolicy::kAutoAugmentImagenet : AutoAugmentPolicy::kRandAugment;
      if (p == "randaugment_m15_ops3") o.num_ops = 3, o.magnitude = 15;
      std::deque<ReplayAugmentDraws::Draw> d;
      for (const auto& r : c["draws"]) d.push_back({r["kind"], r.value("n", int64_t{0}), r["value"].get<double>()});
      ReplayAugmentDraws draws(std::move(d));
      const auto steps = plan_auto_augment(o, shape[1], shape[2], draws);
      EXPECT_TRUE(draws.done()) << p << ": torchvision drew more";
      got = apply_auto_augment(input, steps);
      what = p;
      for (const auto& s : steps) what += std::string(" ") + aug_op_name(s.op) + "(" + std::to_string(s.magnitude) + ")";
      ++policies;
    }
    const auto diff = (got.to(torch::kInt) - want.to(torch::kInt)).abs();
    EXPECT_LE(diff.max().item<int>(), 1) << c["photo"] << " " << what << ": " << diff.gt(0).sum().item<int64_t>() << " values differ";
    if (diff.max().item<int>() == 0) ++exact;
    else std::cout << "within one level, not bitwise: " << c["photo"].get<std::string>() << " " << what << " (" << diff.gt(0).sum().item<int64_t>() << " values)\n";
  }
  EXPECT_EQ(ops, 93);
  EXPECT_EQ(policies, 96);
  std::cout << exact << " of " << ops + policies << " results bitwise torchvision's\n";
}
