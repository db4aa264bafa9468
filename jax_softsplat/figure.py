"""The "warping" figure of the paper: one frame splatted by flow * t in the four modes, side by side."""

import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from jax_softsplat.data import to_uint8
from jax_softsplat.flowviz import flow_to_color
from jax_softsplat.splat import softsplat
from jax_softsplat.warp import backwarp

TIMES = np.linspace(0.0, 1.0, 11)


def warp_modes(one, two, flow, times=TIMES) -> dict[str, np.ndarray]:
    """Splats `one` by `flow * t` for every t in each mode: {mode: [T, H, W, 3]}.

    Metrics as in the reference's demo, from the brightness-constancy error of the flow:
    linear uses clip(0.3 - err, 0.001, 1) and soft uses clip(-20 * err, -20, 20).
    """
    one, two, flow = (jnp.asarray(a, jnp.float32)[None] for a in (one, two, flow))
    error = jnp.mean(jnp.abs(one - backwarp(two, flow, layout="NHWC")), axis=-1, keepdims=True)
    n = len(times)
    x = jnp.repeat(one, n, axis=0)
    flows = flow * jnp.asarray(times, jnp.float32)[:, None, None, None]
    metrics = {"linear": jnp.clip(0.3 - error, 0.001, 1.0), "soft": jnp.clip(-20.0 * error, -20.0, 20.0)}
    out = {}
    for mode in ("sum", "avg", "linear", "soft"):
        metric = jnp.repeat(metrics[mode], n, axis=0) if mode in metrics else None
        out[mode] = np.asarray(softsplat(x, flows, metric, mode, layout="NHWC"))
    return out


def _label(draw: ImageDraw.ImageDraw, xy, text: str) -> None:
    draw.text(xy, text, fill=(0, 0, 0))


def warping_figure(one, two, flow, times=TIMES, tile: int = 160) -> np.ndarray:
    """A uint8 RGB grid: a header row (frame one, frame two, the flow as colour), then one row per mode
    with one column per t. Tiles are resized to `tile` pixels wide."""
    results = warp_modes(one, two, flow, times)
    h, w = np.asarray(one).shape[:2]
    tile_h = max(1, round(tile * h / w))
    label_w, header_h, gap = 70, 18, 4

    def thumb(image) -> Image.Image:
        pixels = image if np.asarray(image).dtype == np.uint8 else to_uint8(image)
        return Image.fromarray(pixels).resize((tile, tile_h), Image.Resampling.LANCZOS)

    columns = len(times)
    width = label_w + columns * (tile + gap)
    height = (header_h + tile_h + gap) * (1 + len(results))
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    header = (("frame one", one), ("frame two", two), ("flow", flow_to_color(flow)))
    for i, (name, image) in enumerate(header):
        x = label_w + i * (tile + gap)
        _label(draw, (x, 2), name)
        canvas.paste(thumb(image), (x, header_h))
    for row, (mode, frames) in enumerate(results.items(), start=1):
        y = row * (header_h + tile_h + gap)
        _label(draw, (4, y + header_h + tile_h // 2), mode)
        for col, (t, frame) in enumerate(zip(times, frames)):
            x = label_w + col * (tile + gap)
            _label(draw, (x, y + 2), f"t = {t:.1f}")
            canvas.paste(thumb(frame), (x, y + header_h))
    return np.asarray(canvas)
