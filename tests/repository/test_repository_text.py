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


# Wording that tells the story of how the software came to be instead of describing the version at
# hand: "X used to do Y", "the final code", "Run C", "before the threshold was fixed", "goal: met",
# "no longer", "now", "previously". Each pattern is narrow enough that the plain present-tense uses of
# its words ("the value used to scale", "met mid-epoch", "before the next one starts") pass.
HISTORY = re.compile(
    r"\bused to (?:be|do|read|take|run|have|write|give|compute|print|call|fail|pass)\b"
    r"|\b(?:the|its) (?:final|old|earlier|later|former|new) (?:code|version|kernel|run)s?\b"
    r"|\bthe former `"
    r"|\b(?-i:Run [A-Z])\b"
    r"|\b(?:was|were|has been|have been) (?:fixed|taken out|changed|removed|added|introduced|rewritten|replaced|"
    r"restored|moved|dropped)\b"
    r"|\b(?:was|were) before\b"
    r"|:\s*(?:met|not met)\b|\bmet \("
    r"|\bthis shared machine\b"
    r"|\bnow\b|\bpreviously\b|\bno longer\b|\bany more\b|\banymore\b|\bfirst version\b|\buntil recently\b"
    r"|\bat first\b|\bin the end\b|\bafter the (?:change|fix|rewrite)\b|\ba later run\b",
    re.IGNORECASE,
)


def user_docs() -> list[Path]:
    """The user's guide: README.md and docs/*.md (docs/development.md included: CI times are a fact
    about a version too)."""
    return [p for p in tracked_text_files() if p.suffix == ".md" and (p.parent == REPO or p.parent == REPO / "docs")]


def history_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each line of `text` that speaks of the software's past, prose only: code
    blocks are left alone."""
    found, in_code = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if not in_code and HISTORY.search(line):
            found.append((number, line.strip()))
    return found


def test_documentation_describes_the_current_version_not_its_history():
    found = [
        f"{path.relative_to(REPO)}:{number}: {line}"
        for path in user_docs()
        for number, line in history_lines(path.read_text(errors="replace"))
    ]
    assert not found, "history instead of facts about the current version:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "`atomic_max` used to read the word first with a plain load.",
        "**Run C, the final code, 1080p, 16 frames**",
        "Before the window count was taken out of XLA's reach, compiling took seconds.",
        "4K within 8 GB: met (7.20 GiB).",
        "far above the 12 GB this shared machine allows one job",
        "the kernel is now a relaxed load",
        "previously the tiles were larger",
        "the bug was fixed in the splat",
        "the copy no longer runs from cache",
        "in the first version the flow was computed at full size",
        "`classic-full` is the former `classic` at full resolution",
        "patches every 2 pixels (what `classic` was before the presets)",
    ],
)
def test_history_wording_is_caught(line):
    assert history_lines(line), line


@pytest.mark.parametrize(
    "line",
    [
        "the value used to scale the metric",
        "A corrupt image or a triplet of mixed frame sizes met mid-epoch is reported",
        "so a step's temporaries are freed before the next one starts.",
        "glibc's mmap threshold fixed at 4 MB above 2560x1440",
        "Plain `soft` subtracts nothing before the exponential",
        "the output is cleared with `cudaMemsetAsync` on that stream",
        "the known-good state of the weights",
        "each test can run a subprocess; a run A to B of frames",
    ],
)
def test_present_tense_uses_of_those_words_pass(line):
    assert not history_lines(line), line


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
