"""The grain input pipeline: deterministic shuffling, augmentation, batching, optional worker processes.

Everything random is seeded from (seed, element index), so the stream of batches is a pure function of
the config, and the iterator's state (saved in checkpoints) resumes it exactly.
"""

import logging
from functools import partial

import grain
import numpy as np

from .config import DataConfig
from .sources import FRAME_NAMES

log = logging.getLogger("jax_softsplat.train")


def augment(triplet: dict | None, rng: np.random.Generator, *, crop: int, flip: bool, reverse: bool):
    """A random square crop, flips and temporal reversal -> uint8 [3, crop, crop, 3] (one, mid, two).

    Triplets smaller than the crop are reported and skipped (None)."""
    if triplet is None:
        return None
    frames = np.stack([triplet[name] for name in FRAME_NAMES])
    height, width = frames.shape[1:3]
    if height < crop or width < crop:
        log.warning("skipping a %dx%d triplet: smaller than the %d-pixel crop", width, height, crop)
        return None
    top, left = rng.integers(0, height - crop + 1), rng.integers(0, width - crop + 1)
    frames = frames[:, top : top + crop, left : left + crop]
    if flip and rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    if flip and rng.random() < 0.5:
        frames = frames[:, ::-1]
    if reverse and rng.random() < 0.5:
        frames = frames[::-1]
    return np.ascontiguousarray(frames)


def check_source(source, crop: int) -> None:
    """Fails early, with a clear message, when the first triplets cannot be used at all."""
    for index in range(min(len(source), 8)):
        triplet = source[index]
        if triplet is not None:
            height, width = triplet["one"].shape[:2]
            if height < crop or width < crop:
                raise ValueError(
                    f"triplets are {width}x{height} pixels, smaller than the crop ({crop}); "
                    "lower it with --set data.crop=N"
                )
            return
    raise ValueError("the first triplets of the dataset are all unreadable (see the warnings above)")


def training_batches(
    source, config: DataConfig, *, seed: int, process_index: int = 0, process_count: int = 1
) -> grain.IterDataset:
    """An endless IterDataset of uint8 batches [B / process_count, 3, crop, crop, 3] for this process.

    Epochs are reshuffled (the shuffle seed is combined with the epoch); each process reads its own
    interleaved slice of the shuffled, augmented stream.
    """
    if config.batch_size % process_count:
        raise ValueError(f"data.batch_size={config.batch_size} is not divisible by the {process_count} processes")
    check_source(source, config.crop)
    dataset = grain.MapDataset.source(source).shuffle(seed=seed).repeat(None)
    # Augmented before slicing, so a record's crop and flips follow its place in the global stream:
    # N processes then train on exactly the batches one process would.
    dataset = dataset.random_map(
        partial(augment, crop=config.crop, flip=config.flip, reverse=config.reverse), seed=seed + 1
    )
    dataset = dataset[process_index::process_count]
    batches = dataset.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=config.prefetch * 4))
    batches = batches.batch(config.batch_size // process_count, drop_remainder=True)
    if config.workers > 0:
        batches = batches.mp_prefetch(
            grain.MultiprocessingOptions(num_workers=config.workers, per_worker_buffer_size=config.prefetch)
        )
    return batches
