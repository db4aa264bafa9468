"""The device code of jax_softsplat._cuda12, compiled by NVRTC and packed by nvFatbin (both from PyPI).

NVRTC compiles cuda/cuda_kernels.cuh to PTX for compute_80 and compute_90 (as nvcc's front end would),
ptxas assembles each into the cubin of its architecture (as nvcc's back end would), and nvFatbin packs
the two cubins and the compute_90 PTX, for newer GPUs to JIT-compile, into one fatbin. ptxas is the one
of nvidia-cuda-nvcc-cu12: NVRTC 12.0's own sm_90 cubins are ones cuobjdump 13 cannot read. The script
writes and writes a C++ source holding the fatbin (in an .nv_fatbin section, so that
cuobjdump lists it like nvcc's) and the table from each kernel's key (its SOFTSPLAT_KERNEL_INSTANCES
entry, e.g. "splat_kernel<float, BFloat16>") to its lowered (mangled) name, which the host code of
cuda_ops.cu passes to cudaLibraryGetKernel.

The result depends only on the device sources, the options and the tools, not on the Python
the wheel is for: it is kept in a cache directory under the hash of all of these, so that the builds
of one wheel per Python compile it once.

usage: nvrtc_device_code.py --nvrtc LIB --nvfatbin LIB --ptxas EXE --cuda-dir DIR --cache DIR --out FILE.cc
"""

import argparse
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Cubins for A100 and H100, PTX of compute_90 for newer GPUs to JIT-compile (as for nvcc's modules).
ARCHS = ["80", "90"]
PTX_ARCH = "90"
# The newest PTX ISA every CUDA 12 driver JIT-compiles (that of CUDA 12.0).
MAX_PTX_ISA = (8, 0)
OPTIONS = ["-std=c++17", "-DNDEBUG", "-DSOFTSPLAT_NVRTC"]
PROGRAM = '#include "cuda_kernels.cuh"\n'
# The types of the instance list, as NVRTC's name expressions must spell them (at global scope).
QUALIFIED = {"float": "float", "double": "double", "BFloat16": "softsplat::BFloat16", "Float16": "softsplat::Float16"}


def instances(kernels_header: Path):
    """The (key, name expression) of every SOFTSPLAT_KERNEL_INSTANCES entry."""
    text = kernels_header.read_text()
    block = text[text.index("#define SOFTSPLAT_KERNEL_INSTANCES(X)") :]
    found = []
    for kernel, args in re.findall(r"X\((\w+), ([\w, ]+)\)", block):
        types = [t.strip() for t in args.split(",")]
        key = f"{kernel}<{', '.join(types)}>"
        found.append((key, f"&softsplat::{kernel}<{', '.join(QUALIFIED[t] for t in types)}>"))
    if not found:
        sys.exit(f"no SOFTSPLAT_KERNEL_INSTANCES entries in {kernels_header}")
    return found


class Nvrtc:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        self.version = f"{major.value}.{minor.value}"

    def check(self, status, what, log=""):
        if status != 0:
            message = self.lib.nvrtcGetErrorString(status).decode()
            sys.exit(f"NVRTC {what}: {message}\n{log}")

    def compile(self, include_dirs, arch, expressions):
        """The PTX of compute_<arch> and the lowered name of each expression."""
        prog = ctypes.c_void_p()
        self.check(
            self.lib.nvrtcCreateProgram(ctypes.byref(prog), PROGRAM.encode(), b"cuda_kernels.cu", 0, None, None),
            "nvrtcCreateProgram",
        )
        try:
            for expression in expressions:
                self.check(self.lib.nvrtcAddNameExpression(prog, expression.encode()), "nvrtcAddNameExpression")
            arch_option = f"--gpu-architecture=compute_{arch}"
            options = [*OPTIONS, arch_option, *(f"-I{d}" for d in include_dirs)]
            argv = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
            status = self.lib.nvrtcCompileProgram(prog, len(options), argv)
            size = ctypes.c_size_t()
            self.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            self.lib.nvrtcGetProgramLog(prog, log)
            self.check(status, f"compiling for {arch_option}", log.value.decode(errors="replace"))
            self.check(self.lib.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
            code = ctypes.create_string_buffer(size.value)
            self.check(self.lib.nvrtcGetPTX(prog, code), "nvrtcGetPTX")
            lowered = {}
            for expression in expressions:
                name = ctypes.c_char_p()
                self.check(self.lib.nvrtcGetLoweredName(prog, expression.encode(), ctypes.byref(name)), "lowered name")
                lowered[expression] = name.value.decode()
            # PTX comes NUL-terminated; ptxas and nvFatbin take it without the NUL.
            return code.raw[: size.value - 1], lowered
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))


def ptx_isa(ptx):
    found = re.search(rb"^\.version (\d+)\.(\d+)", ptx, re.MULTILINE)
    if not found:
        sys.exit("no .version line in NVRTC's PTX")
    return int(found.group(1)), int(found.group(2))


def assemble(ptxas, ptx, arch, workdir):
    source, cubin = workdir / f"compute_{arch}.ptx", workdir / f"sm_{arch}.cubin"
    source.write_bytes(ptx)
    subprocess.run([ptxas, "-O3", f"--gpu-name=sm_{arch}", str(source), "-o", str(cubin)], check=True)
    return cubin.read_bytes()


def fatbin(path, images):
    lib = ctypes.CDLL(path)
    lib.nvFatbinGetErrorString.restype = ctypes.c_char_p

    def check(status, what):
        if status != 0:
            sys.exit(f"nvFatbin {what}: {lib.nvFatbinGetErrorString(status).decode()}")

    handle = ctypes.c_void_p()
    # Every image compressed (left alone, nvFatbin stores the cubins uncompressed: 1.16 MB against
    # 0.50 MB), in the default mode, which every CUDA 12 driver reads.
    options = (ctypes.c_char_p * 1)(b"-compress-all")
    check(lib.nvFatbinCreate(ctypes.byref(handle), options, ctypes.c_size_t(1)), "create")
    try:
        for kind, arch, data in images:
            if kind == "cubin":
                check(
                    lib.nvFatbinAddCubin(handle, data, ctypes.c_size_t(len(data)), arch.encode(), b"cuda_kernels"),
                    "add cubin",
                )
            else:
                check(
                    lib.nvFatbinAddPTX(handle, data, ctypes.c_size_t(len(data)), arch.encode(), b"cuda_kernels", b""),
                    "add PTX",
                )
        size = ctypes.c_size_t()
        check(lib.nvFatbinSize(handle, ctypes.byref(size)), "size")
        out = ctypes.create_string_buffer(size.value)
        check(lib.nvFatbinGet(handle, out), "get")
        return out.raw
    finally:
        lib.nvFatbinDestroy(ctypes.byref(handle))


def source(blob, table, nvrtc_version):
    rows = ",\n".join("  " + ",".join(f"{b}" for b in blob[i : i + 24]) for i in range(0, len(blob), 24))
    names = "\n".join(f'    {{"{key}", "{symbol}"}},' for key, symbol in table)
    return f"""// Generated by cmake/nvrtc_device_code.py (NVRTC {nvrtc_version} and ptxas): the device code of
// cuda_kernels.cuh as a fatbin (sm_80 and sm_90 cubins, compute_90 PTX) and its kernels' lowered names.
#include <cstring>

#include "kernel_image.h"

namespace softsplat {{
namespace {{

// In .nv_fatbin, as nvcc places its fatbins, so that cuobjdump finds it in the module.
alignas(8) __attribute__((section(".nv_fatbin"), used)) const unsigned char kFatbin[{len(blob)}] = {{
{rows}}};

struct KernelSymbol {{
  const char* key;
  const char* symbol;
}};
const KernelSymbol kSymbols[] = {{
{names}
}};

}}  // namespace

const void* kernel_image() {{ return kFatbin; }}

const char* kernel_symbol(const char* key) {{
  for (const KernelSymbol& k : kSymbols) {{
    if (std::strcmp(k.key, key) == 0) return k.symbol;
  }}
  return nullptr;
}}

}}  // namespace softsplat
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvrtc", required=True)
    parser.add_argument("--nvfatbin", required=True)
    parser.add_argument("--ptxas", required=True)
    parser.add_argument("--cuda-dir", required=True, type=Path)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    nvrtc = Nvrtc(args.nvrtc)
    include_dirs = [args.cuda_dir / "nvrtc", args.cuda_dir]
    sources = sorted([*args.cuda_dir.glob("*.h"), *args.cuda_dir.glob("*.cuh"), *(args.cuda_dir / "nvrtc").iterdir()])
    digest = hashlib.sha256()
    ptxas_version = subprocess.run([args.ptxas, "--version"], capture_output=True, text=True, check=True).stdout
    for part in [
        Path(__file__).read_bytes(),
        nvrtc.version.encode(),
        ptxas_version.encode(),
        Path(args.nvfatbin).resolve().name.encode(),
    ]:
        digest.update(part)
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()[:24]
    cached = args.cache / f"device_code-{key}.cc"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists():
        shutil.copyfile(cached, args.out)
        print(f"NVRTC device code: cached {cached}")
        return

    start = time.monotonic()
    table = instances(args.cuda_dir / "cuda_kernels.cuh")
    expressions = [expression for _, expression in table]
    images, lowered = [], None
    with tempfile.TemporaryDirectory() as work:
        for arch in ARCHS:
            ptx, names = nvrtc.compile(include_dirs, arch, expressions)
            if lowered is not None and names != lowered:
                sys.exit(f"NVRTC lowered the kernel names differently for compute_{arch}")
            lowered = names
            if ptx_isa(ptx) > MAX_PTX_ISA:
                sys.exit(
                    f"NVRTC {nvrtc.version} wrote PTX ISA {ptx_isa(ptx)}, newer than {MAX_PTX_ISA}, which "
                    "not every CUDA 12 driver can JIT-compile: use NVRTC 12.0 (nvidia-cuda-nvrtc-cu12==12.0.*)"
                )
            images.append(("cubin", arch, assemble(args.ptxas, ptx, arch, Path(work))))
            if arch == PTX_ARCH:
                images.append(("ptx", arch, ptx))
    blob = fatbin(args.nvfatbin, images)
    text = source(blob, [(k, lowered[e]) for k, e in table], nvrtc.version)
    # Written under a temporary name, then renamed: builds running side by side share the cache.
    args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=args.cache, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, cached)
    shutil.copyfile(cached, args.out)
    print(
        f"NVRTC {nvrtc.version} device code: {len(blob)} bytes of fatbin "
        f"in {time.monotonic() - start:.1f} s, cached as {cached}"
    )


if __name__ == "__main__":
    main()
