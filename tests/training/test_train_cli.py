"""`jax-softsplat train` with the real network (narrow, on small crops): a run, its files, resuming it,
and the command line's clear errors."""

import json
import re

import numpy as np
import pytest
from flax import nnx

from jax_softsplat.cli import main
from jax_softsplat.models import Network, load_weights

SMALL = [
    "--set", "model.width=0.125", "--set", "data.crop=32", "--set", "data.batch_size=2",
    "--set", "data.synthetic_size=4", "--set", "data.synthetic_height=40", "--set", "data.synthetic_width=40",
    "--set", "log_every=1", "--set", "checkpoint_every=1", "--no-progress",
]  # fmt: skip


@pytest.fixture
def compile_cache(tmp_path_factory, monkeypatch):
    """A persistent XLA cache for this test, so the resumed run reuses the first run's compiled step
    (and the command line does not write to ~/.cache)."""
    import jax

    cache = tmp_path_factory.mktemp("xla_cache")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(cache))
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(cache))
    yield cache
    jax.config.update("jax_compilation_cache_dir", previous)


@pytest.mark.slow
def test_train_writes_a_run_and_resumes_it(tmp_path, capsys, compile_cache):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "--steps", "1", *SMALL]) == 0
    assert "weights:" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["width"] == 0.125 and config["steps"] == 1
    assert [record["step"] for record in map(json.loads, (run / "metrics.jsonl").open())] == [1]
    first = load_weights(run / "weights.msgpack")
    assert isinstance(first, Network)

    # Continuing to step 2 (a resume takes the saved config; --steps extends it).
    assert main(["train", "--run-dir", str(run), "--steps", "2", "--resume", "--no-progress"]) == 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.isdigit()) == ["1", "2"]
    second = load_weights(run / "weights.msgpack")
    before, after = (nnx.to_pure_dict(nnx.state(m, nnx.Param)) for m in (first, second))
    assert not all(np.array_equal(x, y) for x, y in zip(_leaves(before), _leaves(after)))

    # The same run dir without --resume would overwrite the run: refused.
    assert main(["train", "--run-dir", str(run), "--steps", "6", *SMALL]) == 2
    assert "already holds checkpoints" in capsys.readouterr().err


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree, key=str) for leaf in _leaves(tree[key])]
    return [np.asarray(tree)]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--resume"], "holds no run to resume"),
        (["--data", "{tmp}/missing"], "--data .*missing: no such folder"),
        (["--data", "{tmp}"], "no triplets found"),
        (["--data", "{tmp}", "--data-kind", "vimeo"], "tri_trainlist.txt"),
        (["--set", "optim.learning_rate=1"], "unknown config key 'learning_rate' in optim"),
        (["--set", "model.network.colours=[1]"], "unknown fields"),
        (["--init", "{tmp}/nothing.msgpack"], "nothing.msgpack"),
    ],
)
def test_bad_command_lines_are_clear_errors(tmp_path, capsys, arguments, message):
    arguments = [a.format(tmp=tmp_path) for a in arguments]
    assert main(["train", "--run-dir", str(tmp_path / "run"), "--steps", "1", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error:") and re.search(message, error), error
    assert not (tmp_path / "run" / "checkpoints").exists()
