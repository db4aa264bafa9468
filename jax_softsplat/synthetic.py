"""Generated scenes with exactly known motion: textured layers moving differently, with occlusion.

Textures are sums of random sinusoids, i.e. functions of continuous coordinates, so a layer moved by a
fractional displacement is rendered exactly rather than resampled.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Texture:
    frequencies: np.ndarray  # [K, 2] radians per pixel along x and y
    phases: np.ndarray  # [K]
    colours: np.ndarray  # [K, 3]
    base: np.ndarray  # [3]

    @staticmethod
    def random(rng: np.random.Generator, waves: int = 24) -> "Texture":
        angle = rng.uniform(0, np.pi, waves)
        speed = rng.uniform(0.05, 0.6, waves)
        frequencies = np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]
        colours = rng.normal(0, 0.35 / np.sqrt(waves), (waves, 3))
        return Texture(frequencies, rng.uniform(0, 2 * np.pi, waves), colours, rng.uniform(0.25, 0.75, 3))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Colour at continuous coordinates x, y (same shape S) -> [*S, 3] in [0, 1]."""
        phase = x[..., None] * self.frequencies[:, 0] + y[..., None] * self.frequencies[:, 1] + self.phases
        return np.clip(self.base + np.sin(phase) @ self.colours, 0.0, 1.0)


def layered_scene(
    height: int = 96,
    width: int = 128,
    *,
    seed: int = 0,
    background_motion: tuple[float, float] = (2.5, -1.25),
    foreground_motion: tuple[float, float] = (-7.5, 4.25),
    radius: float | None = None,
):
    """A textured disc moving over a textured background that moves differently.

    Returns (one, two, flow): float32 frames [H, W, 3] in [0, 1] and the forward flow one -> two
    [H, W, 2] in pixels (x then y). The disc occludes the background in both frames.
    """
    rng = np.random.default_rng(seed)
    background, foreground = Texture.random(rng), Texture.random(rng, waves=12)
    radius = radius if radius is not None else 0.22 * min(height, width)
    centre = np.array([width * 0.5, height * 0.5]) + rng.uniform(-0.1, 0.1, 2) * [width, height]
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)

    def render(t: float):
        bx, by = (t * m for m in background_motion)
        fx, fy = (t * m for m in foreground_motion)
        cx, cy = centre[0] + fx, centre[1] + fy
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
        image = np.where(inside[..., None], foreground(x - fx, y - fy), background(x - bx, y - by))
        return image.astype(np.float32), inside

    one, inside = render(0.0)
    two, _ = render(1.0)
    flow = np.where(inside[..., None], foreground_motion, background_motion).astype(np.float32)
    return one, two, flow


def moving_layers(
    height: int,
    width: int,
    times=(0.0, 0.5, 1.0),
    *,
    seed: int = 0,
    layers: int = 3,
    max_motion: float = 12.0,
):
    """Frames at `times` of a background and `layers - 1` textured discs, each moving with its own
    random constant velocity (pixels per unit time, up to `max_motion` per axis); later discs occlude
    earlier ones. For training data: the frame at t = 0.5 is the exact ground truth in-between.

    Returns a list of float32 frames [H, W, 3] in [0, 1], one per time.
    """
    rng = np.random.default_rng(seed)
    textures = [Texture.random(rng, waves=int(rng.integers(8, 25))) for _ in range(layers)]
    motions = rng.uniform(-max_motion, max_motion, (layers, 2))
    centres = rng.uniform(0.15, 0.85, (layers, 2)) * [width, height]
    radii = rng.uniform(0.1, 0.3, layers) * min(height, width)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)

    def render(t: float) -> np.ndarray:
        mx, my = t * motions[0]
        image = textures[0](x - mx, y - my)
        for texture, (mx, my), (cx, cy), radius in zip(textures[1:], t * motions[1:], centres[1:], radii[1:]):
            inside = (x - cx - mx) ** 2 + (y - cy - my) ** 2 <= radius**2
            image = np.where(inside[..., None], texture(x - mx, y - my), image)
        return image.astype(np.float32)

    return [render(float(t)) for t in times]
