"""Speed and memory of the interpolation network on one frame pair (default 640 x 480), on this machine.

    python benchmarks/network_speed.py [--size 640x480] [--runs 7] [--weights l1.msgpack]

Prints a table: median (and min) wall time per stage after compilation, each stage compiled on its
own, and the share of the whole pair; then the peak resident memory of the process. Without
--weights the official architecture gets random weights: the convolutions cost the same, only the
splatting depends (a little) on the flows, which come from a synthetic two-layer scene either way.
Medians matter on a shared machine: other processes come and go between runs. The last lines give
the ceiling: the rate of a large float32 matmul on the same cores, and the time the pair's FLOPs need
at that rate.
"""

import argparse
import os
import resource
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jax_softsplat import softsplat
from jax_softsplat.models import Interpolator, NetworkConfig, load_weights
from jax_softsplat.models.correlation import correlation
from jax_softsplat.models.layers import resize_bilinear, resize_flow
from jax_softsplat.models.network import normalize, pad_even
from jax_softsplat.models.weights import abstract_network, network_from_parameters, parameters
from jax_softsplat.synthetic import layered_scene


def random_network(config: NetworkConfig, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = {}
    for name, spec in parameters(abstract_network(config)).items():
        fan_in = int(np.prod(spec.shape[:-1])) if name.endswith("/kernel") else 1
        scale = np.sqrt(2.0 / fan_in) if name.endswith("/kernel") else 0.05
        values[name] = rng.normal(0.25 if name.endswith("/weight") else 0.0, scale, spec.shape).astype(np.float32)
    return network_from_parameters(config, values, "random")


def timed(fn, *args, runs: int) -> list[float]:
    """Seconds per call of a compiled function, after one warm-up (compiling) call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return times


def matmul_rate(runs: int, n: int = 4096) -> float:
    """GFLOP/s of XLA's float32 matmul, the most efficient operation it has: the ceiling for convolutions."""
    a = jnp.ones((n, n), jnp.float32)
    return 2 * n**3 / statistics.median(timed(jax.jit(jnp.matmul), a, a, runs=runs)) / 1e9


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per stage (default: %(default)s)")
    parser.add_argument("--weights", help="a weights .msgpack (default: random weights, official architecture)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    network = load_weights(args.weights) if args.weights else random_network(NetworkConfig())
    one_np, two_np, _ = layered_scene(height, width, seed=0)
    graphdef, state = nnx.split(network)
    runs = args.runs

    # Stage inputs, computed once.
    one, two = (pad_even(jnp.asarray(x)[None, ..., ::-1]) for x in (one_np, two_np))
    one, two, _, _ = normalize(one, two)

    @jax.jit
    def flow_stage(state, one, two):
        return nnx.merge(graphdef, state).estimate_flow(one, two)

    @jax.jit
    def features_stage(state, one, two, flows):
        return nnx.merge(graphdef, state).synthesis.features(one, two, flows)

    @jax.jit
    def render_stage(state, pyramids, metrics, flows, t):
        return nnx.merge(graphdef, state).synthesis.render(pyramids, metrics, flows, t)

    @jax.jit
    def splat_stage(pyramids, metrics, flows):
        """Only the six softsplat calls of one render (3 levels x 2 frames, batched per level)."""
        flow, out = jnp.concatenate(flows, 0) * 0.5, []
        for p in pyramids:
            f, m = resize_flow(flow, *p.shape[1:3]), resize_bilinear(metrics, *p.shape[1:3])
            out.append(softsplat(jnp.concatenate([p, m], -1), f, jnp.clip(-m, -20, 20), mode="soft", layout="NHWC"))
        return out

    @jax.jit
    def correlation_stage(state, one, two):
        """The six cost volumes of one flow estimate (both directions, as in the network)."""
        features = nnx.merge(graphdef, state).flow.extractor(jnp.concatenate([one, two], 0))
        return [correlation(f, jnp.concatenate([f[1:], f[:1]], 0)) for f in features]

    @jax.jit
    def extractor_stage(state, one, two):
        return nnx.merge(graphdef, state).flow.extractor(jnp.concatenate([one, two], 0))

    flows = flow_stage(state, one, two)
    pyramids, metrics = features_stage(state, one, two, flows)
    t = jnp.float32(0.5)
    interpolator = Interpolator(network)

    def stage(fn, *stage_args):
        """(seconds per call, GFLOP per call as XLA counts it)."""
        flops = fn.lower(*stage_args).cost_analysis()["flops"]
        return timed(fn, *stage_args, runs=runs), flops / 1e9

    rows = [
        (
            "whole pair, t = 0.5 (Interpolator: RGB in, RGB out)",
            (timed(lambda: interpolator(one_np, two_np, [0.5]), runs=runs), None),
        ),
        (
            "whole pair, t = 0.25, 0.5, 0.75 (video mode)",
            (timed(lambda: interpolator(one_np, two_np, [0.25, 0.5, 0.75]), runs=runs), None),
        ),
        ("  flow estimation (both directions)", stage(flow_stage, state, one, two)),
        ("    of which: extractor (both frames)", stage(extractor_stage, state, one, two)),
        ("    of which: extractor + 6 cost volumes", stage(correlation_stage, state, one, two)),
        ("  synthesis features (encoder + softmetric, once per pair)", stage(features_stage, state, one, two, flows)),
        ("  synthesis render (splat + GridNet, once per t)", stage(render_stage, state, pyramids, metrics, flows, t)),
        ("    of which: softsplat, 3 levels x 2 frames", stage(splat_stage, pyramids, metrics, flows)),
    ]
    whole = statistics.median(rows[0][1][0])
    gflop = sum(rows[i][1][1] for i in (2, 5, 6))
    print(
        f"jax {jax.__version__}, {jax.devices()[0].device_kind}, {width}x{height}, "
        f"median of {runs} runs after compiling"
    )
    print(f"{'stage':<62} {'median ms':>10} {'min ms':>8} {'share':>6} {'GFLOP':>7} {'GFLOP/s':>8}")
    for name, (times, flops) in rows:
        median = statistics.median(times)
        flops = gflop if flops is None and name.startswith("whole pair, t = 0.5 ") else flops
        rate = f"{flops / median:>8.0f}" if flops is not None else f"{'':>8}"
        flops = f"{flops:>7.0f}" if flops is not None else f"{'':>7}"
        print(f"{name:<62} {median * 1e3:>10.0f} {min(times) * 1e3:>8.0f} {median / whole:>6.0%} {flops} {rate}")
    ceiling = matmul_rate(runs)
    print(
        f"ceiling: a float32 4096x4096 matmul runs at {ceiling:.0f} GFLOP/s here, so {gflop:.0f} GFLOP need at "
        f"least {gflop / ceiling * 1e3:.0f} ms even at that rate"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak resident memory of this process (all stages, compilation included): {peak:.0f} MiB")
    print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}; the machine's load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
