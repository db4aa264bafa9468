"""Part c's child, run under compute-sanitizer (or directly in --dry-run, so that it cannot rot): one forward
and backward of every mode (sum, avg, linear, soft, soft stable), layout and dtype at a small size. One
jitted program per (dtype, layout) holds the five modes, so that the sanitizer sees few XLA compilations."""

import common

MODES = (("sum", False), ("avg", False), ("linear", False), ("soft", False), ("soft", True))
DTYPES = ("float32", "float64", "bfloat16", "float16")


def main() -> None:
    args = common.parser(__doc__).parse_args()
    results = common.Results(args)
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 inputs stay float64
    import jax.numpy as jnp
    import numpy as np

    from jax_softsplat import softsplat

    results.data["backend"] = common.check_backend(args.dry_run)
    n, c, h, w = 2, 3, 13, 17  # odd sizes: no pass lines up with a block or a warp by accident
    rng = np.random.default_rng(0)
    x = rng.random((n, c, h, w))
    flow = rng.normal(0, 3, (n, 2, h, w))
    flow[0, :, 0, :4] = 40.0  # some pixels land outside the frame
    metric = rng.uniform(0.2, 1.5, (n, 1, h, w))  # positive: mode linear divides by sums of metrics
    for dtype in DTYPES:
        for layout in ("NCHW", "NHWC"):
            if results.out_of_time(f"{dtype} {layout} and after"):
                return
            arrays = [np.moveaxis(a, 1, -1) if layout == "NHWC" else a for a in (x, flow, metric)]
            arrays = [jnp.asarray(a, dtype) for a in arrays]

            def loss(x, flow, metric, layout=layout):
                outs = [
                    softsplat(
                        x, flow, metric if mode in ("linear", "soft") else None, mode, layout=layout, stable=stable
                    )
                    for mode, stable in MODES
                ]
                return sum(jnp.sum(o.astype(jnp.float32) ** 2) for o in outs), outs

            (value, outs), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))(*arrays)
            value, grads = jax.device_get((value, grads))
            finite = bool(np.isfinite(value)) and all(np.isfinite(np.asarray(g, np.float64)).all() for g in grads)
            results.add({"dtype": dtype, "layout": layout, "modes": len(MODES), "finite": finite})
            print(f"{dtype} {layout}: forward and backward of {len(MODES)} modes, finite={finite}", flush=True)
            if not finite:
                raise SystemExit(f"{dtype} {layout}: non-finite values or gradients")


if __name__ == "__main__":
    main()
