// Scratch memory of the CPU kernel, freed when the call returns.
//
// A large allocation is fresh memory from the operating system on every call, and touching it for
// the first time costs a page fault per 4 KiB page: at 4K, C = 3, the `soft` backward pass's 66 MB
// plane of target terms spent 17 ms of its 145 ms (two threads) in page faults, measured against a
// plane kept between calls. Asking for transparent huge pages brings the pass to 136-139 ms without
// keeping memory after the call returns.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace softsplat {

struct FreeScratch {
  void operator()(void* p) const { std::free(p); }
};

template <typename V>
using Scratch = std::unique_ptr<V[], FreeScratch>;

// Room for `count` values of trivially constructible V, uninitialised; empty when memory is short.
template <typename V>
Scratch<V> make_scratch(size_t count) {
  // Below this glibc serves the request from memory it keeps between calls, so huge pages buy
  // nothing.
  constexpr size_t kLarge = size_t(32) << 20;
  constexpr size_t kHugePage = size_t(2) << 20;
  const size_t needed = count * sizeof(V);
  size_t align = alignof(V) > alignof(std::max_align_t) ? alignof(V) : alignof(std::max_align_t);
  if (needed >= kLarge) align = kHugePage;
  // aligned_alloc takes a size that is a multiple of the alignment, and not zero.
  const size_t bytes = needed == 0 ? align : (needed + align - 1) / align * align;
  void* memory = std::aligned_alloc(align, bytes);
  if (memory == nullptr) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: where the kernel has huge pages off, it is refused and nothing changes.
  if (align == kHugePage) madvise(memory, bytes, MADV_HUGEPAGE);
#endif
  return Scratch<V>(static_cast<V*>(memory));
}

}  // namespace softsplat
