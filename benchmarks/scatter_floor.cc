// How fast can any CPU scatter of summation splatting be, next to a copy of the same bytes?
//
//     g++ -O3 -std=c++17 -pthread benchmarks/scatter_floor.cc -o /tmp/scatter_floor &&
//     /tmp/scatter_floor
//
// A stripped-down `sum` forward at 1080p, C = 3, float32, NCHW: no modes, no bounds cases (pixels
// whose footprint leaves the image are dropped), no half precision, channel count fixed at compile
// time, rows split between threads without any planning. It computes what the kernel computes for
// interior pixels and is a lower bound for any scatter that keeps one read-modify-write per corner
// and channel. The copy moves the bytes the splat must read (x and flow) to new arrays with memcpy.
// Both are timed in the same run, with one and two threads; the table gives medians and the ratio:
// how far above a copy the floor of the scatter itself lies.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kHeight = 1080, kWidth = 1920, kChannels = 3;
constexpr int64_t kPixels = kHeight * kWidth;

// Runs body(begin, end) over [0, rows) split into `threads` contiguous parts.
void split_rows(int threads, int64_t rows, const std::function<void(int64_t, int64_t)>& body) {
  std::vector<std::thread> helpers;
  for (int i = 1; i < threads; ++i) {
    helpers.emplace_back(body, i * rows / threads, (i + 1) * rows / threads);
  }
  body(0, rows / threads);
  for (auto& helper : helpers) helper.join();
}

// Source rows [begin, end) into `out`; even columns before odd ones, as the kernel does, so that
// neighbouring adds do not wait on each other's stores.
void scatter_rows(const float* x, const float* flow, float* out, int64_t begin, int64_t end) {
  for (int64_t y = begin; y < end; ++y) {
    for (int64_t first = 0; first < 2; ++first) {
      for (int64_t col = first; col < kWidth; col += 2) {
        const int64_t p = y * kWidth + col;
        const float tx = float(col) + flow[p], ty = float(y) + flow[kPixels + p];
        if (!(tx >= 0.0f && tx < float(kWidth - 1) && ty >= 0.0f && ty < float(kHeight - 1)))
          continue;
        const int64_t x0 = static_cast<int64_t>(tx), y0 = static_cast<int64_t>(ty);
        const float ax = tx - float(x0), ay = ty - float(y0);
        const float s[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
        float v[kChannels];
        for (int64_t c = 0; c < kChannels; ++c) v[c] = x[c * kPixels + p];
        for (int64_t c = 0; c < kChannels; ++c) {
          float* d = out + c * kPixels + y0 * kWidth + x0;
          d[0] += s[0] * v[c];
          d[1] += s[1] * v[c];
          d[kWidth] += s[2] * v[c];
          d[kWidth + 1] += s[3] * v[c];
        }
      }
    }
  }
}

// Two threads split the rows in halves; the flows here move pixels by less than `reach` rows, so
// the rows near the split are splatted after both halves, keeping the threads' writes apart.
void scatter(int threads, const float* x, const float* flow, float* out) {
  constexpr int64_t reach = 12;
  split_rows(threads, kChannels, [&](int64_t begin, int64_t end) {
    std::fill(out + begin * kPixels, out + end * kPixels, 0.0f);
  });
  if (threads == 1) {
    scatter_rows(x, flow, out, 0, kHeight);
    return;
  }
  split_rows(threads, kHeight, [&](int64_t begin, int64_t end) {
    scatter_rows(x, flow, out, begin == 0 ? 0 : begin + reach, end == kHeight ? end : end - reach);
  });
  for (int i = 1; i < threads; ++i) {
    const int64_t border = i * kHeight / threads;
    scatter_rows(x, flow, out, border - reach, border + reach);
  }
}

// Every array the splat reads (x, flow), copied with memcpy, as `jax-softsplat speed operator`'s
// copy does: the copy of x writes as many bytes as the splat's output.
void copy(int threads, const float* x, const float* flow, float* x_copy, float* flow_copy) {
  split_rows(threads, kPixels, [&](int64_t begin, int64_t end) {
    for (int64_t c = 0; c < kChannels; ++c) {
      std::memcpy(x_copy + c * kPixels + begin, x + c * kPixels + begin,
                  (end - begin) * sizeof(float));
    }
    for (int64_t c = 0; c < 2; ++c) {
      std::memcpy(flow_copy + c * kPixels + begin, flow + c * kPixels + begin,
                  (end - begin) * sizeof(float));
    }
  });
}

double median_ms(int repeats, const std::function<void()>& fn) {
  fn();  // warm-up: first touch of the output pages
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main() {
  std::vector<float> x(kChannels * kPixels), out(kChannels * kPixels);
  std::vector<float> x_copy(x.size());
  std::vector<float> constant(2 * kPixels), smooth(2 * kPixels), flow_copy(2 * kPixels);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, 0.5f);
  for (float& v : x) v = uniform(rng);
  for (int64_t y = 0; y < kHeight; ++y) {
    for (int64_t col = 0; col < kWidth; ++col) {
      const int64_t p = y * kWidth + col;
      constant[p] = constant[kPixels + p] = 0.3f;
      // The flow of `jax-softsplat speed operator`: a few pixels, smooth, with noise that makes
      // paths cross.
      smooth[p] = 6.0f * std::sin(float(y) / 37.0f) + noise(rng);
      smooth[kPixels + p] = 4.0f * std::cos(float(col) / 53.0f);
    }
  }
  constexpr int repeats = 21;
  std::printf("1080p, C = 3, float32, NCHW, sum forward; median of %d runs\n", repeats);
  std::printf("%-20s %7s %8s %11s %13s\n", "flow", "threads", "copy ms", "scatter ms",
              "scatter/copy");
  for (const auto& [name, flow] :
       {std::pair<const char*, const std::vector<float>*>{"constant (0.3, 0.3)", &constant},
        std::pair<const char*, const std::vector<float>*>{"bench's smooth flow", &smooth}}) {
    for (int threads : {1, 2}) {
      const double copy_ms = median_ms(
          repeats, [&] { copy(threads, x.data(), flow->data(), x_copy.data(), flow_copy.data()); });
      const double scatter_ms =
          median_ms(repeats, [&] { scatter(threads, x.data(), flow->data(), out.data()); });
      std::printf("%-20s %7d %8.2f %11.2f %12.1fx\n", name, threads, copy_ms, scatter_ms,
                  scatter_ms / copy_ms);
    }
  }
  return 0;
}
