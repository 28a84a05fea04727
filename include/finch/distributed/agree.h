// Collective error agreement for work that every rank does the same way (loading the config,
// opening the dataset): if any rank fails, every rank leaves with the same exit code instead of
// the healthy ranks waiting forever in the next collective. The message is printed once: by rank 0
// when it failed too (the usual case: the same bad file everywhere), else by the ranks that failed.
#pragma once

#include <functional>

#include "finch/core/error.h"
#include "finch/distributed/communicator.h"

namespace finch::distributed {

// Thrown on every rank after agreement. `message` is empty on ranks that should stay quiet.
class AgreedExit : public Error {
 public:
  AgreedExit(std::string message, int exit_code) : Error(std::move(message), exit_code) {}
};

// Runs `body` on every rank; throws AgreedExit everywhere if it threw anywhere: a finch::Error
// with its own exit code, any other std::exception (a LibTorch c10::Error, a std::bad_alloc) with
// exit 1. The exit code is the highest any rank had.
void run_agreed(Communicator& comm, const std::function<void()>& body);

}  // namespace finch::distributed
