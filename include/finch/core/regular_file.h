#pragma once
// Note [Only regular files are opened]
// Opening a FIFO for reading blocks until a writer comes, which may be never; with SA_RESTART the
// open goes on through SIGTERM, so a trainer left with a FIFO where an image, a config, a weight file
// or a checkpoint belongs hung for good and ignored the scheduler's signal (issue 25, #6). A device
// (/dev/zero, /dev/urandom) reads without end. Every file finch reads that a user or another run
// could have put there is opened through these, which refuse anything but a regular file before any
// read, naming the path. The check is made on a descriptor opened with O_NONBLOCK (so even a FIFO
// swapped in after any earlier look cannot block), and a stream reads that same descriptor's file.
#include <fstream>
#include <string>

namespace finch {

// A file descriptor for reading `path`, or -1 with errno set when it cannot be opened (missing,
// no permission). A path that exists but is not a regular file throws RuntimeError naming it.
int open_regular_fd(const std::string& path);

// `path` opened for reading: a stream that is not good() when the file cannot be opened (callers
// say what was expected there); RuntimeError naming the path when it is not a regular file.
std::ifstream open_regular(const std::string& path, std::ios::openmode mode = std::ios::in);

// The message both give: "'PATH' is a FIFO, not a regular file (finch does not read from it)".
std::string not_a_regular_file(const std::string& path);

}  // namespace finch
