// Intra-op threads of a rank, the same rule for `finch train` and `finch bench step`.
#include <algorithm>
#include <cstdlib>
#include <thread>

#include <torch/utils.h>

#include "commands.h"
#include "finch/distributed/world.h"

namespace finch::cli {

void set_intra_op_threads(int threads) {
  if (threads > 0) {
    torch::set_num_threads(threads);
    return;
  }
  // Ranks on one node share its cores (torchrun sets OMP_NUM_THREADS=1 for the same reason); an
  // explicit OMP_NUM_THREADS wins.
  if (std::getenv("OMP_NUM_THREADS")) return;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, cores / std::max(1, distributed::world().local_size)));
}

}  // namespace finch::cli
