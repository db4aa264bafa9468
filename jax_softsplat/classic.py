"""`classic`: frame interpolation with no learned weights.

Optical flow from OpenCV's DIS in both directions, then softmax splatting of both frames to time t with
the paper's brightness-constancy importance (alpha = -20), merged in one normalisation; holes inpainted.
What was tried and measured on Middlebury is listed in the README; the presets and their speed in
docs/interpolation.md.

Presets (`PRESETS`) choose the resolution the flow is computed at from the frame size: flow is cheap to
compute small and upscale, while splatting and the importance metric stay at full resolution.
"""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from jax_softsplat.data import to_uint8
from jax_softsplat.splat import softsplat

ALPHA = -20.0  # the paper's importance scale: metric = alpha * brightness-constancy error
# The per-pixel error is noisy with a hand-made flow; its mean over a small window ranks the pixels that
# land on one spot more reliably (Middlebury: 34.10 dB per pixel, 34.64 dB over 5x5).
ERROR_WINDOW = 5
# A pixel that receives less than this much bilinear splatting weight (from both frames together) is a
# hole: nothing landed there, so it is inpainted from its surroundings.
HOLE_COVERAGE = 0.5
DIS_MIN_SIZE = 16


@dataclass(frozen=True)
class Preset:
    """How `classic` computes flow. `flow_pixels`: frames larger than this many pixels are downscaled
    (area) to about that many for the flow, which is then upscaled (bilinear) and rescaled to the frame
    (None: always full resolution). `finest_scale`: DIS's finest pyramid level (0 = full resolution of
    the image it is given)."""

    flow_pixels: int | None
    finest_scale: int = 0
    patch_stride: int = 2
    # The importance metric computed at the flow's size too (and upscaled) instead of the frame's.
    metric_at_flow_size: bool = False


PRESETS = {
    # Flow at about 640x480: Middlebury's frames stay at full resolution, 1080p and 4K get flow at
    # 739x416. Patches every 3 pixels instead of 2: Middlebury 34.63 instead of 34.64 dB, in half the time.
    "standard": Preset(flow_pixels=640 * 480, patch_stride=3),
    # Flow at about 640x480 (Middlebury's size), refined down to half of that: Middlebury 34.16 dB.
    # The metric at that size too: no full-size warping or float copy of the frames.
    "fast": Preset(flow_pixels=640 * 480, finest_scale=1, patch_stride=3, metric_at_flow_size=True),
    # Flow at full resolution at any size: the most accurate, and at 1080p the slowest by far.
    "full": Preset(flow_pixels=None),
}


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image if image.dtype == np.uint8 else to_uint8(image), cv2.COLOR_RGB2GRAY)


def flow_size(height: int, width: int, preset: Preset) -> tuple[int, int]:
    """(height, width) the flow of a height x width frame is computed at under `preset`."""
    if preset.flow_pixels is None or height * width <= preset.flow_pixels:
        return height, width
    scale = (preset.flow_pixels / (height * width)) ** 0.5
    return max(1, round(height * scale)), max(1, round(width * scale))


def _grey_at(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == size or image.dtype == np.uint8:
        grey = _grey(image)
        if grey.shape != size:
            grey = cv2.resize(grey, size[::-1], interpolation=cv2.INTER_AREA)
    else:  # converted and shrunk in float, rounded once at the small size
        small = cv2.resize(
            cv2.cvtColor(np.asarray(image, np.float32), cv2.COLOR_RGB2GRAY), size[::-1], interpolation=cv2.INTER_AREA
        )
        grey = to_uint8(small)
    # DIS needs some room for its patches: tiny frames are padded by repeating their borders.
    pad_y, pad_x = max(0, DIS_MIN_SIZE - size[0]), max(0, DIS_MIN_SIZE - size[1])
    return cv2.copyMakeBorder(grey, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)


def _dis_flow(a: np.ndarray, b: np.ndarray, preset: Preset, size: tuple[int, int]) -> np.ndarray:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(preset.finest_scale)
    dis.setPatchStride(preset.patch_stride)
    dis.setVariationalRefinementDelta(10.0)
    return dis.calc(a, b, None)[: size[0], : size[1]]


def _to_frame_size(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    if flow.shape[:2] == (height, width):
        return flow.astype(np.float32)
    scale = np.float32([width / flow.shape[1], height / flow.shape[0]])
    return cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) * scale


def optical_flow(one: np.ndarray, two: np.ndarray, preset: Preset = PRESETS["full"]) -> np.ndarray:
    """Dense flow one -> two [H, W, 2] float32 in pixels (x then y) from two RGB [H, W, 3] in [0, 1].

    DIS (Kroeger et al. 2016) from its "medium" preset, refined down to full resolution (finest scale 0)
    with patches every 2 pixels: on Middlebury this beat the presets, Farneback, DeepFlow, TV-L1, RLOF
    and PCAFlow for interpolation, at a fraction of their time. `preset` may compute it smaller."""
    return optical_flows(one, two, preset)[0]


def optical_flows(one: np.ndarray, two: np.ndarray, preset: Preset, pool: ThreadPoolExecutor | None = None):
    """(flow one -> two, flow two -> one), each [H, W, 2] float32 in pixels of the frames; with a pool,
    both at once (OpenCV releases the GIL, so the two directions run on two cores)."""
    height, width = one.shape[:2]
    return tuple(_to_frame_size(f, height, width) for f in small_flows(one, two, preset, pool))


def small_flows(one: np.ndarray, two: np.ndarray, preset: Preset, pool: ThreadPoolExecutor | None = None):
    """Both flows at the preset's `flow_size`, in pixels of that size. Frames: float32 in [0, 1] or uint8."""
    size = flow_size(*one.shape[:2], preset)
    a, b = _grey_at(one, size), _grey_at(two, size)
    if pool is None:
        return _dis_flow(a, b, preset, size), _dis_flow(b, a, preset, size)
    backward = pool.submit(_dis_flow, b, a, preset, size)
    return _dis_flow(a, b, preset, size), backward.result()


@lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


@lru_cache(maxsize=4)
def _window_count(height: int, width: int, size: int) -> np.ndarray:
    """How many pixels of each size x size window lie inside the image: a row count times a column count."""

    def inside(n):
        index = np.arange(n)
        return (np.minimum(index + size // 2, n - 1) - np.maximum(index - size // 2, 0) + 1).astype(np.float32)

    return np.outer(inside(height), inside(width))


def importance(one: np.ndarray, two: np.ndarray, flow: np.ndarray, error_window: int = ERROR_WINDOW) -> np.ndarray:
    """The softmax splatting metric [H, W] of `one` [H, W, 3] moving by `flow` [H, W, 2] towards `two`:
    alpha * (brightness-constancy error, averaged over an error_window^2 window of the pixels inside the
    image), clipped to [-20, 20].

    `two` is warped back bilinearly, zero outside the image, as `backwarp` does; OpenCV does it (and the
    window sums) on all cores at a fraction of the cost of the same arithmetic in XLA at 1080p."""
    height, width = flow.shape[:2]
    x, y = _pixel_grid(height, width)
    warped = cv2.remap(
        np.asarray(two, np.float32),
        x + flow[..., 0],
        y + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    error = cv2.transform(cv2.absdiff(np.asarray(one, np.float32), warped), np.full((1, 3), 1 / 3, np.float32))
    if error_window > 1:
        box = cv2.boxFilter(error, -1, (error_window, error_window), normalize=False, borderType=cv2.BORDER_CONSTANT)
        error = box / _window_count(height, width, error_window)
    return np.clip(ALPHA * error, -20.0, 20.0)


def _unit_float(image):
    """float32 in [0, 1] from uint8 (divided by 255) or float frames; numpy or jax alike."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255)
    return image.astype(np.float32)


@jax.jit
def _merged_splat(one, two, flow_ab, flow_ba, exp_ab, exp_ba, t):
    # uint8 frames are converted here, inside the fused payload, instead of as float copies in memory.
    one, two = _unit_float(one), _unit_float(two)

    def splat(x, flow, w):
        payload = jnp.concatenate([x * w[..., None], w[..., None], jnp.ones_like(w)[..., None]], axis=-1)
        return softsplat(payload[None], flow[None], mode="sum", layout="NHWC")[0]

    total = splat(one, flow_ab * t, (1.0 - t) * exp_ab) + splat(two, flow_ba * (1.0 - t), t * exp_ba)
    colour, weight, coverage = total[..., :3], total[..., 3:4], total[..., 4]
    return colour / jnp.maximum(weight, 1e-30), coverage


def splat_both(one, two, flow_ab, flow_ba, t, error_window: int = ERROR_WINDOW, exps=None):
    """One merged softmax splat of both frames to time t (arrays [H, W, C]; t a scalar).

    Returns (frame [H, W, 3], coverage [H, W]). Each frame is splatted as [x * w, w, 1] in `sum` mode
    with w = time weight * exp(metric): the numerator and denominator of `soft` mode, added over both
    frames before dividing, so both share ONE normalisation (where only one frame lands, it counts
    alone instead of being averaged with an empty result). The splatted ones measure coverage.
    `exps`: the pair's (exp(metric one -> two), exp(metric two -> one)) when already computed.
    """
    if exps is None:
        exps = pair_weights(one, two, flow_ab, flow_ba, error_window)
    return _merged_splat(one, two, flow_ab, flow_ba, *exps, jnp.float32(t))


def pair_weights(one, two, flow_ab, flow_ba, error_window: int = ERROR_WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """exp(importance) of each frame towards the other: once per pair, whatever the times."""
    return tuple(
        cv2.exp(importance(a, b, flow, error_window)) for a, b, flow in ((one, two, flow_ab), (two, one, flow_ba))
    )


INPAINT_RADIUS = 3
# Beyond this many separate hole regions, one pass over the whole frame is cheaper than one per region.
MAX_HOLE_REGIONS = 64


def fill_holes(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Inpaints the pixels where `holes` is True from their surroundings (OpenCV's Telea method).

    Telea fills a hole from the known pixels within INPAINT_RADIUS of it, so each region of holes is
    inpainted in a crop reaching that far beyond it (the same result as inpainting the whole frame, at a
    fraction of the time when the holes are few and small, as they are in a splatted frame)."""
    if not holes.any():
        return image
    mask = holes.astype(np.uint8)
    margin = INPAINT_RADIUS + 2
    grown = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    count, _, boxes, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    if count - 1 > MAX_HOLE_REGIONS:
        boxes = np.array([[0, 0, 0, 0, 0], [0, 0, image.shape[1], image.shape[0], 0]])
    out = image.copy()
    for x, y, w, h, _ in boxes[1:]:
        crop = np.s_[y : y + h, x : x + w]
        filled = cv2.inpaint(to_uint8(image[crop]), mask[crop], INPAINT_RADIUS, cv2.INPAINT_TELEA)
        out[crop] = np.where(holes[crop][..., None], filled.astype(np.float32) / 255, image[crop])
    return out


class ClassicInterpolator:
    """An `Interpolator` with no learned weights: DIS optical flow + softmax splatting.

    Call with two float32 RGB [H, W, 3] frames in [0, 1] and the times in (0, 1) wanted; returns one
    float32 frame in [0, 1] per time. Flow is computed once per pair, in both directions (`prepare`),
    then each time is rendered (`render`); `video` prepares the next pair while this one renders.
    """

    def __init__(self, preset: str = "standard", error_window: int = ERROR_WINDOW):
        if preset not in PRESETS:
            raise ValueError(f"preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
        self.preset, self.error_window = PRESETS[preset], error_window
        self.pool = ThreadPoolExecutor(1)

    def __call__(self, one: np.ndarray, two: np.ndarray, times: Sequence[float]) -> list[np.ndarray]:
        return self.render(self.prepare(one, two), times)

    def prepare(self, one: np.ndarray, two: np.ndarray) -> tuple:
        """What does not depend on t: both flows and both importance weights. Takes float32 frames in
        [0, 1] or uint8 frames (kept as they are: a quarter of the memory while the pair waits)."""
        one, two = np.asarray(one), np.asarray(two)
        height, width = one.shape[:2]
        size = flow_size(height, width, self.preset)
        small = small_flows(one, two, self.preset, self.pool)
        flow_ab, flow_ba = (_to_frame_size(f, height, width) for f in small)
        if self.preset.metric_at_flow_size and size != (height, width):
            a, b = (_unit_float(cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA)) for f in (one, two))
            exps = tuple(
                cv2.resize(e, (width, height), interpolation=cv2.INTER_LINEAR)
                for e in pair_weights(a, b, *small, self.error_window)
            )
        else:
            floats = _unit_float(one), _unit_float(two)
            exps = pair_weights(*floats, flow_ab, flow_ba, self.error_window)
        return (one, two, flow_ab, flow_ba, *exps)

    def render(self, prepared: tuple, times: Sequence[float]) -> list[np.ndarray]:
        """The frames at `times` of a prepared pair."""
        # On the device once for all times (the jitted call would copy numpy arguments at every call).
        one, two, flow_ab, flow_ba, *exps = jax.device_put(prepared)
        frames = []
        for t in times:
            middle, coverage = splat_both(one, two, flow_ab, flow_ba, t, exps=exps)
            middle, coverage = np.array(middle), np.asarray(coverage)
            frames.append(np.clip(fill_holes(middle, coverage < HOLE_COVERAGE), 0.0, 1.0, out=middle))
        return frames
