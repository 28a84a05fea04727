// The Communicator base class's own methods: what every backend gets for free on top of its
// allreduce/broadcast (the scalar helpers decisions and metrics use, a synchronous allreduce_async).
#include "finch/distributed/communicator.h"

#include <ATen/ATen.h>

#include "finch/core/clock.h"

namespace finch::distributed {

std::unique_ptr<Work> Communicator::allreduce_async(at::Tensor flat, ReduceOp op) {
  const auto t0 = Clock::now();
  allreduce(flat, op);
  return std::make_unique<DoneWork>(seconds_since(t0));
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

std::string Communicator::broadcast_text(const std::string& text, int root) {
  const int64_t n = broadcast_value(static_cast<int64_t>(text.size()), root);
  std::string out = rank() == root ? text : std::string(static_cast<size_t>(n), '\0');
  if (n == 0) return out;
  std::vector<at::Tensor> t{at::from_blob(out.data(), {n}, at::kByte)};
  broadcast(t, root);
  return out;
}

}  // namespace finch::distributed
