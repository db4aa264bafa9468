// Runs the CUDA translation unit (cuda_ops.cu) on the host, for tests only: the CUDA built-ins and
// runtime calls the kernels use, mapped onto C++20. A launch runs every thread of every block of
// the grid, through the same grid-stride loops, atomics and launch configuration the GPU would get,
// either block after block on the calling thread or with the warps shared among host threads, whose
// atomics then really race. Never part of a wheel: CMake builds it only with
// SOFTSPLAT_GPU_EMULATION=ON.
//
// What it cannot model (lock-step warps, the GPU's memory model, launch limits, streams) is listed
// in docs/gpu.md.
#pragma once

#if defined(__CUDACC__)
#error "gpu_emulation.h replaces the CUDA runtime on the host; nvcc compiles cuda_ops.cu for real"
#endif

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

// ---------------------------------------------------------------------------------------------------
// Launch geometry. Only x is used by the kernels; y and z exist so that code written for CUDA reads
// the same.
struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
};

// The geometry of the thread the emulator is running: each host thread runs one GPU thread at a
// time.
inline thread_local dim3 blockIdx;
inline thread_local dim3 threadIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

// ---------------------------------------------------------------------------------------------------
// Runtime API: only what cuda_ops.cu calls. The emulator has one implicit stream, the calling
// thread; a launch returns when every block has run.
using cudaStream_t = struct softsplat_emulated_stream*;
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorSymbolNotFound = 500,
};

namespace softsplat::emulation {

// The error a launch left, returned (and cleared) by cudaGetLastError as in CUDA.
inline thread_local cudaError_t last_error = cudaSuccess;

}  // namespace softsplat::emulation

inline cudaError_t cudaGetLastError() {
  const cudaError_t e = softsplat::emulation::last_error;
  softsplat::emulation::last_error = cudaSuccess;
  return e;
}

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorSymbolNotFound:
      return "named symbol not found";
  }
  return "unknown error";
}

inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  if (bytes != 0) std::memset(dst, value, bytes);
  return cudaSuccess;
}

// ---------------------------------------------------------------------------------------------------
// Device functions: bit casts and atomics. The atomics go through std::atomic_ref, so concurrent
// blocks race exactly where GPU threads would, and ThreadSanitizer sees every access as what it is.
inline float __int_as_float(int v) { return std::bit_cast<float>(v); }
inline int __float_as_int(float v) { return std::bit_cast<int>(v); }
inline float __uint_as_float(unsigned int v) { return std::bit_cast<float>(v); }
inline unsigned int __float_as_uint(float v) { return std::bit_cast<unsigned int>(v); }
inline double __longlong_as_double(unsigned long long v) { return std::bit_cast<double>(v); }
inline unsigned long long __double_as_longlong(double v) {
  return std::bit_cast<unsigned long long>(v);
}

// CUDA's atomics are relaxed; so are these.
template <typename T>
inline T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}

template <typename T>
inline T atomicCAS(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value, std::memory_order_relaxed);
  return compare;  // on failure compare_exchange_strong stored the value it saw there
}

// A relaxed load of a word that other threads update with atomics (cuda_ops.cu's GPU version is a
// volatile load, which PTX treats as relaxed).
template <typename T>
inline T atomic_load_relaxed(const T* address) {
  return std::atomic_ref<T>(*const_cast<T*>(address)).load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------------
// Scheduling and launch.
namespace softsplat::emulation {

// kSequential runs the blocks one after another on the calling thread; kConcurrent shares their
// warps among `workers` host threads (the calling one included), round robin.
enum class Schedule { kSequential, kConcurrent };

struct Settings {
  Schedule schedule = Schedule::kSequential;
  int workers = 4;
  // Caps the grid of every launch (0: no cap). Grid-stride loops must still cover all the work; a
  // test that sets it small checks they do.
  int64_t max_blocks = 0;
};

// What the emulator has run since the last reset, for tests that check the GPU code path really
// ran.
struct Stats {
  int64_t launches = 0;
  int64_t blocks = 0;
  int64_t threads = 0;
  int64_t largest_grid = 0;
  int64_t smallest_grid = 0;
};

inline std::mutex& state_mutex() {
  static std::mutex m;
  return m;
}

// Reads a schedule written `sequential`, `concurrent` or `concurrent:<workers>` (workers >= 2) into
// `s`; false when `text` is none of these.
inline bool parse_schedule(const std::string& text, Settings* s) {
  if (text == "sequential" || text == "concurrent") {
    s->schedule = text == "sequential" ? Schedule::kSequential : Schedule::kConcurrent;
    return true;
  }
  if (text.rfind("concurrent:", 0) != 0 || text.size() == 11) return false;
  int workers = 0;
  for (size_t i = 11; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || workers > 4096) return false;
    workers = workers * 10 + (text[i] - '0');
  }
  if (workers < 2) return false;
  s->schedule = Schedule::kConcurrent;
  s->workers = workers;
  return true;
}

constexpr const char* kScheduleVariable = "JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE";

// The settings $JAX_SOFTSPLAT_GPU_EMULATION_SCHEDULE asks for (the module refuses to load with a
// value parse_schedule does not accept).
inline Settings settings_from_environment() {
  Settings s;
  if (const char* env = std::getenv(kScheduleVariable)) parse_schedule(env, &s);
  return s;
}

inline Settings& settings() {
  static Settings s = settings_from_environment();
  return s;
}

inline Stats& stats() {
  static Stats s;
  return s;
}

inline Settings current_settings() {
  std::lock_guard<std::mutex> lock(state_mutex());
  return settings();
}

inline void set_settings(const Settings& s) {
  std::lock_guard<std::mutex> lock(state_mutex());
  settings() = s;
}

inline Stats current_stats() {
  std::lock_guard<std::mutex> lock(state_mutex());
  return stats();
}

inline void reset_stats() {
  std::lock_guard<std::mutex> lock(state_mutex());
  stats() = Stats{};
}

inline void record(int64_t grid, int64_t block) {
  std::lock_guard<std::mutex> lock(state_mutex());
  Stats& s = stats();
  s.smallest_grid = s.launches == 0 ? grid : std::min(s.smallest_grid, grid);
  s.largest_grid = std::max(s.largest_grid, grid);
  ++s.launches;
  s.blocks += grid;
  s.threads += grid * block;
}

constexpr unsigned int kWarpSize = 32;

// Runs threads [first, last) of block `b`, one after another. The kernels synchronise no threads
// within a block (no __syncthreads, no shared memory), so any order and any interleaving of a
// block's threads is one a GPU could produce.
template <typename Kernel, typename Args>
void run_threads(unsigned int b, unsigned int first, unsigned int last, const dim3& grid,
                 const dim3& block, Kernel kernel, const Args& args) {
  gridDim = grid;
  blockDim = block;
  blockIdx = dim3{b, 0, 0};
  for (unsigned int t = first; t < last; ++t) {
    threadIdx = dim3{t, 0, 0};
    std::apply(kernel, args);
  }
}

template <typename Kernel>
struct Launch {
  int64_t grid;
  int64_t block;
  Kernel kernel;

  // The kernel's arguments are copied once, as the GPU copies them into constant memory.
  template <typename... Args>
  void operator()(Args... args) const {
    // CUDA's limits on a one-dimensional launch.
    if (grid < 1 || grid > 0x7fffffff || block < 1 || block > 1024) {
      last_error = cudaErrorInvalidConfiguration;
      return;
    }
    const Settings s = current_settings();
    const int64_t blocks = s.max_blocks > 0 ? std::min(grid, s.max_blocks) : grid;
    record(blocks, block);
    const dim3 g{static_cast<unsigned int>(blocks), 1, 1};
    const dim3 t{static_cast<unsigned int>(block), 1, 1};
    const auto bound = std::make_tuple(args...);
    if (s.schedule == Schedule::kSequential) {
      for (int64_t b = 0; b < blocks; ++b) {
        run_threads(static_cast<unsigned int>(b), 0, t.x, g, t, kernel, bound);
      }
      return;
    }
    // Concurrent: the unit of work is a warp, as on the GPU, where the warps of one block run at
    // the same time too; so even a one-block launch (a small image) has racing atomics. Worker i
    // runs warps i, i + workers, ...: a fixed share, so that no worker can finish a small launch
    // alone before the others wake, and no work queue orders the workers' accesses behind
    // ThreadSanitizer's back (a shared counter would make each claim a synchronisation).
    const int64_t warps_per_block = (block + kWarpSize - 1) / kWarpSize;
    const int64_t warps = blocks * warps_per_block;
    const int64_t workers = std::min<int64_t>(s.workers, warps);
    // All workers start together, so that their warps overlap in time.
    std::latch start(workers);
    const auto work = [&](int64_t worker) {
      start.arrive_and_wait();
      for (int64_t w = worker; w < warps; w += workers) {
        const auto first = static_cast<unsigned int>((w % warps_per_block) * kWarpSize);
        run_threads(static_cast<unsigned int>(w / warps_per_block), first,
                    std::min<unsigned int>(first + kWarpSize, t.x), g, t, kernel, bound);
      }
    };
    std::vector<std::thread> threads;
    threads.reserve(workers - 1);
    for (int64_t i = 1; i < workers; ++i) threads.emplace_back(work, i);
    work(0);
    for (auto& thread : threads) thread.join();
  }
};

// The FFI handler of a kernel that takes the platform stream first, for a binding that has none:
// the emulator runs on the thread XLA calls the handler on.
template <typename R, typename... Args>
auto without_stream(R (*impl)(cudaStream_t, Args...)) {
  return [impl](Args... args) { return impl(cudaStream_t{}, std::move(args)...); };
}

template <typename Kernel>
Launch<Kernel> launch(int64_t grid, int64_t block, size_t shared_bytes, cudaStream_t,
                      Kernel kernel) {
  if (shared_bytes != 0) last_error = cudaErrorInvalidConfiguration;  // no kernel here uses any
  return Launch<Kernel>{grid, block, kernel};
}

}  // namespace softsplat::emulation

// ---------------------------------------------------------------------------------------------------
// Loading and launching kernels by name, as the host half of cuda_ops.cu does outside nvcc (the
// CUDA 12 module launches NVRTC's fatbin this way). The emulated "image" is a table from each
// kernel's symbol to a function that runs it on an array of pointers to its arguments, as
// cudaLaunchKernel passes them (gpu_emulation_kernels.h makes it from SOFTSPLAT_KERNEL_INSTANCES).
namespace softsplat::emulation {

struct Kernel {
  const char* symbol;
  void (*run)(void** args);
};

struct Image {
  const Kernel* kernels;
  size_t count;
};

// How many libraries were loaded and kernels looked up, for tests that check the by-name path ran.
struct LibraryStats {
  int64_t loads = 0;
  int64_t lookups = 0;
};

inline LibraryStats& library_stats() {
  static LibraryStats s;
  return s;
}

}  // namespace softsplat::emulation

using cudaLibrary_t = const softsplat::emulation::Image*;
using cudaKernel_t = const softsplat::emulation::Kernel*;

// The JIT and library options are taken as CUDA takes them and must be absent (none is used).
inline cudaError_t cudaLibraryLoadData(cudaLibrary_t* library, const void* code, void* jit_options,
                                       void** jit_values, unsigned int jit_count,
                                       void* library_options, void** library_values,
                                       unsigned int library_count) {
  if (library == nullptr || code == nullptr || jit_options || jit_values || jit_count ||
      library_options || library_values || library_count) {
    return cudaErrorInvalidValue;
  }
  *library = static_cast<const softsplat::emulation::Image*>(code);
  std::lock_guard<std::mutex> lock(softsplat::emulation::state_mutex());
  ++softsplat::emulation::library_stats().loads;
  return cudaSuccess;
}

inline cudaError_t cudaLibraryGetKernel(cudaKernel_t* kernel, cudaLibrary_t library,
                                        const char* symbol) {
  if (kernel == nullptr || library == nullptr || symbol == nullptr) return cudaErrorInvalidValue;
  {
    std::lock_guard<std::mutex> lock(softsplat::emulation::state_mutex());
    ++softsplat::emulation::library_stats().lookups;
  }
  for (size_t i = 0; i < library->count; ++i) {
    if (std::strcmp(library->kernels[i].symbol, symbol) == 0) {
      *kernel = &library->kernels[i];
      return cudaSuccess;
    }
  }
  return cudaErrorSymbolNotFound;
}

// Runs the launch like SOFTSPLAT_LAUNCH under nvcc would; the error is returned and, as in CUDA,
// also left for cudaGetLastError.
inline cudaError_t cudaLaunchKernel(const void* function, dim3 grid, dim3 block, void** args,
                                    size_t shared_bytes, cudaStream_t stream) {
  const auto* kernel = static_cast<const softsplat::emulation::Kernel*>(function);
  if (kernel == nullptr) return softsplat::emulation::last_error = cudaErrorInvalidValue;
  softsplat::emulation::launch(grid.x, block.x, shared_bytes, stream,
                               [kernel, args] { kernel->run(args); })();
  return softsplat::emulation::last_error;
}
