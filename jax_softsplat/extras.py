"""The optional extras and the message that names the one a missing import belongs to.

The core (`import jax_softsplat`, `softsplat`, `reference`, `backwarp`, `read_flo`/`write_flo`) needs
only jax and numpy. Everything else comes with an extra named for what it enables; a command that
reaches a missing module is answered with the `pip install` line that brings it.
"""

# Top-level module -> (distribution to install, extra that brings it).
MODULE_EXTRAS = {
    "PIL": ("pillow", "interpolate"),
    "cv2": ("opencv-python-headless", "interpolate"),
    "av": ("av", "interpolate"),
    "skimage": ("scikit-image", "interpolate"),
    "tqdm": ("tqdm", "interpolate"),
    "flax": ("flax", "models"),
    "optax": ("optax", "train"),
    "orbax": ("orbax-checkpoint", "train"),
    "grain": ("grain", "train"),
    "tensorboardX": ("tensorboardX", "train"),
    "torch": ("torch", "convert"),
}


def missing_extra(error: ImportError) -> str | None:
    """For an ImportError of a module that an extra brings, the message telling how to install it;
    None for any other import error (a real bug, which should surface as such)."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    if name not in MODULE_EXTRAS:
        return None
    distribution, extra = MODULE_EXTRAS[name]
    return (
        f"this needs {distribution} (module {name}), which is not installed; it comes with the "
        f"[{extra}] extra: pip install 'jax_softsplat[{extra}]'"
    )
