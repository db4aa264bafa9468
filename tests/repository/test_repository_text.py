"""The repository's text is a user's guide and reference: it speaks of the software, not of the work
process that made it."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
TEXT_SUFFIXES = {".py", ".md", ".cc", ".h", ".cu", ".toml", ".txt", ".cfg", ".yaml", ".yml", ".cmake", ".sh"}
TEXT_NAMES = {"Makefile", "CMakeLists.txt", "run", ".gitignore", ".clang-format"}
WORK_WORDS = re.compile(r"\b(sessions?|issues?|goals?|tickets?)\b", re.IGNORECASE)
# Code that uses one of those words for something else: pytest's fixture scope, TensorBoard's records.
ALLOWED = re.compile(r'scope="session"|session_log')


def tracked_text_files() -> list[Path]:
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.fail(f"{REPO} is not a git checkout; this test reads the tracked files")
    paths = [REPO / name for name in names]
    return [p for p in paths if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES)]


def test_no_work_process_vocabulary_in_tracked_text():
    this = Path(__file__).resolve()
    found = []
    for path in tracked_text_files():
        if path.resolve() == this:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if WORK_WORDS.search(ALLOWED.sub("", line)):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "work-process vocabulary in the repository's text:\n" + "\n".join(found)
