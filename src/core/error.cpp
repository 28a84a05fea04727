#include "finch/core/error.h"

namespace finch {

NotImplementedError::NotImplementedError(const std::string& what)
    : Error("'" + what + "' is not implemented yet in this finch build", 1) {}

}  // namespace finch
