"""Network weights: our msgpack file (config + parameters) and conversion of the authors' PyTorch
state dicts (`network-l1.pytorch`, `network-lf.pytorch`) into it."""

import zipfile
from collections.abc import Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, serialization

from jax_softsplat.files import atomic_path

from .config import NetworkConfig
from .network import Network

FORMAT = "jax_softsplat.models.Network"
VERSION = 1


# ----------------------------------------------------------------------------------------------
# Parameters as a flat {"flow/extractor/levels/0/conv_a/kernel": array} mapping.


def _flatten(tree, prefix=()) -> dict[tuple, object]:
    if isinstance(tree, Mapping):
        flat = {}
        for key, value in tree.items():
            flat.update(_flatten(value, prefix + (key,)))
        return flat
    return {prefix: tree}


def _name(path: tuple) -> str:
    return "/".join(str(part) for part in path)


def parameters(network: Network) -> dict[str, jax.Array]:
    """The network's parameters by path name."""
    return {_name(path): value for path, value in _flatten(nnx.to_pure_dict(nnx.state(network, nnx.Param))).items()}


def abstract_network(config: NetworkConfig) -> Network:
    """A Network whose parameters are shapes only (nothing is initialised)."""
    return nnx.eval_shape(lambda: Network(config, rngs=nnx.Rngs(0)))


def network_from_parameters(
    config: NetworkConfig, values: Mapping[str, np.ndarray], source: str = "parameters"
) -> Network:
    """A Network of `config` holding exactly `values`, keyed as `parameters` names them (every
    parameter, of its shape, nothing else). Nothing is initialised, so this is quick."""
    network = abstract_network(config)
    state = nnx.state(network, nnx.Param)
    pure = nnx.to_pure_dict(state)
    wanted = {_name(path): path for path in _flatten(pure)}
    missing = sorted(set(wanted) - set(values))
    extra = sorted(set(values) - set(wanted))
    if missing or extra:
        raise ValueError(f"{source}: parameters do not match the network: missing {missing}, unexpected {extra}")
    for name, path in wanted.items():
        node = pure
        for part in path[:-1]:
            node = node[part]
        expected = node[path[-1]].shape
        value = np.asarray(values[name])
        if value.shape != tuple(expected):
            raise ValueError(f"{source}: parameter {name} has shape {value.shape}, expected {tuple(expected)}")
        node[path[-1]] = jnp.asarray(value, jnp.float32)
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(network, state)
    return network


# ----------------------------------------------------------------------------------------------
# Our weights file.


def save_weights(network: Network, path) -> None:
    """Writes one msgpack file holding the network's config and parameters (atomically)."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": network.config.to_dict(),
        "params": {name: np.asarray(value, np.float32) for name, value in parameters(network).items()},
    }
    with atomic_path(path) as tmp:
        tmp.write_bytes(serialization.msgpack_serialize(payload))


def load_weights(path) -> Network:
    """Reads a file written by `save_weights` into a new Network."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
    except Exception as error:  # msgpack raises several unrelated types on corrupt input
        raise ValueError(f"{path}: not a readable weights file ({error})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{path}: not a jax_softsplat network weights file (convert official weights with `jax-softsplat convert`)"
        )
    if payload.get("version") != VERSION:
        raise ValueError(f"{path}: weights format version {payload.get('version')}, this version reads {VERSION}")
    return network_from_parameters(NetworkConfig.from_dict(payload["config"]), payload["params"], str(path))


# ----------------------------------------------------------------------------------------------
# The official state dict.

_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth")
_THREE = ("One", "Two", "Thr")

# Inside each kind of block: our attribute -> the reference's layer name. The reference counts
# the layers of its Sequentials, parameter-free ones included (Upsample's index 0 is the resize).
_LAYERS = {
    "conv": {None: ""},
    "extractor": {"conv_a": "0", "conv_b": "2"},
    "encoder": {"conv_a": "0", "act_a": "1", "conv_b": "2", "act_b": "3"},
    "relu-conv-relu-conv": {
        "pre": "netMain.0",
        "conv_a": "netMain.1",
        "act": "netMain.2",
        "conv_b": "netMain.3",
        "shortcut": "netShortcut",
    },
    "conv-relu-conv": {"conv_a": "netMain.0", "act": "netMain.1", "conv_b": "netMain.2", "shortcut": "netShortcut"},
    "down": {"pre": "netMain.0", "conv_a": "netMain.1", "act": "netMain.2", "conv_b": "netMain.3"},
    "up": {"pre": "netMain.1", "conv_a": "netMain.2", "act": "netMain.3", "conv_b": "netMain.4"},
}
# Our parameter names -> the reference's (a Flax conv's kernel is the PyTorch weight).
_PARAMS = {"kernel": "weight", "bias": "bias", "weight": "weight"}


def _blocks(config: NetworkConfig) -> dict[tuple, tuple[str, str]]:
    """Our module path -> (the reference's module name, kind of block)."""
    blocks = {}
    for i, ordinal in enumerate(_ORDINALS):
        blocks["flow", "extractor", "levels", i] = (f"netFlow.netExtractor.net{ordinal}", "extractor")
        for j in range(len(config.decoder) + 1):
            blocks["flow", "decoders", i, "convs", j] = (f"netFlow.net{ordinal}.netMain.{2 * j}", "conv")
    syn = "netSynthesis"
    for i, name in enumerate(_THREE):
        blocks["synthesis", "encoder", "levels", i] = (f"{syn}.netEncode.net{name}", "encoder")
        blocks["synthesis", "warp", i] = (f"{syn}.netWarp.net{name}", "conv-relu-conv")
    metric = f"{syn}.netSoftmetric"
    blocks["synthesis", "softmetric", "image_conv"] = (f"{metric}.netInput", "conv")
    blocks["synthesis", "softmetric", "error_conv"] = (f"{metric}.netError", "conv")
    blocks["synthesis", "softmetric", "output"] = (f"{metric}.netOutput", "conv-relu-conv")
    for r in range(len(config.softmetric)):
        blocks["synthesis", "softmetric", "lateral", r] = (f"{metric}.{r}x0 - {r}x1", "relu-conv-relu-conv")
        if r + 1 < len(config.softmetric):
            blocks["synthesis", "softmetric", "down", r] = (f"{metric}.{r}x0 - {r + 1}x0", "down")
            blocks["synthesis", "softmetric", "up", r] = (f"{metric}.{r + 1}x1 - {r}x1", "up")
    rows = len(config.encoder)
    for r in range(rows):
        for c in range(5):
            blocks["synthesis", "grid", "lateral", r, c] = (f"{syn}.{r}x{c} - {r}x{c + 1}", "relu-conv-relu-conv")
        for c in range(3):
            if r + 1 < rows:
                blocks["synthesis", "grid", "down", c, r] = (f"{syn}.{r}x{c} - {r + 1}x{c}", "down")
                blocks["synthesis", "grid", "up", c, r] = (f"{syn}.{r + 1}x{c + 3} - {r}x{c + 3}", "up")
    blocks["synthesis", "grid", "output"] = (f"{syn}.netOutput", "conv-relu-conv")
    return blocks


def official_names(config: NetworkConfig = NetworkConfig()) -> dict[str, str]:
    """Our parameter name -> the official state-dict key (spelt with `net`), for every parameter."""
    blocks = _blocks(config)
    names = {}
    for path in _flatten(nnx.to_pure_dict(nnx.state(abstract_network(config), nnx.Param))):
        for cut in range(len(path) - 1, 0, -1):
            if path[:cut] in blocks:
                module, kind = blocks[path[:cut]]
                inside = path[cut:-1]
                layer = _LAYERS[kind][inside[0] if inside else None]
                names[_name(path)] = ".".join(part for part in (module, layer, _PARAMS[path[-1]]) if part)
                break
        else:
            raise AssertionError(f"no official name for parameter {_name(path)}")
    return names


def _to_ours(name: str, value: np.ndarray) -> np.ndarray:
    """OIHW conv weights -> HWIO kernels; biases and PReLU slopes are unchanged."""
    return value.transpose(2, 3, 1, 0) if name.endswith("/kernel") else value


def from_official(state_dict: Mapping[str, np.ndarray], source: str = "state dict") -> Network:
    """The official network from the authors' state dict, as {key: numpy array}.

    Accepts the file's `module...` spelling and the reference code's `net...`. Every one of the
    278 tensors must be there exactly once with its published shape; anything else is an error
    that names the key.
    """
    renamed = {}
    for key, value in state_dict.items():
        ours = key.replace("module", "net")
        if ours in renamed:
            raise ValueError(f"{source}: tensor {ours} appears twice (as `module` and `net` spellings)")
        renamed[ours] = np.asarray(value, np.float32)
    names = official_names()
    expected = set(names.values())
    missing = sorted(expected - set(renamed))
    extra = sorted(set(renamed) - expected)
    if missing:
        raise ValueError(f"{source}: missing {len(missing)} tensor(s) of the official network: {', '.join(missing)}")
    if extra:
        raise ValueError(f"{source}: {len(extra)} unexpected tensor(s): {', '.join(extra)}")
    shapes = {name: value.shape for name, value in parameters(abstract_network(NetworkConfig())).items()}
    values = {}
    for ours, key in names.items():
        value = renamed[key]
        shape = shapes[ours]
        official_shape = (shape[3], shape[2], shape[0], shape[1]) if ours.endswith("/kernel") else shape
        if value.shape != tuple(official_shape):
            raise ValueError(f"{source}: tensor {key} has shape {value.shape}, expected {tuple(official_shape)}")
        values[ours] = _to_ours(ours, value)
    return network_from_parameters(NetworkConfig(), values, source)


def _file_kind(path: Path) -> str:
    """ "npz" (a zip of .npy members), "torch" (a zip archive or a pickle, as torch.save writes), or
    "other", from the file's content rather than its name."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        return "npz" if names and all(name.endswith(".npy") for name in names) else "torch"
    with open(path, "rb") as file:
        head = file.read(2)
    # torch.save's legacy format is a pickle of protocol 2 or above: it starts with the PROTO opcode.
    return "torch" if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5 else "other"


def read_state_dict(path) -> dict[str, np.ndarray]:
    """A PyTorch state dict file (needs torch: `pip install jax_softsplat[convert]`) or a `.npz` of
    the same tensors -> {key: numpy array}. Only plain tensors are read: nothing is unpickled."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    kind = _file_kind(path)
    if kind == "other":
        raise ValueError(f"{path}: not a PyTorch state dict or .npz of one (neither a zip archive nor a pickle)")
    if kind == "npz":
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return {key: arrays[key] for key in arrays.files}
        except ValueError as error:  # object arrays: numpy would need to unpickle them
            raise ValueError(
                f"{path}: holds Python objects, not plain numeric arrays; save each tensor as an array "
                "(numpy.savez(path, **{k: v.numpy() for k, v in state_dict.items()}))"
            ) from error
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"reading {path} needs PyTorch: pip install 'jax_softsplat[convert]' (or give a .npz of the tensors)",
            name="torch",
        ) from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises assorted types for files that are not its own
        # torch's own message suggests weights_only=False, i.e. running the file's code: not repeated here.
        raise ValueError(
            f"{path}: not a PyTorch state dict of plain tensors (torch.load refused it: {type(error).__name__})"
        ) from None
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a state dict (a mapping of tensors), got {type(state).__name__}")
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{path}: a mapping, but not of tensors only: not a state dict")
    return {key: value.detach().cpu().numpy() for key, value in state.items()}


def convert(src, dst, *, overwrite: bool = False) -> Network:
    """Converts the authors' `network-<model>.pytorch` (or a .npz of its tensors) into our weights
    file `dst`; refuses to replace an existing `dst` unless `overwrite`."""
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; remove it or pass overwrite=True")
    network = from_official(read_state_dict(src), source=str(src))
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_weights(network, dst)
    return network
