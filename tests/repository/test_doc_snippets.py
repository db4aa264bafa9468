"""Every Python snippet in the README and docs/ runs as written."""

import re
from pathlib import Path

import pytest

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def snippets():
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            yield pytest.param(path, line, match.group(1), id=f"{path.relative_to(REPO)}:{line}")


@pytest.mark.parametrize(("path", "line", "code"), list(snippets()))
def test_snippet_runs(path, line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a snippet that writes files writes them here
    exec(compile("\n" * (line - 1) + code, str(path), "exec"), {"__name__": "__snippet__"})


def test_the_readme_has_snippets():
    assert any(p.values[0].name == "README.md" for p in snippets())
