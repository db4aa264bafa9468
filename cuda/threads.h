// Threads for the CPU kernel. Each call starts its helpers and joins them before returning, which
// keeps the kernel free of state shared with XLA's own thread pools and free of deadlocks when XLA
// calls it from a pool thread; starting a thread costs tens of microseconds, small next to the
// large images where threads are used at all.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace softsplat {

// Threads the CPU kernel may use; set from Python (jax_softsplat.set_num_threads).
int num_threads();
void set_num_threads(int n);

// Runs fn(i) for i in [0, count), spread over up to `threads` threads. Which thread runs which i
// varies; callers make the result independent of that.
template <typename Fn>
void parallel_for(int64_t count, int threads, Fn fn) {
  const int64_t workers = std::min<int64_t>(std::max(threads, 1), count);
  if (workers <= 1) {
    for (int64_t i = 0; i < count; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i = next++; i < count; i = next++) fn(i);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(workers - 1);
  for (int64_t t = 1; t < workers; ++t) helpers.emplace_back(work);
  work();
  for (auto& helper : helpers) helper.join();
}

}  // namespace softsplat
