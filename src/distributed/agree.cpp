#include "finch/distributed/agree.h"

#include <fmt/format.h>

namespace finch::distributed {

void run_agreed(Communicator& comm, const std::function<void()>& body) {
  int code = 0;
  std::string message;
  try {
    body();
  } catch (const Error& e) {
    code = e.exit_code();
    message = e.what();
  } catch (const std::exception& e) {
    code = 1;
    message = e.what();
  }
  const auto worst = static_cast<int>(comm.allreduce_value(code, ReduceOp::kMax));
  if (worst == 0) return;
  const auto root_code = comm.broadcast_value(code, 0);
  const bool speak = code != 0 && (comm.rank() == 0 || root_code == 0);
  if (!speak) throw AgreedExit("", worst);
  throw AgreedExit(comm.size() > 1 && comm.rank() != 0 ? fmt::format("rank {}: {}", comm.rank(), message) : message,
                   worst);
}

}  // namespace finch::distributed
