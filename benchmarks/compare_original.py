"""Our interpolation network against the authors' original PyTorch network, on the CPU.

    python benchmarks/compare_original.py --authors-repo PATH [--sizes 37x53 50x70 64x96] [--seed 0]

PATH is a checkout of github.com/sniklaus/softmax-splatting (its run.py, softsplat.py and
correlation/correlation.py are read; nothing in it is changed). Needs torch (`pip install
'jax_softsplat[convert]'`) and flax (`models`); downloads nothing. What it does, in order:

1. Checks the two PyTorch stand-ins for the authors' CUDA-only CuPy kernels against literal Python
   loops over the kernels' semantics, on tiny random inputs, in float64 and float32:
   - summation splatting (their `softsplat_func`): every input pixel whose target (x + u, y + v) is
     finite adds its value times the bilinear weight to each of the four pixels around the target
     that lie inside the image; flows include non-finite, far out of range and integer targets;
   - the cost volume (their `FunctionCorrelation`): 81 channels, channel (dy + 4) * 9 + (dx + 4) is
     the mean over channels of one(y, x) * two(y + dy, x + dx), zero outside.
   Then, with their softsplat.py loaded, their own `softsplat()` wrapper on the stand-in in each
   mode (`sum`, `avg`, `linear`, and `soft`, which the network uses) against a loop of that mode.
2. Loads their run.py as a module: `sys.argv` holds only the script's name while it parses its
   options, `cupy` (and PIL, when absent; only run.py's `__main__` reads images) are stub modules,
   and the names run.py calls for the two kernels (`softsplat.softsplat_func`,
   `correlation.FunctionCorrelation`) are replaced by the stand-ins. Their `Network()` fetches its
   weights with `torch.hub.load_state_dict_from_url`; that is replaced by a function returning a
   random state dict in the published layout (`module...` keys), and every download path of torch
   and urllib raises while the network is built. `Tensor.cuda` is the identity while it runs.
3. Converts the same state dict with our converter (`jax_softsplat.models.from_official`) and runs
   both networks on a synthetic pair (`jax_softsplat.synthetic.layered_scene`) at each size, in
   float64 (`jax.enable_x64`) and float32, at t = 0.5 and 0.25, through their `estimate()` (which
   pads to even sizes and crops back) and our `interpolate_batch`. Prints the largest absolute
   difference of the output frame and of the two flows (captured from their `netFlow`), beside the
   largest magnitude of each, and for scale the difference between their own float32 and float64
   outputs.

The authors' kernels compute in float32 only (`softsplat_func` casts its inputs, the correlation
kernel reads `float`); their network runs on the stand-ins (ours on its own kernels), which compute
in the inputs' dtype, so the float64 figures test the network's structure, the float32 ones the
everyday precision.

Thresholds (largest absolute difference of output frame and flows): float64 1e-9, float32 3e-4
(measured: about 1e-12 and 3e-5 at the default sizes, on the output frames of order 1 and flows up
to 9 pixels the random weights give).
Exit status: 0 when every check passes; 1 when a check fails, a threshold is exceeded or a part
could not run (each is named); 2 for an unusable --authors-repo or a missing torch/flax.
"""

import argparse
import contextlib
import importlib.util
import itertools
import math
import sys
import time
import types
from pathlib import Path
from unittest import mock

import numpy as np

THRESHOLDS = {"float64": 1e-9, "float32": 3e-4}
KERNEL_THRESHOLDS = {"float64": 1e-12, "float32": 1e-5}
TIMES = (0.5, 0.25)
DEFAULT_SIZES = ("37x53", "50x70", "64x96")
AUTHORS_FILES = ("run.py", "softsplat.py", "correlation/correlation.py")
SYNTHESIS_SCALE = 0.7
RADIUS = 4  # the cost volume's largest displacement: 9 x 9 = 81 channels


class Report:
    """Collects every check's result; failures and parts that could not run decide the exit status."""

    def __init__(self):
        self.failed: list[str] = []
        self.not_run: list[str] = []

    def check(self, name: str, difference: float, threshold: float, extra: str = "") -> bool:
        ok = bool(difference <= threshold)  # False for NaN
        print(f"  {name:<58} {difference:10.3e}  (<= {threshold:.0e}) {extra}{'ok' if ok else 'FAIL'}", flush=True)
        if not ok:
            self.failed.append(name)
        return ok

    def fail(self, name: str, why: str) -> None:
        print(f"  FAIL {name}: {why}", flush=True)
        self.failed.append(name)

    def skip(self, name: str, why: str) -> None:
        print(f"  NOT RUN {name}: {why}", flush=True)
        self.not_run.append(name)


# ----------------------------------------------------------------------------------------------
# The two kernels: PyTorch stand-ins, and literal loops over their semantics.


def splat_sum(values, flow):
    """Summation splatting [N, C, H, W] along flow [N, 2, H, W] (x, then y, in pixels), in the
    inputs' dtype: what the authors' `softsplat_out` kernel computes."""
    import torch

    n, c, h, w = values.shape
    x = torch.arange(w, dtype=flow.dtype).view(1, 1, w) + flow[:, 0]
    y = torch.arange(h, dtype=flow.dtype).view(1, h, 1) + flow[:, 1]
    finite = torch.isfinite(x) & torch.isfinite(y)
    x, y = torch.where(finite, x, 0.0), torch.where(finite, y, 0.0)
    x0, y0 = torch.floor(x), torch.floor(y)
    x1, y1 = x0 + 1, y0 + 1
    corners = (
        (x0, y0, (x1 - x) * (y1 - y)),
        (x1, y0, (x - x0) * (y1 - y)),
        (x0, y1, (x1 - x) * (y - y0)),
        (x1, y1, (x - x0) * (y - y0)),
    )
    out = values.new_zeros((n, c, h * w))
    for cx, cy, weight in corners:
        inside = finite & (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
        index = (cy.clamp(0, h - 1) * w + cx.clamp(0, w - 1)).long().view(n, 1, h * w).expand(n, c, h * w)
        part = torch.where(inside[:, None], values * weight[:, None], 0.0)
        out.scatter_add_(2, index, part.reshape(n, c, h * w))
    return out.view(n, c, h, w)


def splat_sum_loop(values: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`splat_sum`, one input element at a time."""
    n, c, h, w = values.shape
    out = np.zeros_like(values)
    for b, ch, y, x in itertools.product(range(n), range(c), range(h), range(w)):
        tx, ty = x + flow[b, 0, y, x], y + flow[b, 1, y, x]
        if not (math.isfinite(tx) and math.isfinite(ty)):
            continue
        left, top = math.floor(tx), math.floor(ty)
        for cx, cy in ((left, top), (left + 1, top), (left, top + 1), (left + 1, top + 1)):
            weight = (1 - abs(tx - cx)) * (1 - abs(ty - cy))
            if 0 <= cx < w and 0 <= cy < h:
                out[b, ch, cy, cx] += values[b, ch, y, x] * weight
    return out


def cost_volume(one, two):
    """[N, C, H, W] x2 -> [N, 81, H, W], in the inputs' dtype: what the authors' correlation kernel
    computes (channel (dy + 4) * 9 + (dx + 4): mean over C of one(y, x) * two(y + dy, x + dx))."""
    import torch

    _, c, h, w = one.shape
    padded = torch.nn.functional.pad(two, [RADIUS] * 4)
    channels = []
    for dy in range(2 * RADIUS + 1):
        for dx in range(2 * RADIUS + 1):
            channels.append((one * padded[:, :, dy : dy + h, dx : dx + w]).sum(1) / c)
    return torch.stack(channels, 1)


def cost_volume_loop(one: np.ndarray, two: np.ndarray) -> np.ndarray:
    """`cost_volume`, one output element at a time."""
    n, c, h, w = one.shape
    out = np.zeros((n, (2 * RADIUS + 1) ** 2, h, w), one.dtype)
    for b, y, x, dy, dx in itertools.product(
        range(n), range(h), range(w), range(-RADIUS, RADIUS + 1), range(-RADIUS, RADIUS + 1)
    ):
        total = 0.0
        if 0 <= y + dy < h and 0 <= x + dx < w:
            for ch in range(c):
                total += one[b, ch, y, x] * two[b, ch, y + dy, x + dx]
        out[b, (dy + RADIUS) * (2 * RADIUS + 1) + dx + RADIUS, y, x] = total / c
    return out


def mode_loop(values: np.ndarray, flow: np.ndarray, metric: np.ndarray | None, mode: str) -> np.ndarray:
    """Softmax splatting in one of the modes, as loops: each target sums value * weight * w over the
    pixels landing on it, with w = 1 (sum, avg), metric (linear) or exp(metric) (soft); every mode
    but sum then divides by the sum of weight * w plus 1e-7."""
    n, c, h, w = values.shape
    scale = {"sum": None, "avg": np.ones((n, 1, h, w))}.get(mode)
    if mode == "linear":
        scale = metric
    elif mode == "soft":
        scale = np.exp(metric)
    if scale is None:
        return splat_sum_loop(values, flow)
    numerator = splat_sum_loop(values * scale, flow)
    denominator = splat_sum_loop(np.broadcast_to(scale, (n, 1, h, w)).copy(), flow)
    return numerator / (denominator + 1e-7)


def kernel_inputs(seed: int, dtype: str):
    """Tiny random inputs, flows with every case the splatting kernel branches on."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(2, 3, 5, 6)).astype(dtype)
    flow = rng.uniform(-3.0, 3.0, size=(2, 2, 5, 6)).astype(dtype)
    flow[0, :, 0, 0] = [1.0, 2.0]  # lands exactly on a pixel
    flow[0, 0, 1, 1] = np.nan
    flow[0, 1, 1, 2] = np.inf
    flow[1, 0, 2, 3] = -np.inf
    flow[1, :, 3, 4] = [1e6, -1e6]  # far outside
    flow[1, :, 4, 5] = [0.5, -0.25]  # partly outside (the last row and column)
    metric = rng.normal(size=(2, 1, 5, 6)).astype(dtype)
    return values, flow, metric


def check_kernels(report: Report, seed: int = 0) -> None:
    """The two stand-ins against their loops, float64 and float32."""
    import torch

    for dtype in ("float64", "float32"):
        threshold = KERNEL_THRESHOLDS[dtype]
        values, flow, _ = kernel_inputs(seed, dtype)
        got = splat_sum(torch.from_numpy(values), torch.from_numpy(flow)).numpy()
        report.check(
            f"summation splatting, stand-in vs loop, {dtype}",
            float(np.abs(got - splat_sum_loop(values, flow)).max()),
            threshold,
        )
        rng = np.random.default_rng(seed + 1)
        for shape in ((1, 3, 6, 7), (2, 2, 3, 2)):  # the second is narrower than the displacements
            one, two = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
            got = cost_volume(torch.from_numpy(one), torch.from_numpy(two)).numpy()
            report.check(
                f"cost volume {'x'.join(map(str, shape))}, stand-in vs loop, {dtype}",
                float(np.abs(got - cost_volume_loop(one, two)).max()),
                threshold,
            )


def check_modes(report: Report, softsplat_module, seed: int = 0) -> None:
    """Their `softsplat()` wrapper on the splatting stand-in, each mode against `mode_loop`."""
    import torch

    for dtype in ("float64", "float32"):
        values, flow, metric = kernel_inputs(seed + 2, dtype)
        for mode in ("sum", "avg", "linear", "soft"):
            tensor_metric = torch.from_numpy(metric) if mode in ("linear", "soft") else None
            got = softsplat_module.softsplat(
                tenIn=torch.from_numpy(values), tenFlow=torch.from_numpy(flow), tenMetric=tensor_metric, strMode=mode
            ).numpy()
            expected = mode_loop(values, flow, metric, mode)
            report.check(
                f"their softsplat() mode {mode}, on the stand-in vs loop, {dtype}",
                float(np.abs(got - expected).max()),
                KERNEL_THRESHOLDS[dtype] * (1e3 if mode == "linear" else 1),  # linear divides by sums near 0
            )


# ----------------------------------------------------------------------------------------------
# The authors' modules, loaded without CUDA, CuPy or downloads.


def _load_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _stub(name: str, why: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)

    def missing(attribute):
        raise RuntimeError(f"{name}.{attribute} used, but {name} is a stub here ({why})")

    module.__getattr__ = missing
    return module


def load_authors(repo: Path):
    """-> (run, softsplat, correlation) modules of their checkout, the kernels replaced."""
    added = []
    try:
        import cupy  # noqa: F401

        print("  cupy is importable; its kernels are replaced all the same")
    except ImportError:
        print("  cupy: not installed (expected): a stub module stands in; its kernels are replaced")
        sys.modules["cupy"] = _stub("cupy", "no CuPy", memoize=lambda **_: lambda function: function)
        added.append("cupy")
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        print("  PIL: not installed: a stub module stands in (run.py uses it only in its __main__ block)")
        pil = _stub("PIL", "no Pillow")
        pil.Image = _stub("PIL.Image", "no Pillow")
        sys.modules.update({"PIL": pil, "PIL.Image": pil.Image})
        added += ["PIL", "PIL.Image"]
    saved_path = list(sys.path)
    try:
        softsplat = _load_file("softsplat", repo / "softsplat.py")
        correlation = _load_file("correlation", repo / "correlation" / "correlation.py")
        added += ["softsplat", "correlation"]
        with mock.patch.object(sys, "argv", [str(repo / "run.py")]):
            run = _load_file("authors_run", repo / "run.py")
        added.append("authors_run")
    finally:
        sys.path[:] = saved_path  # run.py puts './correlation' on it
    for module, name in ((softsplat, "softsplat_func"), (correlation, "FunctionCorrelation")):
        if not hasattr(module, name):
            raise AttributeError(f"{module.__file__} has no {name}: their code has changed, update this script")
    for name in ("Network", "estimate", "backwarp_tenGrid"):
        if not hasattr(run, name):
            raise AttributeError(f"{run.__file__} has no {name}: their code has changed, update this script")
    if run.softsplat is not softsplat or run.correlation is not correlation:
        raise ImportError("run.py did not import the softsplat and correlation modules loaded here")
    softsplat.softsplat_func = types.SimpleNamespace(apply=splat_sum)
    correlation.FunctionCorrelation = lambda tenOne, tenTwo: cost_volume(tenOne, tenTwo)
    return run, softsplat, correlation


# ----------------------------------------------------------------------------------------------
# Random weights in the published layout.


def random_state_dict(seed: int) -> dict[str, np.ndarray]:
    """The 278 tensors of network-*.pytorch (`module` spelling, OIHW), random: He-scaled kernels,
    small biases, PReLU slopes in [0.1, 0.4]. The synthesis kernels are scaled by 0.7, which keeps
    its many residual sums, and so the output frames, of order 1 (at 1 they reach about 150); the
    flows come out up to about 8 pixels, like the scene's true motion."""
    from jax_softsplat.models.config import NetworkConfig
    from jax_softsplat.models.weights import abstract_network, official_names, parameters

    shapes = {name: value.shape for name, value in parameters(abstract_network(NetworkConfig())).items()}
    rng = np.random.default_rng(seed)
    state = {}
    for ours, key in sorted(official_names().items(), key=lambda item: item[1]):
        shape = shapes[ours]
        if ours.endswith("/kernel"):
            oihw = (shape[3], shape[2], shape[0], shape[1])
            scale = math.sqrt(2.0 / (shape[0] * shape[1] * shape[2]))
            if key.startswith("netSynthesis."):
                scale *= SYNTHESIS_SCALE
            value = rng.normal(0.0, scale, oihw)
        elif ours.endswith("/bias"):
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = rng.uniform(0.1, 0.4, shape)
        state[key.replace("net", "module")] = value.astype(np.float32)
    return state


@contextlib.contextmanager
def no_downloads(state: dict[str, np.ndarray], urls: list[str]):
    """torch.hub's state-dict loader returns `state` (recording the URL asked for); every other
    download path of torch and urllib raises."""
    import urllib.request

    import torch

    def load_state_dict_from_url(url, *args, **kwargs):
        urls.append(url)
        return {key: torch.from_numpy(value.copy()) for key, value in state.items()}

    def refuse(*args, **kwargs):
        raise RuntimeError("compare_original.py downloads nothing")

    with (
        mock.patch.object(torch.hub, "load_state_dict_from_url", load_state_dict_from_url),
        mock.patch.object(torch.hub, "download_url_to_file", refuse),
        mock.patch.object(urllib.request, "urlopen", refuse),
        mock.patch.object(urllib.request, "urlretrieve", refuse),
    ):
        yield


# ----------------------------------------------------------------------------------------------
# The two networks.


def theirs(run, network, one: np.ndarray, two: np.ndarray, dtype: str):
    """Their estimate() on RGB [H, W, 3] frames -> (RGB frames [H, W, 3] per t, (forward, backward)
    flows [H', W', 2] at the padded size)."""
    import torch

    flows = []
    hook = network.netFlow.register_forward_hook(lambda module, args, output: flows.append(output))
    run.netNetwork = network
    run.backwarp_tenGrid.clear()  # its grids are cached by shape only, not by dtype

    def tensor(frame):
        return torch.from_numpy(np.ascontiguousarray(frame[..., ::-1].transpose(2, 0, 1))).to(getattr(torch, dtype))

    try:
        with mock.patch.object(torch.Tensor, "cuda", lambda self, *args, **kwargs: self):
            frames = run.estimate(tensor(one), tensor(two), list(TIMES))
    finally:
        hook.remove()
    (flow,) = flows
    return (
        [frame.numpy()[::-1].transpose(1, 2, 0) for frame in frames],
        tuple(flow[key][0].numpy().transpose(1, 2, 0) for key in ("tenForward", "tenBackward")),
    )


def ours_functions():
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from jax_softsplat.models.network import interpolate_batch, normalize, pad_even

    def flows(network, one, two):
        one, two = pad_even(one[..., ::-1]), pad_even(two[..., ::-1])
        one, two, _, _ = normalize(one, two)
        return network.estimate_flow(one, two)

    def cast(network, dtype):
        graphdef, state = nnx.split(network)
        return nnx.merge(graphdef, jax.tree.map(lambda value: jnp.asarray(value, dtype), state))

    return nnx.jit(interpolate_batch), nnx.jit(flows), cast


def compare_networks(report: Report, run, converted, state, sizes, seed: int) -> None:
    import jax
    import jax.numpy as jnp
    import torch

    from jax_softsplat.synthetic import layered_scene

    interpolate, flows_of, cast = ours_functions()
    urls = []
    with no_downloads(state, urls):
        original = run.Network().eval()
    if len(urls) != 1:
        raise RuntimeError(f"their Network() asked torch.hub for {len(urls)} state dicts, expected 1: code changed?")
    print(f"  their Network() asked torch.hub for {urls[0]}; it got the random state dict (strict load)")
    results = {}
    for dtype in ("float64", "float32"):
        network = original.to(getattr(torch, dtype))
        x64 = jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()
        with x64:
            ours_network = cast(converted, getattr(jnp, dtype))
            for height, width in sizes:
                one, two, _ = layered_scene(height, width, seed=seed)
                one, two = one.astype(dtype), two.astype(dtype)
                start = time.perf_counter()
                their_frames, their_flows = theirs(run, network, one, two, dtype)
                their_seconds = time.perf_counter() - start
                start = time.perf_counter()
                our_flows = [np.asarray(f[0]) for f in flows_of(ours_network, one[None], two[None])]
                our_frames = [np.asarray(interpolate(ours_network, one[None], two[None], t)[0]) for t in TIMES]
                our_seconds = time.perf_counter() - start
                size = f"{height}x{width}"
                print(f"  {dtype} {size}: theirs {their_seconds:.1f} s, ours {our_seconds:.1f} s (with compiling)")
                dtypes = {str(a.dtype) for a in our_frames + our_flows + their_frames + list(their_flows)}
                if dtypes != {dtype}:
                    report.fail(f"{dtype} {size} dtypes", f"outputs in {sorted(dtypes)}")
                flow_difference = max(float(np.abs(a - b).max()) for a, b in zip(our_flows, their_flows))
                flow_scale = max(float(np.abs(f).max()) for f in their_flows)
                report.check(
                    f"{dtype} {size} flows (both directions)",
                    flow_difference,
                    THRESHOLDS[dtype],
                    f"max|flow| {flow_scale:6.2f}  ",
                )
                for t, ours, original_frame in zip(TIMES, our_frames, their_frames):
                    report.check(
                        f"{dtype} {size} frame at t = {t}",
                        float(np.abs(ours - original_frame).max()),
                        THRESHOLDS[dtype],
                        f"max|frame| {float(np.abs(original_frame).max()):5.2f}  ",
                    )
                    results[dtype, size, t] = original_frame
    print("  for scale: their float32 frames against their float64 frames")
    for (dtype, size, t), frame in results.items():
        if dtype == "float32":
            difference = float(np.abs(frame.astype(np.float64) - results["float64", size, t]).max())
            print(f"  {size} t = {t}: {difference:.3e}")


# ----------------------------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH, e.g. 37x53, got {text!r}") from None
    if height < 2 or width < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2x2, got {text!r}")
    return height, width


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors-repo", type=Path, required=True, help="checkout of sniklaus/softmax-splatting")
    parser.add_argument(
        "--sizes", type=parse_size, nargs="+", default=[parse_size(s) for s in DEFAULT_SIZES], help="HxW ..."
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    repo = args.authors_repo.resolve()
    if not repo.is_dir():
        print(
            f"error: --authors-repo {args.authors_repo}: no such directory (a checkout of github.com/sniklaus/"
            "softmax-splatting is needed)",
            file=sys.stderr,
        )
        return 2
    missing = [name for name in AUTHORS_FILES if not (repo / name).is_file()]
    try:
        import torch
    except ImportError:
        print("error: needs torch: pip install 'jax_softsplat[convert]'", file=sys.stderr)
        return 2
    try:
        from jax_softsplat.models import from_official
    except ImportError as error:
        print(f"error: needs the network's extra ({error}): pip install 'jax_softsplat[models]'", file=sys.stderr)
        return 2
    import jax

    print(f"authors' repository: {repo}")
    print(f"torch {torch.__version__}, jax {jax.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}")
    report = Report()

    print("1. the kernels' stand-ins against literal loops")
    check_kernels(report, args.seed)

    run = None
    if missing:
        for name in missing:
            report.skip(f"their {name}", "not in the checkout")
    else:
        try:
            run, softsplat, _ = load_authors(repo)
        except Exception as error:  # noqa: BLE001 - whatever their modules raise is reported
            report.fail("loading their run.py", f"{type(error).__name__}: {error}")
    if run is None:
        report.skip("their softsplat() modes", "their modules could not be loaded")
    else:
        check_modes(report, softsplat, args.seed)

    print("2. random weights in the published layout, converted with jax_softsplat.models.from_official")
    state = random_state_dict(args.seed)
    converted = from_official(state, source="random state dict")
    print(f"  {len(state)} tensors, {sum(v.size for v in state.values()):,} parameters")

    print(f"3. the networks, t = {', '.join(map(str, TIMES))}; largest absolute difference, ours - theirs")
    if run is None:
        report.skip("the network comparison", "their run.py could not be loaded")
    else:
        try:
            compare_networks(report, run, converted, state, args.sizes, args.seed)
        except Exception as error:  # noqa: BLE001 - reported, and the exit status says so
            report.fail("the network comparison", f"{type(error).__name__}: {error}")

    print(f"thresholds: {', '.join(f'{k} {v:.0e}' for k, v in THRESHOLDS.items())} (output frame and flows)")
    if report.failed or report.not_run:
        print(f"FAILED: {', '.join(report.failed) or 'none'}; NOT RUN: {', '.join(report.not_run) or 'none'}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
