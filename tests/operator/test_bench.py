"""`jax-softsplat speed operator` runs every implementation side by side and reports what it measured."""

import json

import jax_softsplat
from jax_softsplat import cli


def test_bench_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = [
        "speed",
        "operator",
        "--size",
        "tiny",
        "--mode",
        "sum",
        "soft",
        "--layout",
        "NCHW",
        "NHWC",
        "--implementation",
        "kernel",
        "composed",
        "reference",
        "torch",
        "--threads",
        "1",
        "2",
        "--repeats",
        "1",
        "--min-seconds",
        "0",
        "--json",
        str(out),
    ]
    before = jax_softsplat.num_threads()
    assert cli.main(argv) == 0
    assert jax_softsplat.num_threads() == before
    printed = capsys.readouterr().out
    assert "copy/kernel/2t" in printed and "reference/kernel/2t" in printed
    rows = json.loads(out.read_text())
    configs = 2 * 2 * 2  # modes x layouts x passes
    names = [(r["implementation"], r["threads"]) for r in rows]
    for expected in [("copy", None), ("kernel", 1), ("kernel", 2), ("composed", None), ("reference", None)]:
        assert names.count(expected) == configs, expected
    assert all(r["median_ms"] > 0 and r["runs"] >= 1 for r in rows)
