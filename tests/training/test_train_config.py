"""The training config: every hyperparameter overridable from the command line, unknown keys refused,
saved and loaded as JSON; and the losses and schedules it names."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_softsplat.train.config import TrainConfig, apply_overrides
from jax_softsplat.train.losses import colour_loss, l1, laplacian_l1, laplacian_pyramid, psnr
from jax_softsplat.train.optim import learning_rate


def test_overrides_set_typed_values():
    config = apply_overrides(
        TrainConfig(),
        ["optim.lr=3e-4", "data.batch_size=8", "data.flip=false", "loss.kind=l1", "steps=7",
         "model.network.encoder=[8,16,24]"],
    )  # fmt: skip
    assert config.optim.lr == 3e-4 and config.data.batch_size == 8 and config.data.flip is False
    assert config.loss.kind == "l1" and config.steps == 7 and config.model.network == {"encoder": [8, 16, 24]}


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", r"unknown config key 'lrr' in optim"),
        ("nope=1", r"unknown config key 'nope' in top level"),
        ("optim=1", r"is a section"),
        ("steps=many", r"expected int"),
        ("data.flip=maybe", r"expected a boolean"),
        ("steps", r"expected KEY=VALUE"),
        ("steps.x=1", r"is not a section"),
    ],
)
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(TrainConfig(), [override])


def test_config_round_trips_and_refuses_unknown_keys_in_files(tmp_path):
    config = apply_overrides(TrainConfig(), ["optim.lr=0.5", "data.crop=64"])
    config.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == config
    (tmp_path / "bad.json").write_text('{"optim": {"lr": 1, "momentum": 0.9}}')
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['momentum'\]"):
        TrainConfig.load(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not a readable training config"):
        TrainConfig.load(tmp_path / "broken.json")


def test_laplacian_pyramid_reconstructs_and_loss_weights_levels():
    image = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), jnp.float32)
    levels = laplacian_pyramid(image, 4)
    assert [level.shape[1] for level in levels] == [32, 16, 8, 4]
    assert float(laplacian_l1(image, image)) == 0.0
    # A constant offset lives only in the low-pass residual (the 4th level of 4, weight 2^3).
    shifted = image + 0.1
    np.testing.assert_allclose(float(laplacian_l1(shifted, image, levels=4)), 8 * 0.1, rtol=1e-4)
    np.testing.assert_allclose(float(l1(shifted, image)), 0.1, rtol=1e-5)
    grad = jax.grad(lambda x: colour_loss("laplacian")(x, image))(image + 0.01 * jnp.sign(image - 0.5))
    assert bool(jnp.all(jnp.isfinite(grad))) and float(jnp.abs(grad).sum()) > 0
    with pytest.raises(ValueError, match="unknown loss"):
        colour_loss("perceptual")


def test_psnr_of_a_known_error():
    target = jnp.full((1, 4, 4, 3), 0.5)
    np.testing.assert_allclose(float(psnr(target + 0.1, target)), 20.0, rtol=1e-5)


def test_schedules_warm_up_then_decay():
    config = TrainConfig().optim
    config.lr, config.warmup_steps = 1e-3, 10
    cosine = learning_rate(config, 110)
    assert float(cosine(0)) < float(cosine(5)) < float(cosine(10)) == pytest.approx(1e-3)
    assert float(cosine(109)) == pytest.approx(1e-5, rel=0.05)
    config.schedule, config.step_every, config.step_factor = "step", 20, 0.5
    step = learning_rate(config, 110)
    assert float(step(10 + 25)) == pytest.approx(5e-4)
    config.schedule = "exponential"
    with pytest.raises(ValueError, match="unknown optim.schedule"):
        learning_rate(config, 10)
