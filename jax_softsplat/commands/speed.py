"""`jax-softsplat speed TARGET`: timings printed as tables, alternatives side by side in one run.

Target `operator`: the splatting operator against its alternatives. Implementations: `kernel` (the
fused custom call, `jax_softsplat.softsplat`), `composed` (the modes composed from the custom call's
summation splat, as docs/operator.md defines them), `reference` (the pure-jnp scatter-add under jit)
and `torch` (a PyTorch CPU splat with `index_add_`, the usual fallback of PyTorch users; autograd gives
its backward; skipped with a note when torch is not installed).

Every row also times the physical limit measured in the same run: an XLA program that copies every
array the pass reads (forward: x, flow and the metric where the mode has one; forward+backward: those,
the cotangent and the output again), which moves at least as many bytes as the splat must. The
"copy/kernel" column is that time over the kernel's: the fraction of copy bandwidth the kernel reaches.

Prints a table (median milliseconds over repeated runs after warm-up) and optionally writes JSON. The
same command runs unchanged on a GPU, where `kernel`, `composed` and `reference` run on the device.
JAX is imported when the timing starts, not while the command line is parsed.
"""

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass

from jax_softsplat import video_speed
from jax_softsplat.commands.options import HelpFormatter, output_file, positive_int
from jax_softsplat.files import atomic_path

SIZES = {"tiny": (48, 64), "540p": (540, 960), "1080p": (1080, 1920), "4k": (2160, 3840)}
DTYPES = ("float32", "float64", "bfloat16")
JAX_IMPLEMENTATIONS = ("kernel", "composed", "reference")
IMPLEMENTATIONS = (*JAX_IMPLEMENTATIONS, "torch")


@dataclass
class Row:
    implementation: str
    threads: int | None  # CPU kernel threads; None where it does not apply
    size: str
    channels: int
    layout: str
    dtype: str
    mode: str
    passes: str  # "forward" or "forward+backward"
    median_ms: float
    runs: int


def _inputs(size: str, channels: int, layout: str, seed: int = 0):
    """A frame, a smooth flow of a few pixels with some crossings, and a metric (float32 numpy)."""
    import numpy as np

    h, w = SIZES[size]
    rng = np.random.default_rng(seed)
    x = rng.random((1, channels, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.stack([6 * np.sin(yy / 37.0) + rng.normal(0, 0.5, (h, w)), 4 * np.cos(xx / 53.0)])[None]
    metric = rng.normal(0, 1, (1, 1, h, w))
    if layout == "NHWC":
        x, flow, metric = (np.moveaxis(a, 1, -1) for a in (x, flow, metric))
    return tuple(np.ascontiguousarray(a, np.float32) for a in (x, flow, metric))


def _jax_implementation(name: str):
    from jax_softsplat import reference, splat

    return {"kernel": splat.softsplat, "composed": splat.softsplat_composed, "reference": reference.softsplat}[name]


def _jax_fn(fn, mode: str, layout: str, passes: str):
    import jax

    takes_metric = mode in ("linear", "soft")

    def forward(x, flow, metric):
        return fn(x, flow, metric if takes_metric else None, mode, layout=layout)

    if passes == "forward":
        return jax.jit(forward)

    def forward_backward(x, flow, metric, cotangent):
        out, pullback = jax.vjp(forward, x, flow, metric)
        return out, pullback(cotangent)

    return jax.jit(forward_backward)


def _copy_fn(mode: str):
    """Copies every array the pass reads (see the module docstring)."""
    import jax

    takes_metric = mode in ("linear", "soft")

    def copy(x, flow, metric, cotangent=None):
        arrays = [x, flow] + ([metric] if takes_metric else [])
        if cotangent is not None:
            arrays += [cotangent, x]  # the backward also reads the cotangent and the output
        return [a * a.dtype.type(1) + a.dtype.type(0) for a in arrays]

    return jax.jit(copy)


def _torch_fn(mode: str, layout: str, dtype: str):
    """PyTorch CPU splat with index_add_ (NCHW inside), or None when torch is absent.

    The returned function gives the output for a forward pass; given a cotangent, it runs autograd's
    backward too and gives (output, [dL/dx, dL/dflow, dL/dmetric]), dL/dmetric None in modes without
    a metric.
    """
    try:
        import torch
    except ImportError:
        return None
    import numpy as np

    torch_dtype = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}[dtype]
    # Pixel coordinates and the indices made from them need float32 at least: bfloat16 holds integers
    # exactly only up to 256, so in bfloat16 the fractions of the target points vanish and the indices
    # of larger images go wrong, out of bounds for index_add_.
    position_dtype = torch.float64 if torch_dtype == torch.float64 else torch.float32

    def splat_sum(x, flow):  # x [N, C, H, W], flow [N, 2, H, W]
        n, c, h, w = x.shape
        grid = (torch.arange(h, dtype=position_dtype), torch.arange(w, dtype=position_dtype))
        gy, gx = torch.meshgrid(*grid, indexing="ij")
        flow = flow.to(position_dtype)
        tx, ty = gx + flow[:, 0], gy + flow[:, 1]
        x0, y0 = torch.floor(tx), torch.floor(ty)
        ax, ay = tx - x0, ty - y0
        out = x.new_zeros(n, c, h * w + 1)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            cx, cy = x0 + dx, y0 + dy
            weight = ((ax if dx else 1 - ax) * (ay if dy else 1 - ay)).to(x.dtype)
            inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h) & torch.isfinite(weight)
            index = torch.where(inside, cy * w + cx, torch.full_like(cx, h * w)).long()
            contribution = (x * torch.where(inside, weight, 0).unsqueeze(1)).reshape(n, c, h * w)
            for b in range(n):
                out[b].index_add_(1, index[b].reshape(-1), contribution[b])
        return out[:, :, : h * w].reshape(n, c, h, w)

    def softsplat(x, flow, metric):
        if layout == "NHWC":
            x, flow, metric = (a.permute(0, 3, 1, 2) for a in (x, flow, metric))
        if mode == "sum":
            out = splat_sum(x, flow)
        else:
            weight = {"avg": torch.ones_like(metric), "linear": metric, "soft": torch.exp(metric)}[mode]
            both = splat_sum(torch.cat([x * weight, weight], 1), flow)
            out = both[:, :-1] / (both[:, -1:] + 1e-7)
        return out.permute(0, 2, 3, 1) if layout == "NHWC" else out

    def run(x, flow, metric, cotangent=None):
        tensors = [torch.from_numpy(np.asarray(a, np.float32)).to(torch_dtype) for a in (x, flow, metric)]
        if cotangent is None:
            with torch.no_grad():
                return softsplat(*tensors)
        for t in tensors:
            t.requires_grad_(True)
        out = softsplat(*tensors)
        out.backward(torch.from_numpy(np.asarray(cotangent, np.float32)).to(torch_dtype))
        return out, [t.grad for t in tensors]

    return run


def measure(fn, args, repeats: int, min_seconds: float) -> tuple[float, int]:
    import jax

    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_seconds and len(times) < 100):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, len(times)


def time_operator(args: argparse.Namespace) -> list[Row]:
    """Times every combination the options ask for; prints each row as it is measured."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jax_softsplat import _ffi

    rows = []
    torch_noted = False
    default_threads = _ffi.num_threads()
    grid = itertools.product(args.size, args.channels, args.layout, args.dtype, args.mode, args.passes)
    for size, channels, layout, dtype, mode, passes in grid:
        host = _inputs(size, channels, layout)
        x, flow, metric = (jnp.asarray(a, jnp.dtype(dtype)) for a in host)
        call_args = (x, flow, metric) if passes == "forward" else (x, flow, metric, jnp.ones_like(x))
        config = (size, channels, layout, dtype, mode, passes)

        def record(name, threads, fn, fn_args, config=config):
            ms, runs = measure(fn, fn_args, args.repeats, args.min_seconds)
            rows.append(Row(name, threads, *config, ms, runs))
            label = name if threads is None else f"{name} ({threads} threads)"
            print(f"  {label:22s} {' '.join(map(str, config))}: {ms:.2f} ms", flush=True)

        record("copy", None, _copy_fn(mode), call_args)
        for name in args.implementation:
            if name == "torch":
                fn = _torch_fn(mode, layout, dtype)
                if fn is None:
                    if not torch_noted:
                        print("  torch is not installed: its column is skipped (pip install torch)")
                        torch_noted = True
                    continue
                host_args = host if passes == "forward" else (*host, np.ones_like(host[0]))
                record("torch", None, fn, host_args)
                continue
            fn = _jax_fn(_jax_implementation(name), mode, layout, passes)
            on_cpu = jax.default_backend() == "cpu"
            threads = args.threads if name == "kernel" and on_cpu and args.threads else [None]
            for t in threads:
                if t is not None:
                    _ffi.set_num_threads(t)
                record(name, t, fn, call_args)
            _ffi.set_num_threads(default_threads)
    return rows


def table(rows: list[Row]) -> str:
    key = lambda r: (r.size, r.channels, r.layout, r.dtype, r.mode, r.passes)  # noqa: E731
    label = lambda r: r.implementation if r.threads is None else f"kernel/{r.threads}t"  # noqa: E731
    names = list(dict.fromkeys(label(r) for r in rows if r.implementation != "copy"))
    # The kernel column the ratios use: the one with the most threads.
    kernels = [n for n in names if n.startswith("kernel")]
    main = max(kernels, key=lambda n: int(n.split("/")[1][:-1]) if "/" in n else 0) if kernels else None
    others = [n for n in names if n != main]
    header = ["size", "C", "layout", "dtype", "mode", "pass", "copy ms"] + [f"{n} ms" for n in names]
    if main:
        header += [f"{n}/{main}" for n in others] + [f"copy/{main}"]
    lines = [header]
    for config, group in itertools.groupby(sorted(rows, key=key), key=key):
        group = list(group)
        by_name = {label(r): r.median_ms for r in group}
        copy = next(r.median_ms for r in group if r.implementation == "copy")
        line = [str(v) for v in config] + [f"{copy:.2f}"]
        line += [f"{by_name[n]:.2f}" if n in by_name else "-" for n in names]
        if main:
            line += [f"{by_name[n] / by_name[main]:.2f}x" if n in by_name else "-" for n in others]
            line += [f"{copy / by_name[main]:.2f}"]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in lines)


TARGETS = {
    "operator": "the splatting operator (fused kernel, composed, pure-jnp reference, PyTorch) against a copy of "
    "its inputs",
    "video": "`jax-softsplat video` per model at 1080p and 4K: seconds per interpolated frame and peak memory, "
    "each model in its own process, against FFmpeg's minterpolate",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    operator = targets.add_parser(
        "operator", help=TARGETS["operator"], description=TARGETS["operator"], formatter_class=HelpFormatter
    )
    add_operator_arguments(operator)
    operator.set_defaults(run_target=run_operator)
    video = targets.add_parser(
        "video", help=TARGETS["video"], description=TARGETS["video"], formatter_class=HelpFormatter
    )
    video_speed.add_arguments(video)
    video.set_defaults(run_target=video_speed.run)


def add_operator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--size",
        nargs="+",
        default=["1080p"],
        choices=list(SIZES),
        help="frame sizes: " + ", ".join(f"{k} = {w}x{h}" for k, (h, w) in SIZES.items()),
    )
    parser.add_argument(
        "--channels", nargs="+", type=positive_int, default=[3], help="e.g. 3 (a frame) and 64 (features)"
    )
    parser.add_argument("--layout", nargs="+", default=["NCHW"], choices=["NCHW", "NHWC"], help="memory layouts")
    parser.add_argument("--dtype", nargs="+", default=["float32"], choices=DTYPES, help="data types")
    parser.add_argument(
        "--mode", nargs="+", default=["sum", "soft"], choices=["sum", "avg", "linear", "soft"], help="splatting modes"
    )
    parser.add_argument(
        "--passes",
        nargs="+",
        default=["forward", "forward+backward"],
        choices=["forward", "forward+backward"],
        help="what is timed",
    )
    parser.add_argument(
        "--implementation",
        nargs="+",
        default=list(JAX_IMPLEMENTATIONS),
        choices=IMPLEMENTATIONS,
        help="implementations timed beside the copy",
    )
    parser.add_argument(
        "--threads",
        nargs="+",
        type=positive_int,
        help="CPU kernel thread counts to time side by side, e.g. 1 2 (default: all cores)",
    )
    parser.add_argument("--repeats", type=positive_int, default=5, help="runs per row after warm-up (at least)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="keep running a row at least this long")
    parser.add_argument("--json", help="also write every measurement to this JSON file")


def run(args: argparse.Namespace) -> None:
    args.run_target(args)


def run_operator(args: argparse.Namespace) -> None:
    json_path = output_file("--json", args.json, suffixes=(".json",)) if args.json else None
    import jax

    from jax_softsplat import _ffi

    if "float64" in args.dtype:
        jax.config.update("jax_enable_x64", True)
    device = jax.devices()[0]
    print(
        f"jax {jax.__version__} on {device.platform} ({device.device_kind}), "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"kernel threads {_ffi.num_threads()}"
    )
    rows = time_operator(args)
    print(table(rows))
    if json_path:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps([asdict(r) for r in rows], indent=1))
        print(f"measurements: {json_path}")
