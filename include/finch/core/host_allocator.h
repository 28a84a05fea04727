// Note [Host allocator]
// ~~~~~~~~~~~~~~~~~~~~~
// A training step frees and allocates the same activation-sized blocks (megabytes to tens of
// megabytes) every step. glibc's malloc serves them with mmap above its dynamic threshold and trims
// the heap's free top back to the kernel, so each step faulted in fresh zeroed pages: on this
// project's 2-core EPYC, `finch bench step` of B2 at 160 px NHWC (torch 2.15) spent ~28% of its CPU
// time in the kernel and ran at 19 img/s; with the mmap threshold at glibc's maximum (32 MiB) and no
// trimming it ran at 30 img/s, eager PyTorch at 26 (issue 30). finch sets both at start, before
// LibTorch allocates; a user's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ (or a preloaded
// jemalloc/tcmalloc) win. The memory kept is what the next step allocates again. Eager PyTorch
// given the same two settings as MALLOC_* variables runs as fast (finch NHWC / eager NHWC
// 0.98–1.05, README Performance): finch sets them so that its users need not know.
#pragma once

namespace finch {

// Once, first thing in main(). Returns false where it did nothing (not glibc, or the user chose).
bool tune_host_allocator();

}  // namespace finch
