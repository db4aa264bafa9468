"""Benchmark of the operator against its alternatives, side by side in one run.

Prints a table (median milliseconds over repeated runs after warm-up, and the speed-up of the custom
call over each alternative) and optionally writes every measurement as JSON.
"""

import argparse
import itertools
import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jax_softsplat import reference, splat
from jax_softsplat.files import atomic_path

SIZES = {"540p": (540, 960), "1080p": (1080, 1920), "4k": (2160, 3840)}
DTYPES = {"float32": jnp.float32, "float64": jnp.float64, "bfloat16": jnp.bfloat16}
IMPLEMENTATIONS = {"kernel": splat.softsplat, "reference": reference.softsplat}


@dataclass
class Row:
    implementation: str
    size: str
    channels: int
    layout: str
    dtype: str
    mode: str
    passes: str  # "forward" or "forward+backward"
    median_ms: float
    runs: int


def _inputs(size: str, channels: int, layout: str, dtype, seed: int = 0):
    """A frame, a smooth flow of a few pixels with some crossings, and a metric."""
    h, w = SIZES[size]
    rng = np.random.default_rng(seed)
    x = rng.random((1, channels, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.stack([6 * np.sin(yy / 37.0) + rng.normal(0, 0.5, (h, w)), 4 * np.cos(xx / 53.0)])[None]
    metric = rng.normal(0, 1, (1, 1, h, w)).astype(np.float32)
    if layout == "NHWC":
        x, flow, metric = (np.moveaxis(a, 1, -1) for a in (x, flow, metric))
    return tuple(jnp.asarray(np.ascontiguousarray(a), dtype) for a in (x, flow, metric))


def _compiled(fn, mode: str, layout: str, passes: str):
    takes_metric = mode in ("linear", "soft")

    def forward(x, flow, metric):
        return fn(x, flow, metric if takes_metric else None, mode, layout=layout)

    if passes == "forward":
        return jax.jit(forward)

    def forward_backward(x, flow, metric, cotangent):
        out, pullback = jax.vjp(forward, x, flow, metric)
        return out, pullback(cotangent)

    return jax.jit(forward_backward)


def measure(fn, args, repeats: int, min_seconds: float) -> tuple[float, int]:
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_seconds and len(times) < 100):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, len(times)


def run(args) -> list[Row]:
    rows = []
    grid = itertools.product(args.size, args.channels, args.layout, args.dtype, args.mode, args.passes)
    for size, channels, layout, dtype, mode, passes in grid:
        x, flow, metric = _inputs(size, channels, layout, DTYPES[dtype])
        call_args = (x, flow, metric) if passes == "forward" else (x, flow, metric, jnp.ones_like(x))
        for name in args.implementation:
            fn = _compiled(IMPLEMENTATIONS[name], mode, layout, passes)
            ms, runs = measure(fn, call_args, args.repeats, args.min_seconds)
            rows.append(Row(name, size, channels, layout, dtype, mode, passes, ms, runs))
            print(f"  measured {name:9s} {size} C={channels} {layout} {dtype} {mode} {passes}: {ms:.1f} ms",
                  flush=True)
    return rows


def table(rows: list[Row]) -> str:
    key = lambda r: (r.size, r.channels, r.layout, r.dtype, r.mode, r.passes)  # noqa: E731
    names = list(dict.fromkeys(r.implementation for r in rows))
    others = [n for n in names if n != "kernel"]
    header = ["size", "C", "layout", "dtype", "mode", "pass"] + [f"{n} ms" for n in names]
    header += [f"vs {n}" for n in others if "kernel" in names]
    lines = [header]
    for config, group in itertools.groupby(sorted(rows, key=key), key=key):
        by_name = {r.implementation: r.median_ms for r in group}
        line = [str(v) for v in config] + [f"{by_name[n]:.1f}" if n in by_name else "-" for n in names]
        if "kernel" in by_name:
            line += [f"{by_name[n] / by_name['kernel']:.1f}x" if n in by_name else "-" for n in others]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", nargs="+", default=["1080p"], choices=list(SIZES))
    parser.add_argument("--channels", nargs="+", type=int, default=[3])
    parser.add_argument("--layout", nargs="+", default=["NCHW"], choices=["NCHW", "NHWC"])
    parser.add_argument("--dtype", nargs="+", default=["float32"], choices=list(DTYPES))
    parser.add_argument("--mode", nargs="+", default=["sum", "soft"], choices=["sum", "avg", "linear", "soft"])
    parser.add_argument("--passes", nargs="+", default=["forward", "forward+backward"],
                        choices=["forward", "forward+backward"])
    parser.add_argument("--implementation", nargs="+", default=list(IMPLEMENTATIONS), choices=list(IMPLEMENTATIONS))
    parser.add_argument("--repeats", type=int, default=5, help="runs per row after warm-up (at least)")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="keep running a row at least this long")
    parser.add_argument("--json", help="also write every measurement to this JSON file")


def main(args: argparse.Namespace) -> None:
    if "float64" in args.dtype:
        jax.config.update("jax_enable_x64", True)
    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform} ({device.device_kind}), {platform.processor() or platform.machine()}")
    rows = run(args)
    print(table(rows))
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps([asdict(r) for r in rows], indent=1))
        print(f"measurements: {args.json}")
