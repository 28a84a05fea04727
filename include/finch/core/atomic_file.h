// Files that readers see whole or not at all: written to "<path>.tmp", fsynced, renamed over path.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace finch {

// Calls `write` with an open FILE* on the temporary; any exception or write error leaves `path`
// untouched and removes the temporary.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::FILE*)>& write);
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

// fsync on a directory, so a rename inside it survives a crash.
void sync_directory(const std::filesystem::path& dir);

}  // namespace finch
