// The backends side by side (as Horovod's common/ops): each file builds its own Communicator, and
// make_communicator.cpp, the one place that knows which this build has, picks among them.
//   mpi_communicator.cpp   MPI (CPU tensors; CUDA ones staged through the host). Its factory,
//                          make_mpi_communicator, is public (communicator.h): every command starts
//                          with it as its control communicator.
//   nccl_communicator.cpp  NCCL (CUDA tensors on LibTorch's current stream); CUDA builds only.
#pragma once

#include <memory>
#include <string>

#include "finch/distributed/communicator.h"

namespace finch::distributed {

// Defined in CUDA builds only (declared always, so the CPU build's compile check of the NCCL file
// sees its declarations too).
// One NCCL communicator over MPI_COMM_WORLD's ranks on CUDA device `device`; collectives that take
// longer than `timeout_s` abort the job naming the collective.
std::unique_ptr<Communicator> make_nccl_communicator(int device, double timeout_s);
// "2.28.9": the NCCL library this process loaded.
std::string nccl_version();

}  // namespace finch::distributed
