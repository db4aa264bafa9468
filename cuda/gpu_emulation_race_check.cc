// The race check of the emulated GPU kernels: a standalone program, built with ThreadSanitizer by
// `make test-gpu-emulation` (Python and jaxlib are not instrumented, so TSan cannot watch the
// kernels inside the test suite without reporting XLA's own synchronisation as races).
//
// It runs every kernel of cuda_ops.cu with the warps of each launch shared among host threads, on
// inputs where hundreds of source pixels land on the same few targets, and compares with the same
// kernels run block after block (which the pytest suite compares with the CPU kernel): the forward
// values up to the order of the additions, the per-target maxima and every gradient bit for bit.
// Each case must also have reordered additions: some forward value must differ from the sequential
// run in its bits (see `check`). Exit status 0 when all match and every case reordered; 1 on a
// mismatch or a case run in sequential order; TSan's own status on a race.
//
// `--race-control` instead launches a kernel with a plain (non-atomic) `+=` on one word: TSan must
// report it, which shows the check sees the emulator's threads at all.
#include "cuda_ops.cu"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace softsplat {
namespace {

namespace emulation = ::softsplat::emulation;

// One buffer as XLA hands it to a handler.
struct Buffer {
  ffi::DataType dtype;
  std::vector<int64_t> dims;
  std::vector<unsigned char> bytes;
  XLA_FFI_Buffer raw;  // points into this object: refreshed by any(), valid while it is not moved

  Buffer(ffi::DataType type, std::vector<int64_t> shape) : dtype(type), dims(std::move(shape)) {
    int64_t count = 1;
    for (int64_t d : dims) count *= d;
    bytes.assign(count * ffi::ByteWidth(dtype), 0);
  }
  ffi::AnyBuffer any() {
    raw = XLA_FFI_Buffer{sizeof(XLA_FFI_Buffer),
                         nullptr,
                         static_cast<XLA_FFI_DataType>(dtype),
                         bytes.data(),
                         static_cast<int64_t>(dims.size()),
                         dims.data()};
    return ffi::AnyBuffer(&raw);
  }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(bytes.data());
  }
  int64_t count() const { return static_cast<int64_t>(bytes.size()) / ffi::ByteWidth(dtype); }
};

std::vector<int64_t> shape(bool channels_last, int64_t n, int64_t c, int64_t h, int64_t w) {
  return channels_last ? std::vector<int64_t>{n, h, w, c} : std::vector<int64_t>{n, c, h, w};
}

// A fixed pseudo-random sequence in [-1, 1).
struct Random {
  uint64_t state = 0x9e3779b97f4a7c15ull;
  double next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return double(state >> 11) / double(1ull << 52) - 1.0;
  }
};

template <typename S>
void fill(Buffer& b, int64_t i, double v) {
  put(b.as<S>() + i, static_cast<decltype(widen(S{}))>(v));
}

constexpr int64_t kN = 2, kC = 3, kH = 37, kW = 45;

struct Case {
  const char* mode_name;
  int32_t mode;
  bool stable;
};

struct Outcome {
  bool ok = true;
  // forward values whose bits differ from those of the sequential run of the same grid
  int64_t reordered = 0;
  double largest_difference = 0;
  bool in_order() const { return reordered == 0; }
};

template <typename S>
Outcome check(ffi::DataType dtype, bool channels_last, const Case& c, int64_t max_blocks) {
  using T = decltype(widen(S{}));
  const ffi::DataType compute = dtype == ffi::F64 ? ffi::F64 : ffi::F32;
  const int64_t metric_channels = c.mode >= 2 ? 1 : 0;
  const int64_t aux_channels = c.mode == 0 ? 0 : (c.stable ? 2 : 1);
  Buffer x(dtype, shape(channels_last, kN, kC, kH, kW)),
      flow(dtype, shape(channels_last, kN, 2, kH, kW)),
      metric(dtype, shape(channels_last, kN, metric_channels, kH, kW));
  const Layout img = make_layout(channels_last, kC, kH, kW);
  const Layout fl = make_layout(channels_last, 2, kH, kW);
  const Layout ml = make_layout(channels_last, metric_channels, kH, kW);
  Random random;
  for (int64_t n = 0; n < kN; ++n) {
    for (int64_t y = 0; y < kH; ++y) {
      for (int64_t xx = 0; xx < kW; ++xx) {
        const int64_t pixel = y * kW + xx;
        for (int64_t ch = 0; ch < kC; ++ch)
          fill<S>(x, n * img.image_size() + img.at(ch, pixel), random.next());
        // A 16 x 16 patch converges on the four pixels around (20.3, 18.6): hundreds of threads add
        // to, and raise the maximum of, the same words. Elsewhere small random moves.
        const bool patch = y >= 10 && y < 26 && xx >= 12 && xx < 28;
        const double u = patch ? 20.3 - xx : 2.5 * random.next();
        const double v = patch ? 18.6 - y : 2.5 * random.next();
        fill<S>(flow, n * fl.image_size() + fl.at(0, pixel), u);
        fill<S>(flow, n * fl.image_size() + fl.at(1, pixel), v);
        if (metric_channels) {
          const double z = c.mode == 2 ? 1.5 + random.next() : 2 * random.next();
          fill<S>(metric, n * ml.image_size() + ml.at(0, pixel), z);
        }
      }
    }
  }
  auto run_forward = [&](Buffer& out, Buffer& aux) {
    const ffi::Error e = forward_impl(cudaStream_t{}, x.any(), flow.any(), metric.any(), out.any(),
                                      aux.any(), channels_last, c.mode, 0, c.stable);
    if (e.failure()) std::fprintf(stderr, "forward: %s\n", e.message().c_str());
    return e.success();
  };
  auto run_backward = [&](Buffer& out, Buffer& aux, Buffer& grad_out, Buffer& gx, Buffer& gf,
                          Buffer& gm) {
    const ffi::Error e = backward_impl(cudaStream_t{}, x.any(), flow.any(), metric.any(), out.any(),
                                       aux.any(), grad_out.any(), gx.any(), gf.any(), gm.any(),
                                       channels_last, c.mode, 0, c.stable);
    if (e.failure()) std::fprintf(stderr, "backward: %s\n", e.message().c_str());
    return e.success();
  };
  auto gradients = [&]() {
    return std::vector<Buffer>{Buffer(dtype, x.dims), Buffer(dtype, flow.dims),
                               Buffer(dtype, metric.dims)};
  };
  Buffer out(compute, x.dims), aux(compute, shape(channels_last, kN, aux_channels, kH, kW));
  Buffer grad_out(dtype, x.dims);
  for (int64_t i = 0; i < grad_out.count(); ++i) fill<S>(grad_out, i, std::cos(double(i)));
  std::vector<Buffer> grads = gradients();

  Outcome outcome;
  emulation::set_settings(emulation::Settings{emulation::Schedule::kSequential, 4, 0});
  outcome.ok =
      run_forward(out, aux) && run_backward(out, aux, grad_out, grads[0], grads[1], grads[2]);

  emulation::set_settings(emulation::Settings{emulation::Schedule::kConcurrent, 4, max_blocks});
  Buffer out2(compute, x.dims), aux2(compute, aux.dims);
  std::vector<Buffer> grads2 = gradients();
  outcome.ok = outcome.ok && run_forward(out2, aux2) &&
               run_backward(out, aux, grad_out, grads2[0], grads2[1], grads2[2]);
  // A capped grid's threads loop over pixels in another order than the full grid's, so for
  // reordering the capped concurrent run is held against the capped grid run sequentially.
  Buffer capped(compute, x.dims), capped_aux(compute, aux.dims);
  if (max_blocks > 0) {
    emulation::set_settings(emulation::Settings{emulation::Schedule::kSequential, 4, max_blocks});
    outcome.ok = outcome.ok && run_forward(capped, capped_aux);
  }
  const T* a = out.as<T>();
  const T* b = out2.as<T>();
  const T* same_grid = max_blocks > 0 ? capped.as<T>() : a;
  const double tolerance = compute == ffi::F64 ? 1e-12 : 1e-5;
  for (int64_t i = 0; i < out.count(); ++i) {
    const double difference = std::abs(double(a[i]) - double(b[i]));
    outcome.largest_difference = std::max(outcome.largest_difference, difference);
    outcome.reordered += std::memcmp(same_grid + i, b + i, sizeof(T)) != 0;
    if (!(difference <= tolerance * std::max(1.0, std::abs(double(a[i]))))) outcome.ok = false;
  }
  // Without a reordered value the concurrent run would have shown nothing the sequential one does
  // not. The criterion holds per case, not only summed over all, because it does not depend on how
  // the OS happens to schedule the workers: each takes a fixed round-robin share of the warps, so
  // even workers run one after another would add the patch's hundreds of terms to one word in
  // another order than block after block, and change the bits of hundreds of values (276 to 2458
  // of 6660 in every case over several runs, also with the workers made to run one after another).
  // Zero in any case means the launch ran in sequential order.
  if (outcome.in_order()) outcome.ok = false;
  const Layout al = make_layout(channels_last, aux_channels, kH, kW);
  for (int64_t n = 0; n < kN; ++n) {
    for (int64_t pixel = 0; pixel < kH * kW && aux_channels > 0; ++pixel) {
      const int64_t den = n * al.image_size() + al.at(kDen, pixel);
      const double d = std::abs(double(aux.as<T>()[den]) - double(aux2.as<T>()[den]));
      if (!(d <= tolerance * std::max(1.0, std::abs(double(aux.as<T>()[den]))))) outcome.ok = false;
      if (c.stable) {
        const int64_t max = n * al.image_size() + al.at(kMax, pixel);
        if (std::memcmp(aux.as<T>() + max, aux2.as<T>() + max, sizeof(T)) != 0) outcome.ok = false;
      }
    }
  }
  for (size_t g = 0; g < grads.size(); ++g) {
    if (grads[g].bytes != grads2[g].bytes) outcome.ok = false;
  }
  return outcome;
}

__global__ void plain_add_kernel(float* sum) { *sum += 1.0f; }

int race_control() {
  float sum = 0;
  emulation::set_settings(emulation::Settings{emulation::Schedule::kConcurrent, 4, 0});
  emulation::launch(64, kThreads, 0, cudaStream_t{}, plain_add_kernel)(&sum);
  std::printf("plain adds of 16384 threads: %g\n", sum);
  return 0;
}

// `in_order` counts the cases whose concurrent forward reordered no addition.
template <typename S>
bool check_dtype(const char* dtype_name, ffi::DataType dtype, int* in_order) {
  const Case cases[] = {{"sum", 0, false},
                        {"avg", 1, false},
                        {"linear", 2, false},
                        {"soft", 3, false},
                        {"soft-stable", 3, true}};
  bool ok = true;
  for (const bool channels_last : {false, true}) {
    for (const Case& c : cases) {
      for (const int64_t max_blocks : {int64_t(0), int64_t(3)}) {
        const Outcome o = check<S>(dtype, channels_last, c, max_blocks);
        std::printf("%-9s %-5s %-12s %-6s %-9s %10lld %12.3g\n", dtype_name,
                    channels_last ? "NHWC" : "NCHW", c.mode_name, max_blocks ? "3" : "all",
                    o.ok ? "ok" : (o.in_order() ? "IN-ORDER" : "FAIL"),
                    static_cast<long long>(o.reordered), o.largest_difference);
        ok = ok && o.ok;
        *in_order += o.in_order();
      }
    }
  }
  return ok;
}

}  // namespace
}  // namespace softsplat

int main(int argc, char** argv) {
  using namespace softsplat;
  if (argc > 1 && std::string(argv[1]) == "--race-control") return race_control();
  std::printf("%-9s %-5s %-12s %-6s %-9s %10s %12s\n", "dtype", "layout", "mode", "grid", "result",
              "reordered", "max |diff|");
  int in_order = 0;
  bool ok = check_dtype<float>("float32", ffi::F32, &in_order);
  ok = check_dtype<double>("float64", ffi::F64, &in_order) && ok;
  ok = check_dtype<BFloat16>("bfloat16", ffi::BF16, &in_order) && ok;
  ok = check_dtype<Float16>("float16", ffi::F16, &in_order) && ok;
  if (in_order > 0) {
    std::printf(
        "%d cases reordered no addition: their concurrent runs added in sequential order and "
        "exercised no race\n",
        in_order);
  }
  std::printf("%s\n", ok ? "concurrent emulation matches the sequential one" : "MISMATCH");
  return ok ? 0 : 1;
}
