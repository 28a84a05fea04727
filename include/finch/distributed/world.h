// Who this process is: rank, world size and node-local rank, from MPI (mpirun, or SLURM's
// srun --mpi=pmix). A process started without a launcher is a world of one and never touches MPI.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace finch::distributed {

struct WorldInfo {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // index among the ranks on this node (MPI_Comm_split_type): the CUDA device
  int local_size = 1;
  bool mpi = false;    // MPI was initialised (a launcher started us)
  int thread_level = 0;  // MPI_Init_thread's `provided` (MPI_THREAD_MULTIPLE: calls from several threads at once)
};

// True when the environment shows an MPI launcher (Open MPI's mpirun, PMIx or PMI2 under srun).
bool launched_by_mpi();

// Initialises MPI when launched by one (once; later calls return the same). Finalised at exit.
const WorldInfo& init_world(int* argc, char*** argv);
const WorldInfo& world();

// Ends the whole job: MPI_Abort when other ranks exist (they may be blocked in a collective and
// would otherwise hang), plain exit otherwise.
[[noreturn]] void abort_job(int exit_code);

// Every node-local rank's `value`, in node-local rank order (a collective over this node's ranks;
// a world of one returns {value}). Used to see how a launcher bound GPUs to ranks.
std::vector<std::string> gather_on_node(const std::string& value);

// Where a rank runs: its host and node-local rank.
struct RankPlace {
  std::string host;
  int local_rank = 0;
};
// Every rank's place, in rank order (a collective over all ranks; a world of one returns its own).
// Logged at the start of a run so that a multi-node job shows how the launcher placed its ranks.
std::vector<RankPlace> gather_placement();

// Rank 0's `size` bytes on every rank (a collective over MPI_COMM_WORLD), made by `make` on rank 0
// only (the NCCL unique id). Whether `make` succeeded travels with the bytes: when it throws, every
// rank throws, the others naming rank 0's error and `what`, instead of waiting in a broadcast
// rank 0 never enters. A world of one just calls `make`.
std::vector<char> broadcast_made_on_root(size_t size, const std::function<void(char* out)>& make, const std::string& what);

// Finalises MPI (idempotent). Called at normal exit.
void finalize_world();

// "Open MPI v4.1.4, ..." (works before MPI_Init).
std::string mpi_library_version();

}  // namespace finch::distributed
