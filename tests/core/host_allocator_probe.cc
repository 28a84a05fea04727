// Note [Host allocator], checked in a process of its own: no LibTorch in it, so glibc's malloc is
// at its defaults when main() starts (a test binary's static initialisers have already grown the
// heap and raised glibc's dynamic mmap threshold, which would hide what tune_host_allocator does).
//   host_allocator_probe tune   tune_host_allocator(), then one 24 MiB block
//   host_allocator_probe none   the block with glibc's defaults (the control)
// Prints where the block came from ("mmap" or "heap"), whether freeing it trimmed the heap, and
// whether finch tuned the allocator.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "finch/core/host_allocator.h"

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "tune") != 0 && std::strcmp(argv[1], "none") != 0)) {
    std::fprintf(stderr, "usage: host_allocator_probe tune|none\n");
    return 2;
  }
  const bool tuned = std::strcmp(argv[1], "tune") == 0 && finch::tune_host_allocator();
  constexpr size_t kBlock = 24u << 20;  // an activation of B2 at batch 16 is of this order
  void* p = std::malloc(kBlock);
  if (!p) return 2;
  std::memset(p, 1, kBlock);
  const bool mapped = mallinfo2().hblkhd >= kBlock;
  std::free(p);
  const bool trimmed = mallinfo2().arena < kBlock;
  std::printf("tuned %s, block from %s, %s after free\n", tuned ? "yes" : "no", mapped ? "mmap" : "heap",
              mapped ? "unmapped" : (trimmed ? "heap trimmed" : "heap kept"));
  return 0;
}
