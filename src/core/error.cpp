#include "finch/core/error.h"

// The error types are header-only; this file keeps the core library's source list stable.
