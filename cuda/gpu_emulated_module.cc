// jax_softsplat._gpu_emulated, a test-only module: the CUDA translation unit compiled for the host
// through gpu_emulation.h, its handlers exported for platform cpu (jax_softsplat._ffi registers
// them in place of _cpu's when JAX_SOFTSPLAT_CPU_KERNEL=gpu-emulated), and the emulator's controls.
// Built only with the CMake option SOFTSPLAT_GPU_EMULATION.
#include <pybind11/pybind11.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

// The GPU code itself, compiled here as C++ (a .cu source cannot be given to the C++ compiler
// without changing how every target of the build compiles it).
#include "cuda_ops.cu"

namespace py = pybind11;
namespace emulation = softsplat::emulation;

PYBIND11_MODULE(_gpu_emulated, m) {
  m.doc() = "The CUDA kernels of jax_softsplat executed on the host (tests only)";
  if (const char* env = std::getenv(emulation::kScheduleVariable)) {
    emulation::Settings unused;
    if (!emulation::parse_schedule(env, &unused)) {
      throw std::invalid_argument(
          std::string(emulation::kScheduleVariable) +
          " must be 'sequential', 'concurrent' or 'concurrent:<workers >= 2>', got '" + env + "'");
    }
  }
  m.attr("built_with_jaxlib") = SOFTSPLAT_JAXLIB_VERSION;
  m.def("registrations", []() {
    py::dict targets;
    targets["jax_softsplat_forward"] = py::capsule(reinterpret_cast<void*>(SoftsplatForwardCuda));
    targets["jax_softsplat_backward"] = py::capsule(reinterpret_cast<void*>(SoftsplatBackwardCuda));
    return targets;
  });
  m.def(
      "set_schedule",
      [](const std::string& schedule, int workers) {
        if (schedule != "sequential" && schedule != "concurrent") {
          throw std::invalid_argument(
              "set_schedule: schedule must be 'sequential' or 'concurrent', got '" + schedule +
              "'");
        }
        if (workers < 2) throw std::invalid_argument("set_schedule: workers must be >= 2");
        emulation::Settings s = emulation::current_settings();
        s.schedule = schedule == "sequential" ? emulation::Schedule::kSequential
                                              : emulation::Schedule::kConcurrent;
        s.workers = workers;
        emulation::set_settings(s);
      },
      py::arg("schedule"), py::arg("workers") = 4,
      "Runs the blocks of a launch one after another, or shared among `workers` host threads.");
  m.def("schedule", []() {
    const emulation::Settings s = emulation::current_settings();
    return py::make_tuple(
        s.schedule == emulation::Schedule::kSequential ? "sequential" : "concurrent", s.workers);
  });
  m.def(
      "set_max_blocks",
      [](int64_t blocks) {
        if (blocks < 0)
          throw std::invalid_argument("set_max_blocks: blocks must be >= 0 (0: no cap)");
        emulation::Settings s = emulation::current_settings();
        s.max_blocks = blocks;
        emulation::set_settings(s);
      },
      py::arg("blocks"),
      "Caps the grid of every launch (0: no cap), as a GPU with fewer blocks would.");
  m.def("reset_stats", &emulation::reset_stats);
  m.def(
      "stats",
      []() {
        const emulation::Stats s = emulation::current_stats();
        py::dict d;
        d["launches"] = s.launches;
        d["blocks"] = s.blocks;
        d["threads"] = s.threads;
        d["largest_grid"] = s.largest_grid;
        d["smallest_grid"] = s.smallest_grid;
        return d;
      },
      "Launches, blocks and threads run since the last reset_stats().");
  m.def(
      "library_stats",
      []() {
        std::lock_guard<std::mutex> lock(emulation::state_mutex());
        py::dict d;
        d["loads"] = emulation::library_stats().loads;
        d["lookups"] = emulation::library_stats().lookups;
        return d;
      },
      "Images loaded (cudaLibraryLoadData) and kernels looked up by name (cudaLibraryGetKernel) so "
      "far.");
  m.def("kernel_keys", []() {
    py::list keys;
    for (const emulation::Kernel& k : emulation::kKernels) keys.append(k.symbol);
    return keys;
  });
  m.attr("threads_per_block") = softsplat::kThreads;
}
