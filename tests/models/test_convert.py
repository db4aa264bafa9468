"""Converting the authors' state dict, our weights file, and finding weights for load_interpolator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from network_helpers import SMALL, official_table, random_network

from jax_softsplat import cli
from jax_softsplat.models import convert, from_official, load_network, load_weights, save_weights
from jax_softsplat.models.interpolator import Interpolator, official_weights_path
from jax_softsplat.models.network import interpolate_batch
from jax_softsplat.models.weights import parameters


@pytest.fixture(scope="module")
def official_state():
    """A state dict shaped like network-l1.pytorch (its `module` spelling), with random values."""
    rng = np.random.default_rng(0)
    return {
        key.replace("net", "module"): rng.normal(0, 0.1, shape).astype(np.float32)
        for key, shape in official_table().items()
    }


@pytest.fixture(scope="module")
def converted(official_state):
    return from_official(official_state)


def test_every_tensor_lands_where_it_belongs(official_state, converted):
    params = {name: np.asarray(value) for name, value in parameters(converted).items()}
    assert len(params) == 278
    # The first extractor conv, run as PyTorch would (NCHW, OIHW), against ours (NHWC, HWIO).
    x = np.random.default_rng(1).normal(size=(1, 3, 9, 10)).astype(np.float32)
    weight = official_state["moduleFlow.moduleExtractor.moduleFirst.0.weight"]
    bias = official_state["moduleFlow.moduleExtractor.moduleFirst.0.bias"]
    expected = (
        jax.lax.conv_general_dilated(x, weight, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
        + bias[None, :, None, None]
    )
    ours = converted.flow.extractor.levels[0].conv_a(jnp.asarray(x.transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(np.asarray(ours).transpose(0, 3, 1, 2), np.asarray(expected), atol=1e-5)
    # A PReLU, a 1x1 shortcut and a conv deep in the grid keep their values.
    np.testing.assert_array_equal(
        params["synthesis/softmetric/up/2/pre/weight"],
        official_state["moduleSynthesis.moduleSoftmetric.3x1 - 2x1.moduleMain.1.weight"],
    )
    np.testing.assert_array_equal(
        params["synthesis/warp/1/shortcut/kernel"][0, 0],
        official_state["moduleSynthesis.moduleWarp.moduleTwo.moduleShortcut.weight"][:, :, 0, 0].T,
    )
    np.testing.assert_array_equal(
        params["synthesis/grid/up/1/0/conv_b/kernel"],
        official_state["moduleSynthesis.1x4 - 0x4.moduleMain.4.weight"].transpose(2, 3, 1, 0),
    )


def test_net_spelling_is_accepted_too(official_state, converted):
    renamed = {key.replace("module", "net"): value for key, value in official_state.items()}
    again = parameters(from_official(renamed))
    for name, value in parameters(converted).items():
        np.testing.assert_array_equal(np.asarray(again[name]), np.asarray(value))


def test_missing_extra_misshapen_and_duplicate_tensors_are_named(official_state):
    key = "moduleSynthesis.moduleWarp.moduleThr.moduleMain.1.weight"
    missing = dict(official_state)
    del missing[key]
    with pytest.raises(ValueError, match="missing 1 tensor.*netSynthesis.netWarp.netThr.netMain.1.weight"):
        from_official(missing)
    extra = dict(official_state, **{"moduleSynthesis.moduleExtra.weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="unexpected tensor.*netSynthesis.netExtra.weight"):
        from_official(extra)
    misshapen = dict(official_state, **{key: np.zeros(95, np.float32)})
    with pytest.raises(
        ValueError, match=r"netSynthesis.netWarp.netThr.netMain.1.weight has shape \(95,\), expected \(96,\)"
    ):
        from_official(misshapen)
    twice = dict(official_state, **{key.replace("module", "net"): official_state[key]})
    with pytest.raises(ValueError, match="netSynthesis.netWarp.netThr.netMain.1.weight appears twice"):
        from_official(twice)


def test_convert_npz_then_load(official_state, converted, tmp_path):
    src = tmp_path / "network-l1.npz"
    np.savez(src, **official_state)
    dst = tmp_path / "l1.msgpack"
    convert(src, dst)
    loaded = parameters(load_weights(dst))
    for name, value in parameters(converted).items():
        np.testing.assert_array_equal(np.asarray(loaded[name]), np.asarray(value))
    with pytest.raises(FileExistsError, match="l1.msgpack exists"):
        convert(src, dst)


def test_convert_pytorch_file(official_state, converted, tmp_path):
    torch = pytest.importorskip("torch")
    src = tmp_path / "network-lf.pytorch"
    torch.save({key: torch.from_numpy(value) for key, value in official_state.items()}, src)
    dst = tmp_path / "lf.msgpack"
    assert cli.main(["convert", str(src), str(dst)]) == 0
    loaded = parameters(load_weights(dst))
    for name, value in parameters(converted).items():
        np.testing.assert_array_equal(np.asarray(loaded[name]), np.asarray(value))


def test_convert_command(official_state, tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as help_exit:
        cli.main(["convert", "--help"])
    assert (
        help_exit.value.code == 0 and "usage: jax-softsplat convert [-h] [--force] src [dst]" in capsys.readouterr().out
    )
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "home"))
    src = tmp_path / "network-l1.npz"
    np.savez(src, **official_state)
    assert cli.main(["convert", str(src)]) == 0  # to the folder load_interpolator looks in
    assert official_weights_path("l1") == tmp_path / "home" / "network-l1.msgpack"
    assert official_weights_path("l1").is_file()
    assert cli.main(["convert", str(src)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert cli.main(["convert", str(src), "--force"]) == 0
    assert cli.main(["convert", str(tmp_path / "nothing.pytorch"), str(tmp_path / "x.msgpack")]) == 2
    assert "SRC" in (err := capsys.readouterr().err) and "no such file" in err


def test_save_load_round_trip_gives_the_same_outputs(tmp_path):
    network = random_network(SMALL, seed=3)
    path = tmp_path / "weights.msgpack"
    save_weights(network, path)
    loaded = load_weights(path)
    assert loaded.config == SMALL
    one, two = (jnp.asarray(np.random.default_rng(s).uniform(size=(1, 10, 12, 3)), jnp.float32) for s in (4, 5))
    run = nnx.jit(interpolate_batch)
    np.testing.assert_array_equal(
        np.asarray(run(network, one, two, jnp.float32(0.5))), np.asarray(run(loaded, one, two, jnp.float32(0.5)))
    )
    # load_network on the run folder: same frames, RGB in [0, 1], flow computed once for all t.
    interpolator = load_network(str(tmp_path))
    assert isinstance(interpolator, Interpolator)
    frames = interpolator(np.asarray(one[0]), np.asarray(two[0]), [0.5, 0.25])
    assert [f.shape for f in frames] == [(10, 12, 3)] * 2 and all(f.dtype == np.float32 for f in frames)
    expected = np.clip(np.asarray(run(network, one, two, jnp.float32(0.5)))[0], 0, 1)
    np.testing.assert_allclose(frames[0], expected, rtol=1e-3, atol=1e-3)
    assert not np.allclose(frames[0], frames[1])
    with pytest.raises(ValueError, match="float RGB"):
        interpolator(np.zeros((10, 12, 3), np.uint8), np.zeros((10, 12, 3), np.uint8), [0.5])
    with pytest.raises(ValueError, match=r"RGB \[H, W, 3\]"):
        interpolator(np.zeros((10, 12, 3), np.float32), np.zeros((10, 11, 3), np.float32), [0.5])
    with pytest.raises(ValueError, match="times"):
        interpolator(np.asarray(one[0]), np.asarray(two[0]), [1.5])


def test_weights_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no weights file"):
        load_weights(tmp_path / "none.msgpack")
    bad = tmp_path / "bad.msgpack"
    bad.write_bytes(b"not msgpack at all")
    with pytest.raises(ValueError, match="bad.msgpack"):
        load_weights(bad)


def test_load_network_says_how_to_get_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        load_network("l1")
    message = str(error.value)
    assert str(tmp_path / "network-l1.msgpack") in message
    assert "http://content.sniklaus.com/softsplat/network-l1.pytorch" in message
    assert "jax-softsplat convert network-l1.pytorch" in message
    with pytest.raises(FileNotFoundError, match="lf.msgpack"):
        load_network("lf", weights=tmp_path / "lf.msgpack")
    with pytest.raises(FileNotFoundError, match="^model '.*run': expected one of l1, lf"):
        load_network(str(tmp_path / "run"))
    with pytest.raises(ValueError, match="^weights x.msgpack: only the models l1, lf"):
        load_network(str(tmp_path), weights="x.msgpack")
