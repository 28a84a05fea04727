#include "finch/model/weights.h"

#include <map>

#include <fmt/format.h>
#include <torch/torch.h>

#include "finch/core/error.h"

namespace finch::model {
namespace {

std::string shape(const at::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

std::string listing(const std::vector<std::string>& items, size_t max = 8) {
  std::string out;
  for (size_t k = 0; k < items.size() && k < max; ++k) out += (k ? ", " : "") + items[k];
  if (items.size() > max) out += fmt::format(" (+{} more)", items.size() - max);
  return out;
}

bool is_head(const std::string& name) { return name.rfind("classifier.", 0) == 0; }

}  // namespace

io::NamedTensors model_state(const torch::nn::Module& model) {
  io::NamedTensors out;
  for (const auto& p : model.named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : model.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

io::NamedTensors clone_state(const io::NamedTensors& state) {
  io::NamedTensors out;
  for (const auto& [n, t] : state) out.emplace_back(n, t.detach().clone());
  return out;
}

LoadReport load_weights(torch::nn::Module& model, const io::NamedTensors& weights, const std::string& source,
                        const LoadOptions& options) {
  std::map<std::string, at::Tensor> given(weights.begin(), weights.end());
  std::vector<std::string> missing, mismatched, mistyped;
  LoadReport report;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  for (const auto& [name, dst] : model_state(model)) {
    const auto it = given.find(name);
    if (it == given.end()) {
      if (options.allow_head_mismatch && is_head(name)) report.kept_fresh.push_back(name);
      else missing.push_back(name);
      continue;
    }
    if (!it->second.sizes().equals(dst.sizes())) {
      if (options.allow_head_mismatch && is_head(name)) report.kept_fresh.push_back(name);
      else mismatched.push_back(fmt::format("{} {} (model {})", name, shape(it->second), shape(dst)));
    } else if (at::isFloatingType(it->second.scalar_type()) != at::isFloatingType(dst.scalar_type())) {
      // Floats relabelled as integers (or the reverse) would copy as values of +-1e9: the bits of
      // one read as the other, or a truncation. Precision may differ (fp16 -> fp32), kind may not.
      mistyped.push_back(fmt::format("{} {} (model {})", name, c10::toString(it->second.scalar_type()), c10::toString(dst.scalar_type())));
    } else {
      copies.emplace_back(dst, it->second);
    }
    given.erase(it);
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : given)
    if (!(options.allow_head_mismatch && is_head(name))) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty() || !mistyped.empty()) {
    std::vector<std::string> parts;  // one line (README: every error is one line)
    if (!missing.empty()) parts.push_back(fmt::format("missing keys ({}): {}", missing.size(), listing(missing)));
    if (!unexpected.empty()) parts.push_back(fmt::format("unexpected keys ({}): {}", unexpected.size(), listing(unexpected)));
    if (!mismatched.empty()) parts.push_back(fmt::format("shape mismatches ({}): {}", mismatched.size(), listing(mismatched, 4)));
    if (!mistyped.empty()) parts.push_back(fmt::format("type mismatches ({}): {}", mistyped.size(), listing(mistyped, 4)));
    throw RuntimeError(fmt::format("weights '{}' do not fit the model: {}", source, fmt::join(parts, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
  return report;
}

}  // namespace finch::model
