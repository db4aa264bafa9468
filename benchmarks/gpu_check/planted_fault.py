"""Part c's control: a kernel with a planted fault, run under the same compute-sanitizer tool as the
operator. The tool must report it, or the check fails: a silent tool proves nothing about our kernels.

  --fault oob:  each thread i <= n writes a[i] of an n-element buffer, one element past its end
                (CuPy's memory pool is turned off, so the buffer is its own cudaMalloc and memcheck
                knows its exact size);
  --fault race: two warps write and read the same shared-memory words without __syncthreads.

With CuPy the kernels are CuPy RawKernels; without it, the same source is compiled by nvcc."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

SOURCE = r"""
extern "C" __global__ void oob(float* a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) a[i] = 1.0f;  // i == n is one past the end: the planted fault
}
extern "C" __global__ void race(float* out) {
  __shared__ float s[32];
  s[threadIdx.x % 32] = threadIdx.x;            // both warps write the same words
  out[threadIdx.x] = s[(threadIdx.x + 1) % 32];  // and read them, with no __syncthreads
}
"""

MAIN = r"""
#include <cstdio>
#include <cstring>
int main(int argc, char** argv) {
  float* a;
  cudaMalloc(&a, 256 * sizeof(float));
  if (argc > 1 && !strcmp(argv[1], "race")) race<<<1, 64>>>(a);
  else oob<<<2, 256>>>(a, 256);
  cudaError_t e = cudaDeviceSynchronize();
  printf("planted kernel ran: %s\n", cudaGetErrorString(e));
  cudaFree(a);
  return 0;
}
"""


def with_cupy(fault: str) -> None:
    import cupy

    cupy.cuda.set_allocator(None)  # a plain cudaMalloc per array, not a slice of a pool
    module = cupy.RawModule(code=SOURCE)
    a = cupy.zeros(256, cupy.float32)
    if fault == "oob":
        module.get_function("oob")((2,), (256,), (a, cupy.int32(256)))
    else:
        module.get_function("race")((1,), (64,), (a,))
    cupy.cuda.Device().synchronize()
    print(f"planted kernel ran with CuPy {cupy.__version__}")


def with_nvcc(fault: str) -> None:
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    with tempfile.TemporaryDirectory() as tmp:
        source, binary = os.path.join(tmp, "planted.cu"), os.path.join(tmp, "planted")
        with open(source, "w") as f:
            f.write(SOURCE + MAIN)
        subprocess.run([nvcc, "-o", binary, source], check=True)
        sys.exit(subprocess.run([binary, fault]).returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", choices=["oob", "race"], required=True)
    fault = parser.parse_args().fault
    try:
        import cupy  # noqa: F401
    except ImportError:
        print("CuPy is not installed: the planted kernel is compiled with nvcc")
        with_nvcc(fault)
        return
    with_cupy(fault)


if __name__ == "__main__":
    main()
