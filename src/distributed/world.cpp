#include "finch/distributed/world.h"

#include <mpi.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch::distributed {
namespace {

WorldInfo g_world;
bool g_initialised = false;
MPI_Comm g_node = MPI_COMM_NULL;  // this node's ranks (MPI_COMM_TYPE_SHARED)

// Every rank of `comm`'s `width` bytes (`mine`, cut or zero-padded), in rank order.
std::string allgather_fixed(MPI_Comm comm, int ranks, std::string mine, int width, const char* what) {
  mine.resize(static_cast<size_t>(width), '\0');
  std::string all(static_cast<size_t>(width) * ranks, '\0');
  if (MPI_Allgather(mine.data(), width, MPI_CHAR, all.data(), width, MPI_CHAR, comm) != MPI_SUCCESS)
    throw RuntimeError(fmt::format("rank {}: MPI_Allgather of {} failed", g_world.rank, what));
  return all;
}

}  // namespace

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(var)) return true;
  return false;
}

const WorldInfo& init_world(int* argc, char*** argv) {
  if (g_initialised) return g_world;
  g_initialised = true;
  if (!launched_by_mpi()) return g_world;
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
    throw RuntimeError("MPI_Init_thread failed (under SLURM use srun --mpi=pmix)");
  // Errors come back as codes, which finch turns into messages naming the operation and rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  g_world.mpi = true;
  g_world.thread_level = provided;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_world.rank, MPI_INFO_NULL, &g_node);
  MPI_Comm_rank(g_node, &g_world.local_rank);
  MPI_Comm_size(g_node, &g_world.local_size);
  std::atexit(finalize_world);
  return g_world;
}

const WorldInfo& world() { return g_world; }

std::vector<char> broadcast_made_on_root(size_t size, const std::function<void(char* out)>& make, const std::string& what) {
  // [status (int32), message (kMessage bytes, NUL-terminated), payload]: one broadcast, always.
  constexpr size_t kMessage = 1024;
  std::vector<char> buffer(sizeof(int32_t) + kMessage + size, '\0');
  char* payload = buffer.data() + sizeof(int32_t) + kMessage;
  const WorldInfo& w = world();
  std::string error;
  if (w.rank == 0) {
    try {
      make(payload);
    } catch (const std::exception& e) {
      error = e.what();
      const int32_t failed = 1;
      std::memcpy(buffer.data(), &failed, sizeof failed);
      std::memcpy(buffer.data() + sizeof(int32_t), error.data(), std::min(error.size(), kMessage - 1));
    }
  }
  if (w.mpi && w.size > 1 && MPI_Bcast(buffer.data(), static_cast<int>(buffer.size()), MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
    throw RuntimeError(fmt::format("rank {}: the broadcast to {} over MPI failed", w.rank, what));
  int32_t status = 0;
  std::memcpy(&status, buffer.data(), sizeof status);
  if (status != 0) {
    if (w.rank == 0) throw RuntimeError(error);
    throw RuntimeError(fmt::format("rank {}: rank 0 could not {}: {}", w.rank, what, buffer.data() + sizeof(int32_t)));
  }
  return std::vector<char>(payload, payload + size);
}

std::vector<std::string> gather_on_node(const std::string& value) {
  if (!g_world.mpi || g_node == MPI_COMM_NULL) return {value};
  constexpr int kWidth = 256;  // CUDA_VISIBLE_DEVICES lists or PCI bus ids; longer values are cut
  const std::string all = allgather_fixed(g_node, g_world.local_size, value.substr(0, kWidth - 1), kWidth, "a value over the node's ranks");
  std::vector<std::string> out;
  for (int r = 0; r < g_world.local_size; ++r) out.emplace_back(all.c_str() + static_cast<size_t>(r) * kWidth);
  return out;
}

std::vector<RankPlace> gather_placement() {
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  if (!g_world.mpi) {
    gethostname(name, sizeof(name) - 1);
    return {{name, 0}};
  }
  // The MPI processor name is the host name as the launcher knows it (Slurm's node name under srun).
  MPI_Get_processor_name(name, &len);
  constexpr int kWidth = 64 + sizeof(int);  // host name (cut at 63), then the node-local rank
  std::string mine(name, static_cast<size_t>(std::min(len, 63)));
  mine.resize(64, '\0');
  mine.append(reinterpret_cast<const char*>(&g_world.local_rank), sizeof(int));
  const std::string all = allgather_fixed(MPI_COMM_WORLD, g_world.size, mine, kWidth, "the ranks' host names");
  std::vector<RankPlace> out(static_cast<size_t>(g_world.size));
  for (int r = 0; r < g_world.size; ++r) {
    const char* p = all.data() + static_cast<size_t>(r) * kWidth;
    out[r].host = p;
    std::memcpy(&out[r].local_rank, p + 64, sizeof(int));
  }
  return out;
}

void finalize_world() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) {
    if (g_node != MPI_COMM_NULL) MPI_Comm_free(&g_node);
    MPI_Finalize();
  }
}

void abort_job(int exit_code) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin && g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  finalize_world();
  std::exit(exit_code);
}

std::string mpi_library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(buf, &len);
  std::string v(buf, static_cast<size_t>(len));
  const auto comma = v.find(',');  // Open MPI appends repo/date details after the first comma
  return comma == std::string::npos ? v : v.substr(0, comma);
}

}  // namespace finch::distributed
