"""Every hyperparameter of a training run in one dataclass tree, overridable as `--set section.key=value`."""

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

from jax_softsplat.files import atomic_path


@dataclass
class DataConfig:
    kind: str = "synthetic"  # "synthetic", "vimeo" (Vimeo-90k triplets) or "frames" (videos / frame folders)
    path: str = ""  # dataset root for "vimeo" and "frames"
    crop: int = 256  # square random crop, pixels
    batch_size: int = 4  # global batch, split over all devices of all processes
    workers: int = 0  # grain worker processes; 0 reads in the training process (with prefetch threads)
    prefetch: int = 2  # batches read ahead per worker / thread
    flip: bool = True  # random horizontal and vertical flips
    reverse: bool = True  # random temporal reversal (one and two swapped)
    synthetic_size: int = 1024  # scenes in one synthetic epoch
    synthetic_height: int = 288  # generated scene size (crops come out of it)
    synthetic_width: int = 352
    synthetic_motion: float = 12.0  # largest speed of a generated layer, pixels per frame along each axis
    scene_cut: float = 0.12  # "frames": mean absolute difference (0-1) above which two frames are a cut
    val_path: str = ""  # a folder of triplets (Vimeo layout or frame folders) for periodic validation
    val_kind: str = "vimeo"  # how val_path is laid out: "vimeo" or "frames"
    val_limit: int = 64  # at most this many validation triplets


@dataclass
class ModelConfig:
    width: float = 1.0  # channel widths relative to the official network (NetworkConfig.scaled), e.g. 0.25
    # Explicit NetworkConfig fields instead, e.g. --set 'model.network.encoder=[8,16,24]'.
    network: dict = field(default_factory=dict)
    init: str = ""  # weights .msgpack to start from (converted official weights); empty = from scratch
    flow_module: str = "flow"  # attribute name of the flow estimator inside the network (for freezing)
    freeze_flow_steps: int = 0  # the flow estimator gets no updates for this many steps


@dataclass
class LossConfig:
    kind: str = "laplacian"  # "laplacian" (Laplacian-pyramid L1, the `l1` recipe) or "l1"
    levels: int = 5  # pyramid levels of the Laplacian loss


@dataclass
class OptimConfig:
    lr: float = 1e-4
    schedule: str = "cosine"  # "cosine" (warm-up then cosine decay), "step" or "constant"
    warmup_steps: int = 100
    final_lr_fraction: float = 0.01  # cosine: the lr at the last step, as a fraction of lr
    step_every: int = 10000  # step schedule: multiply the lr by step_factor every this many steps
    step_factor: float = 0.5
    weight_decay: float = 1e-4
    b1: float = 0.9
    b2: float = 0.999
    clip_norm: float = 1.0  # global gradient-norm clipping; 0 turns it off
    ema_decay: float = 0.0  # exponential moving average of the weights; 0 turns it off


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int = 1000
    seed: int = 0
    log_every: int = 10  # steps between metric lines
    checkpoint_every: int = 500
    keep_checkpoints: int = 3  # the last K checkpoints are kept
    val_every: int = 1000  # 0 = validate only at the end (when data.val_path is set)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path) -> None:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path) -> "TrainConfig":
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable training config ({error})") from error
        return from_dict(cls, values, where=str(path))


def from_dict(kind, values: dict, where: str = "config"):
    """Builds dataclass `kind` from nested dicts, refusing keys it does not have."""
    hints = typing.get_type_hints(kind)
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown config key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        if dataclasses.is_dataclass(hints[name]):
            kwargs[name] = from_dict(hints[name], value, where=f"{where}.{name}")
        else:
            kwargs[name] = value
    return kind(**kwargs)


def _parse_value(text: str, kind, key: str):
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {key}={text}: expected a boolean (true/false)")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"--set {key}={text}: expected {kind.__name__}") from None
    if kind is str:
        return text
    raise ValueError(f"--set {key}: cannot set a field of type {kind} from the command line")


def apply_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Applies `section.key=value` strings in order; `model.network.NAME=value` takes JSON (or a string)."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. optim.lr=1e-4")
        parts = key.split(".")
        if parts[:2] == ["model", "network"] and len(parts) == 3:
            try:
                config.model.network[parts[2]] = json.loads(text)
            except json.JSONDecodeError:
                config.model.network[parts[2]] = text
            continue
        target = config
        for depth, name in enumerate(parts):
            known = {f.name for f in dataclasses.fields(target)}
            if name not in known:
                prefix = ".".join(parts[:depth]) or "top level"
                raise ValueError(f"--set {key}: unknown config key {name!r} in {prefix}; known: {sorted(known)}")
            if depth == len(parts) - 1:
                kind = typing.get_type_hints(type(target))[name]
                if dataclasses.is_dataclass(kind):
                    raise ValueError(f"--set {key}: {key} is a section; name one of its keys")
                setattr(target, name, _parse_value(text, kind, key))
            else:
                target = getattr(target, name)
                if not dataclasses.is_dataclass(target):
                    raise ValueError(f"--set {key}: {'.'.join(parts[: depth + 1])} is not a section")
    return config
