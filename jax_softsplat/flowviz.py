"""Optical flow as colour, with the Middlebury colour wheel (Baker et al., IJCV 2011): hue gives the
direction, saturation the length relative to the longest vector."""

import numpy as np

# Segments of the wheel: red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta, magenta-red.
_SEGMENTS = (15, 6, 4, 11, 13, 6)


def _colour_wheel() -> np.ndarray:
    rows = []
    # Per segment: (channel that ramps, ramp direction +1 up / -1 down, channel held at full).
    ramps = ((1, 1, 0), (0, -1, 1), (2, 1, 1), (1, -1, 2), (0, 1, 2), (2, -1, 0))
    for length, (channel, direction, full) in zip(_SEGMENTS, ramps):
        ramp = np.arange(length) / length
        segment = np.zeros((length, 3))
        segment[:, full] = 1.0
        segment[:, channel] = ramp if direction > 0 else 1.0 - ramp
        rows.append(segment)
    return np.concatenate(rows)


_WHEEL = _colour_wheel()


def flow_to_color(flow, max_radius: float | None = None) -> np.ndarray:
    """Flow [H, W, 2] -> uint8 RGB [H, W, 3]. Non-finite vectors are black. `max_radius` fixes the
    normalisation (default: the longest finite vector), so several flows can share one scale."""
    flow = np.asarray(flow, np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow_to_color: flow must have shape [H, W, 2], got {flow.shape}")
    finite = np.isfinite(flow).all(axis=2)
    u = np.where(finite, flow[..., 0], 0.0)
    v = np.where(finite, flow[..., 1], 0.0)
    radius = np.hypot(u, v)
    scale = max_radius if max_radius is not None else (radius.max() if radius.size else 0.0)
    scale = scale if scale > 0 else 1.0
    u, v, radius = u / scale, v / scale, radius / scale
    n = len(_WHEEL)
    position = (np.arctan2(-v, -u) / np.pi + 1) / 2 * (n - 1)
    k0 = np.floor(position).astype(int)
    k1 = (k0 + 1) % n
    frac = (position - k0)[..., None]
    colour = (1 - frac) * _WHEEL[k0] + frac * _WHEEL[k1]
    inside = (radius <= 1)[..., None]
    colour = np.where(inside, 1 - radius[..., None] * (1 - colour), colour * 0.75)
    colour = np.where(finite[..., None], colour, 0.0)
    return np.round(colour * 255).astype(np.uint8)
