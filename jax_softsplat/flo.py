"""Middlebury .flo optical-flow files: float32 magic 202021.25, int32 width, int32 height, then
height * width * 2 float32 values, (u, v) interleaved per pixel, little-endian."""

import numpy as np

from jax_softsplat.files import atomic_path

MAGIC = np.float32(202021.25)


def read_flo(path) -> np.ndarray:
    """Reads a .flo file as a float32 array [H, W, 2]; a wrong magic or a short file raises ValueError."""
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12:
            raise ValueError(f"{path}: not a .flo file (only {len(header)} bytes, the header has 12)")
        magic = np.frombuffer(header, "<f4", count=1)[0]
        if magic != MAGIC:
            raise ValueError(f"{path}: not a .flo file (magic {magic!r}, expected {MAGIC})")
        width, height = (int(v) for v in np.frombuffer(header, "<i4", count=2, offset=4))
        if width <= 0 or height <= 0 or width * height > 1 << 31:
            raise ValueError(f"{path}: implausible .flo size {width}x{height}")
        expected = width * height * 2 * 4
        payload = f.read(expected + 1)
    if len(payload) != expected:
        raise ValueError(f"{path}: a {width}x{height} .flo file holds {expected} bytes of flow, found {len(payload)}")
    return np.frombuffer(payload, "<f4").reshape(height, width, 2).astype(np.float32)


def write_flo(path, flow) -> None:
    """Writes a flow [H, W, 2] as .flo, atomically."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"write_flo: flow must have shape [H, W, 2], got {flow.shape}")
    height, width = flow.shape[:2]
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(MAGIC.astype("<f4").tobytes())
        f.write(np.array([width, height], "<i4").tobytes())
        f.write(np.ascontiguousarray(flow, "<f4").tobytes())
