"""Part d: the operator's speed table on the GPU, mode soft, NCHW. Ours (`kernel`) against the jnp scatter
(`reference`), PyTorch's `index_add_` on device tensors (`torch`) and, given --authors-softsplat, the
authors' CuPy kernel (`authors`), all on the same inputs (made on the device by JAX, shared with torch
through DLPack). Medians of synchronised runs after warm-up; our kernel's achieved GB/s against the bytes
each pass must move (as docs/gpu.md's "Expected time" counts them) and the copy bandwidth measured here."""

import importlib.util
import itertools

import common

GPU_SIZES = {"1080p": (1080, 1920), "4k": (2160, 3840)}
DRY_SIZES = {"tiny": (24, 40)}
# Datasheet HBM bandwidths (TB/s), matched against the device name in this order.
NOMINAL_TBPS = (
    ("H100 PCIe", 2.0),
    ("H100 NVL", 3.9),
    ("H100", 3.35),
    ("H200", 4.8),
    ("A100-SXM4-80GB", 2.039),
    ("A100 80GB PCIe", 1.935),
    ("A100", 1.555),
)


def nominal_tbps(device_kind: str) -> float | None:
    return next((tbps for name, tbps in NOMINAL_TBPS if name in device_kind), None)


def pass_bytes(mode: str, passes: str, n_pixels: int, channels: int, itemsize: int) -> int:
    """Bytes a pass must read and write in device memory (docs/gpu.md, "Expected time"): the inputs at
    their own width; the output and the weight sums in float32, where the atomics accumulate."""
    p, c, e = n_pixels, channels, itemsize
    has_metric, normalizes = mode in ("linear", "soft"), mode != "sum"
    inputs = (c + 2 + has_metric) * p * e
    forward = inputs + 2 * c * p * 4  # read x, flow, metric; clear and accumulate the output
    if normalizes:
        forward += 2 * p * 4 + 2 * c * p * 4 + p * 4  # sums: clear, accumulate; normalise: out in and out, sums
    if passes == "forward":
        return forward
    backward = inputs + c * p * 4 + (p * 4 if normalizes else 0) + c * p * e  # + out, sums, grad_out read
    backward += (c + 2 + has_metric) * p * e  # grad_x, grad_flow, grad_metric written
    return forward + backward


def load_authors(path: str):
    spec = importlib.util.spec_from_file_location("authors_softsplat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--authors-softsplat", help="the authors' softsplat.py")
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    results = common.Results(args)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jax_softsplat import reference, splat
    from jax_softsplat.commands.speed import _jax_fn

    backend = results.data["backend"] = common.check_backend(args.dry_run)
    device_kind = jax.devices()[0].device_kind
    results.data["nominal_tbps"] = nominal_tbps(device_kind)
    try:
        import torch

        torch_device = "cuda" if torch.cuda.is_available() else "cpu"
        if not args.dry_run and torch_device != "cuda":
            results.note(f"torch {torch.__version__} sees no CUDA device: its column is left out")
            torch = None
    except ImportError:
        torch = None
        results.note("torch is not installed: its column is left out")
    authors = None
    if args.authors_softsplat and torch is None:
        results.note("--authors-softsplat needs torch: its column is left out")
    elif args.authors_softsplat:
        authors = load_authors(args.authors_softsplat)
    else:
        results.note("--authors-softsplat not given: the authors' column is left out")

    def jax_sync(out):
        jax.block_until_ready(out)

    def torch_sync(_):
        if torch_device == "cuda":
            torch.cuda.synchronize()

    # The copy bandwidth of this device, measured here: read and write one large array.
    n_copy = (1 << 28) if not args.dry_run else (1 << 22)  # 1 GiB of float32, 16 MiB in the dry run
    source = jnp.ones(n_copy, jnp.float32)
    scale = jax.jit(lambda a: a * 2.0)
    ms, _ = common.median_ms(lambda: scale(source), jax_sync, args.runs)
    results.data["copy_gbps_jax"] = 2 * source.nbytes / ms / 1e6
    if torch is not None:
        a = torch.ones(n_copy, dtype=torch.float32, device=torch_device)
        b = torch.empty_like(a)
        ms, _ = common.median_ms(lambda: b.copy_(a), torch_sync, args.runs)
        results.data["copy_gbps_torch"] = 2 * a.numel() * 4 / ms / 1e6
        a = b = None
    source = None  # frees the device memory before the table
    results.save()

    sizes = DRY_SIZES if args.dry_run else GPU_SIZES
    mode = "soft"
    grid = itertools.product(sizes.items(), (3, 64), ("float32", "bfloat16"), ("forward", "forward+backward"))
    for (size, (h, w)), channels, dtype, passes in grid:
        config = {"size": size, "height": h, "width": w, "channels": channels, "dtype": dtype, "passes": passes}
        if results.out_of_time(f"{size} C={channels} {dtype} {passes} and after"):
            break
        key = jax.random.split(jax.random.key(channels), 3)
        yy, xx = jnp.mgrid[0:h, 0:w].astype(jnp.float32)
        x = jax.random.uniform(key[0], (1, channels, h, w), jnp.float32).astype(dtype)
        noise = jax.random.normal(key[1], (h, w)) * 0.5
        flow = jnp.stack([6 * jnp.sin(yy / 37.0) + noise, 4 * jnp.cos(xx / 53.0)])[None].astype(dtype)
        metric = jax.random.normal(key[2], (1, 1, h, w)).astype(dtype)
        cotangent = jnp.ones_like(x)
        jax_args = (x, flow, metric) if passes == "forward" else (x, flow, metric, cotangent)
        nbytes = pass_bytes(mode, passes, h * w, channels, jnp.dtype(dtype).itemsize)
        outputs = {}

        def record(name, call, sync, config=config, nbytes=nbytes, outputs=outputs):
            row = {**config, "implementation": name}
            try:
                out = call()
                sync(out)
                outputs[name] = out
                row["median_ms"], row["runs"] = common.median_ms(call, sync, args.runs)
            except Exception as error:  # noqa: BLE001 - recorded, e.g. a dtype the authors' kernel lacks
                row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
            if name == "kernel" and "median_ms" in row:
                row["bytes"], row["gbps"] = nbytes, nbytes / row["median_ms"] / 1e6
            results.add(row)
            label = " ".join(str(config[k]) for k in ("size", "channels", "dtype", "passes"))
            print(f"  {name:9s} {label}: {row.get('median_ms', row.get('error'))}", flush=True)

        for name, fn in (("kernel", splat.softsplat), ("reference", reference.softsplat)):
            jitted = _jax_fn(fn, mode, "NCHW", passes)
            record(name, lambda jitted=jitted, jax_args=jax_args: jitted(*jax_args), jax_sync)

        if torch is not None:
            tensors = [
                torch.from_dlpack(a) if torch_device == "cuda" else torch.from_numpy(np.asarray(a, np.float32))
                for a in (x, flow, metric, cotangent)
            ]
            if torch_device == "cpu":
                tensors = [t.to(getattr(torch, dtype)) for t in tensors]
            import torch_splat

            implementations = [("torch", lambda a, b, c: torch_splat.softsplat(torch, a, b, c, mode))]
            if authors is not None:
                implementations.append(
                    ("authors", lambda a, b, c: authors.softsplat(tenIn=a, tenFlow=b, tenMetric=c, strMode="soft"))
                )
            for name, fn in implementations:
                record(name, torch_call(torch, fn, tensors, passes), torch_sync)

        check_against_kernel(results, config, outputs, passes, np)
    print(f"copy bandwidth: {results.data['copy_gbps_jax']:.0f} GB/s (jax); backend {backend['device']}")


def torch_call(torch, fn, tensors, passes):
    x, flow, metric, cotangent = tensors
    if passes == "forward":

        def forward():
            with torch.no_grad():
                return fn(x, flow, metric)

        return forward
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, flow, metric)]

    def forward_backward():
        for leaf in leaves:
            leaf.grad = None
        out = fn(*leaves)
        out.backward(cotangent)
        return out

    return forward_backward


def check_against_kernel(results, config, outputs, passes, np) -> None:
    """The largest difference of each implementation's output from the kernel's, relative to the
    output's largest magnitude: the reference must agree (a check); the others are reported."""
    if "kernel" not in outputs or passes != "forward":
        return
    kernel = np.asarray(outputs["kernel"], np.float32)
    scale = max(float(np.abs(kernel).max()), 1e-12)
    for name, out in outputs.items():
        if name == "kernel":
            continue
        other = np.asarray(out.detach().float().cpu().numpy() if hasattr(out, "detach") else out, np.float32)
        results.data.setdefault("differences", []).append(
            {**config, "implementation": name, "max_rel_diff": float(np.abs(other - kernel).max()) / scale}
        )
    results.save()


if __name__ == "__main__":
    main()
