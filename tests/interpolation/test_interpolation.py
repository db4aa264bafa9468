"""`load_interpolator` and the default model choice."""

import numpy as np
import pytest

from jax_softsplat.classic import ClassicInterpolator
from jax_softsplat.interpolation import default_model, load_interpolator


def test_classic_by_name():
    interpolator = load_interpolator("classic")
    assert isinstance(interpolator, ClassicInterpolator)
    one = np.zeros((6, 8, 3), np.float32)
    frames = interpolator(one, one + 0.5, [0.25, 0.5])
    assert len(frames) == 2 and all(f.shape == (6, 8, 3) for f in frames)
    np.testing.assert_allclose(frames[0], 0.125, atol=1e-6)


def test_classic_takes_no_weights(tmp_path):
    with pytest.raises(ValueError, match="^weights .*: the classic model has no weights"):
        load_interpolator("classic", str(tmp_path / "w.msgpack"))


def test_unknown_model_is_named(tmp_path):
    with pytest.raises(ValueError, match="^model 'nonsense'"):
        load_interpolator("nonsense")
    with pytest.raises(ValueError, match="^model "):
        load_interpolator(str(tmp_path / "missing.msgpack"))


def test_network_models_come_from_jax_softsplat_models(monkeypatch):
    """The network loader is imported only when a network is asked for; without it the error says so."""
    import jax_softsplat.models as models

    calls = []
    monkeypatch.setattr(models, "load_network", lambda m, w: calls.append((m, w)) or "net", raising=False)
    assert load_interpolator("l1", "w.msgpack") == "net" and calls == [("l1", "w.msgpack")]
    monkeypatch.delattr(models, "load_network")
    with pytest.raises(ValueError, match="^model 'lf': the interpolation network"):
        load_interpolator("lf")


def test_default_model_follows_the_weights_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path))
    assert default_model() == "classic"
    (tmp_path / "network-l1.msgpack").write_bytes(b"")
    assert default_model() == "l1"
