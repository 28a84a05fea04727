// A rank that never reaches a collective: the others must abort the job after the collective
// timeout instead of waiting forever. Run: mpiexec -n 2 hang_check (expects a non-zero exit, fast).
#include <chrono>
#include <cstdio>
#include <thread>

#include "finch/distributed/communicator.h"
#include "finch/distributed/watchdog.h"
#include "finch/distributed/world.h"

int main(int argc, char** argv) {
  const auto& w = finch::distributed::init_world(&argc, &argv);
  finch::distributed::set_collective_timeout(3);
  auto comm = finch::distributed::make_mpi_communicator();
  if (w.rank == 1) std::this_thread::sleep_for(std::chrono::seconds(120));  // "hangs"
  comm->barrier();
  std::printf("unreachable: the barrier completed\n");
  return 0;
}
