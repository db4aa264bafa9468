"""Part e: the interpolation network with random weights of the official shapes (made as
benchmarks/network_speed.py makes them). One process per row, so that each row's peak device memory
(JAX's memory_stats) is its own.

  --task infer --size WxH:      seconds per frame pair (Interpolator, RGB in and out, t = 0.5, default
                                tiling), after a first call that compiles;
  --task train --dtype DTYPE:   training steps per second of jax_softsplat.train's jitted step
                                (Trainer._step: loss, gradients, optax update) on a random uint8 batch.
                                bfloat16: the step casts the weights and frames to bfloat16 inside the
                                model call (the optimizer keeps float32 weights); where the network
                                promotes to float32, it computes in float32.
"""

import os
import sys
import tempfile
import time

import common

BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_bytes(jax):
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def infer(args, results, jax) -> None:
    import numpy as np

    sys.path.insert(0, BENCHMARKS)
    from network_memory import frames
    from network_speed import random_network

    from jax_softsplat.models import Interpolator, NetworkConfig

    width, height = (int(v) for v in args.size.lower().split("x"))
    config = NetworkConfig.scaled(args.width) if args.width != 1.0 else NetworkConfig()
    interpolator = Interpolator(random_network(config))
    one, two = frames(height, width, seed=0)
    row = {"task": "infer", "size": args.size, "width_factor": args.width}
    start = time.perf_counter()
    out = np.asarray(interpolator(one, two, [0.5])[0])
    row["first_call_s"] = time.perf_counter() - start
    seconds = []
    for _ in range(args.runs):
        if results.out_of_time(f"{args.runs - len(seconds)} of {args.runs} timed calls"):
            break
        start = time.perf_counter()
        out = np.asarray(interpolator(one, two, [0.5])[0])  # the pair's result on the host, as a user gets it
        seconds.append(time.perf_counter() - start)
    if out.shape != (height, width, 3) or not np.isfinite(out).all():
        raise SystemExit(f"the interpolated frame is {out.shape} with non-finite values: {not np.isfinite(out).all()}")
    row["tiling"] = str(interpolator.tiling_for(height, width))
    row["seconds_per_pair"] = sorted(seconds)[len(seconds) // 2] if seconds else None
    row["runs"], row["peak_bytes"] = len(seconds), peak_bytes(jax)
    results.add(row)
    print(row)


def cast_floats(jax, jnp, tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def train(args, results, jax) -> None:
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from jax_softsplat.train.config import TrainConfig, apply_overrides
    from jax_softsplat.train.model import network_interpolation
    from jax_softsplat.train.trainer import Interpolation, Trainer

    overrides = [f"data.batch_size={args.batch}", f"data.crop={args.crop}", f"model.width={args.width}"]
    overrides += [f"data.synthetic_height={args.crop}", f"data.synthetic_width={args.crop}"]
    config = apply_overrides(TrainConfig(), overrides)
    if args.model == "tiny":  # the dry run: compiling the network's training step takes minutes on 2 cores
        sys.path.insert(0, os.path.join(os.path.dirname(BENCHMARKS), "tests"))
        import tiny_interpolator

        module = tiny_interpolator.TinyInterpolator(8, rngs=nnx.Rngs(0))
        interpolation = Interpolation(module, tiny_interpolator.interpolate, tiny_interpolator.save_weights)
    else:
        interpolation = network_interpolation(config.model, seed=0)
    if args.dtype == "bfloat16":
        base = interpolation.interpolate

        def interpolate(module, one, two, t):
            graphdef, state = nnx.split(module)
            low = nnx.merge(graphdef, cast_floats(jax, jnp, state, jnp.bfloat16))
            out = base(low, one.astype(jnp.bfloat16), two.astype(jnp.bfloat16), t)
            results.data["prediction_dtype"] = str(out.dtype)  # seen while tracing
            return out.astype(jnp.float32)

        interpolation = Interpolation(interpolation.module, interpolate, interpolation.save_weights)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, run_dir, interpolation)
        rng = np.random.default_rng(0)
        batch = rng.integers(0, 256, (args.batch, 3, args.crop, args.crop, 3), dtype=np.uint8)
        batch = jax.device_put(batch, trainer.batch_sharding)
        row = {"task": "train", "dtype": args.dtype, "batch": args.batch, "crop": args.crop, "model": args.model}
        row["width_factor"] = args.width
        start = time.perf_counter()
        state, metrics = trainer._step(trainer.state, trainer.rest, batch)  # compiles
        jax.block_until_ready((state, metrics))
        row["first_step_s"] = time.perf_counter() - start
        steps, start = 0, time.perf_counter()
        while steps < args.runs and not results.out_of_time(f"{args.runs - steps} of {args.runs} timed steps"):
            state, metrics = trainer._step(state, trainer.rest, batch)  # the state is donated
            steps += 1
        jax.block_until_ready((state, metrics))
        elapsed = time.perf_counter() - start
        loss = float(metrics["loss"])
        if not np.isfinite(loss):
            raise SystemExit(f"the training loss is {loss}")
        row.update(steps=steps, steps_per_second=steps / elapsed if steps else None, loss=loss)
        row["prediction_dtype"] = results.data.get("prediction_dtype", "float32")
        row["peak_bytes"] = peak_bytes(jax)
        results.add(row)
        print(row)


def main() -> None:
    p = common.parser(__doc__)
    p.add_argument("--task", choices=["infer", "train"], required=True)
    p.add_argument("--size", default="1920x1080", help="infer: WIDTHxHEIGHT")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="train")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--width", type=float, default=1.0, help="channel widths relative to the official network")
    p.add_argument("--model", choices=["network", "tiny"], default="network", help="train: tiny = tests' model")
    p.add_argument("--runs", type=int, default=5, help="timed calls or steps after the first")
    args = p.parse_args()
    results = common.Results(args)
    import jax

    results.data["backend"] = common.check_backend(args.dry_run)
    (infer if args.task == "infer" else train)(args, results, jax)


if __name__ == "__main__":
    main()
