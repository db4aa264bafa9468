import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "summation_order: compares separate forward calls bit for bit, which holds only when every call "
        "adds the same terms in the same order (the CPU kernel; not a GPU's atomics, so "
        "`make test-gpu-emulation` leaves these tests out of its concurrent run)",
    )
    config.addinivalue_line(
        "markers", "slow: takes a minute or more on a 2-core machine (`make test-fast` leaves it out)"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder. Missing data fails the test (CI must never silently skip it)."""
    path = Path(os.environ.get("JAX_SOFTSPLAT_DATA", REPO.parent / "shared" / "data"))
    if not (path / "images" / "flow.flo").is_file():
        pytest.fail(f"shared data not found at {path} (set JAX_SOFTSPLAT_DATA)")
    return path
