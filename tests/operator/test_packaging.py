"""The package's shape: a light core (jax and numpy), extras named for what they enable, and a
command line that names the missing extra.

The core-only checks run where SOFTSPLAT_CORE_ONLY=1: a fresh environment holding only the wheel and
its core dependencies (`make test-core`).
"""

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from conftest import REPO

from jax_softsplat.extras import MODULE_EXTRAS

CORE_ONLY = os.environ.get("SOFTSPLAT_CORE_ONLY") == "1"
core_only = pytest.mark.skipif(not CORE_ONLY, reason="needs a core-only environment (SOFTSPLAT_CORE_ONLY=1)")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower()


def _extras() -> dict[str, set[str]]:
    """Each extra of pyproject.toml with the distributions it brings, self-references resolved."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def resolve(extra, seen=()):
        names = set()
        for requirement in extras[extra]:
            match = re.fullmatch(r"jax_softsplat\[([\w,]+)\]", requirement.strip())
            if match:
                for inner in match.group(1).split(","):
                    assert inner not in seen, f"extra {extra} includes itself"
                    names |= resolve(inner, (*seen, extra))
            else:
                names.add(_name(requirement))
        return names

    return {extra: resolve(extra) for extra in extras}


def test_core_dependencies_are_jax_and_numpy_only():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert {_name(r) for r in project["dependencies"]} == {"jax", "numpy"}


def test_build_uses_the_oldest_supported_jaxlib():
    system = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]
    assert "jax==0.10.2" in system["requires"] and "jaxlib==0.10.2" in system["requires"]


def test_every_optional_module_is_brought_by_the_extra_the_cli_names():
    extras = _extras()
    for module, (distribution, extra) in MODULE_EXTRAS.items():
        assert distribution.lower() in extras[extra], f"{module}: {distribution} not in [{extra}]"


def test_extras_enable_what_their_names_say():
    extras = _extras()
    assert {"interpolate", "models", "train", "convert", "cuda12", "cuda13", "test", "all"} <= set(extras)
    assert extras["models"] >= {"flax"}
    assert extras["train"] >= extras["models"] | extras["interpolate"] | {"optax", "orbax-checkpoint", "grain"}
    assert extras["all"] >= extras["train"] | extras["convert"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("jax[cuda12]") for r in project["cuda12"])
    assert any(r.startswith("jax[cuda13]") for r in project["cuda13"])


def test_installed_distribution_requires_only_jax_and_numpy_unconditionally():
    requires = importlib.metadata.requires("jax_softsplat") or []
    unconditional = {_name(r) for r in requires if "extra ==" not in r}
    assert unconditional == {"jax", "numpy"}, requires


@core_only
def test_core_environment_has_no_optional_module():
    present = [m for m in MODULE_EXTRAS if importlib.util.find_spec(m) is not None]
    assert present == []


@core_only
def test_core_operator_works_without_extras(tmp_path):
    import jax.numpy as jnp

    import jax_softsplat
    from jax_softsplat import backwarp, read_flo, reference, softsplat, write_flo

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 5, 6)).astype(np.float32)
    flow = rng.uniform(-2, 2, (1, 2, 5, 6)).astype(np.float32)
    out = softsplat(x, flow, None, "avg")
    np.testing.assert_allclose(out, reference.softsplat(x, flow, None, "avg"), rtol=1e-5, atol=1e-6)
    assert backwarp(jnp.asarray(x), jnp.zeros_like(flow)).shape == x.shape
    path = tmp_path / "f.flo"
    write_flo(path, flow[0].transpose(1, 2, 0))
    np.testing.assert_array_equal(read_flo(path), flow[0].transpose(1, 2, 0))
    assert jax_softsplat.__version__


@core_only
def test_cli_names_the_missing_extra_and_exits_2(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "jax-softsplat")
    for name in ("one.png", "two.png"):  # present, so that reading them is what needs the extra
        (tmp_path / name).write_bytes(b"\x89PNG")
    argv = ["interpolate", "--one", "one.png", "--two", "two.png", "--out", "mid.png"]
    result = subprocess.run([script, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "pip install 'jax_softsplat[interpolate]'" in result.stderr
    assert "Traceback" not in result.stderr
