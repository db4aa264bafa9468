"""Validation on a folder of triplets: PSNR and SSIM of the middle frame, as the benchmarks compute them
(scikit-image on uint8 images)."""

import jax
import numpy as np
from flax import nnx

from jax_softsplat.data import to_uint8
from jax_softsplat.metrics import psnr, ssim


def validate(module, interpolate, source, *, limit: int | None = None) -> dict:
    """Mean PSNR (dB) and SSIM of `interpolate(module, one, two, 0.5)` against the middle frames of
    `source` (full frames, one triplet at a time, so sizes may differ). Unreadable triplets are skipped."""
    graphdef, state = nnx.split(module)
    run = jax.jit(lambda state, one, two: interpolate(nnx.merge(graphdef, state), one, two, 0.5))
    psnrs, ssims = [], []
    for index in range(len(source) if limit is None else min(limit, len(source))):
        triplet = source[index]
        if triplet is None:
            continue
        one, two = (np.asarray(triplet[name], np.float32)[None] / 255.0 for name in ("one", "two"))
        prediction = to_uint8(np.asarray(run(state, one, two))[0])
        psnrs.append(psnr(triplet["mid"], prediction))
        ssims.append(ssim(triplet["mid"], prediction))
    if not psnrs:
        raise ValueError("validation: no readable triplets")
    return {"val_psnr": float(np.mean(psnrs)), "val_ssim": float(np.mean(ssims)), "val_count": len(psnrs)}
