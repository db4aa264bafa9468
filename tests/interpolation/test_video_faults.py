"""`jax-softsplat video` when a run cannot finish: stopped by SIGINT or SIGTERM, an output that cannot be
written, an input that breaks partway; and how the command line maps each to its exit status.

The runs are the real command line in a child process (signals, file size limits and exit statuses are
what is tested), each bounded by a timeout so that a hang fails the test instead of blocking the suite.
A child runs with `-X faulthandler`: a hung one is stopped with SIGABRT, which prints every thread's
stack into the failure."""

import queue
import re
import signal
import subprocess
import sys
import threading
import time
import types
import weakref
from pathlib import Path

import av
import numpy as np
import pytest
from media import moving_texture, read_clip, write_clip

from jax_softsplat import cli
from jax_softsplat.errors import InputBroken, OutputWriteError

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals, rlimits and /proc as Linux has them")

# Seconds a child may take after it was signalled (unwinding takes well under one), and for a whole
# run of the small clips here (start-up included).
UNWIND_TIMEOUT = 20
RUN_TIMEOUT = 120
# A user's file at --out, which no failed or stopped run may touch.
USERS_FILE = b"the user's own video, not to be replaced by an incomplete one\n" * 100


@pytest.fixture(autouse=True)
def no_network_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("JAX_SOFTSPLAT_HOME", str(tmp_path / "cache"))


_children: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_child_left_running():
    """A test that fails while its child still runs does not leave it running."""
    yield
    while _children:
        child = _children.pop()
        if child.poll() is None:
            child.kill()
            child.communicate()


def _panning(height: int, width: int, count: int, seed: int) -> list[np.ndarray]:
    """`count` frames of a texture panning 2 pixels a frame: windows onto one wide frame, far quicker to
    make than the texture moved frame by frame."""
    wide = moving_texture(height, width + 2 * count, [0.0], seed=seed)[0]
    return [wide[:, 2 * k : 2 * k + width] for k in range(count)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """400 and 40 small frames, whose output is larger or smaller than one of FFmpeg's 32 KiB write
    buffers: a `classic` run of the long one lasts long enough to be stopped after its first write; a
    size limit fails a write midway or only when the file is closed."""
    folder = tmp_path_factory.mktemp("clips")
    for name, count in (("long", 400), ("short", 40)):
        write_clip(folder / f"{name}.mp4", _panning(48, 64, count, seed=1))
    return folder


# The child starts with SIGINT and SIGTERM as an interactive shell leaves them, whatever this process
# ignores (a shell starts a script's background jobs with SIGINT ignored, and a child would inherit
# that); set in the child's own Python rather than in a preexec_fn, which would run Python code between
# fork and exec in this multithreaded process.
_CHILD = (
    "import signal, sys; from jax_softsplat import cli; "
    "[signal.signal(s, signal.SIG_DFL) for s in cli.STOP_SIGNALS]; sys.exit(cli.main())"
)


def _start(folder: Path, *args, file_size_limit: int | None = None) -> subprocess.Popen:
    """`jax-softsplat video --quiet ARGS` in a child with this process's environment, under a file size
    limit (util-linux's prlimit) if given. It runs in `folder` (the output's), where no source tree
    shadows the installed package."""
    command = [sys.executable, "-X", "faulthandler", "-c", _CHILD, "video", "--quiet", *map(str, args)]
    if file_size_limit is not None:
        command = ["prlimit", f"--fsize={file_size_limit}", *command]
    child = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _children.append(child)
    return child


def _finish(process: subprocess.Popen, timeout: float) -> tuple[int, str]:
    """(exit status, stderr), or a failure with every thread's stack if the child does not end in time."""
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    else:
        return process.returncode, err
    _abort(process, f"the run did not end within {timeout} s")


def _abort(process: subprocess.Popen, why: str):
    process.send_signal(signal.SIGABRT)
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    pytest.fail(f"{why}; its threads:\n{err}", pytrace=False)


def _run(folder: Path, *args, file_size_limit: int | None = None) -> tuple[int, str]:
    return _finish(_start(folder, *args, file_size_limit=file_size_limit), RUN_TIMEOUT)


def _temporaries(out: Path) -> list[Path]:
    return list(out.parent.glob(f".{out.name}.*"))


def _wait(process: subprocess.Popen, condition, what: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended (status {process.returncode}) before {what}:\n{process.communicate()[1]}")
        if time.monotonic() > deadline:
            _abort(process, f"still running after {RUN_TIMEOUT} s, and not yet {what}")
        time.sleep(0.005)


def _has_grown(out: Path) -> bool:
    """Whether the hidden temporary file beside `out` has data in it: the encoder is writing."""
    for path in _temporaries(out):
        try:
            if path.stat().st_size > 0:
                return True
        except FileNotFoundError:
            pass
    return False


def _catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler of its own for `signum` (the kernel's mask of caught signals)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.MULTILINE).group(1), 16)
    return bool(caught >> (signum - 1) & 1)


def _assert_stopped(status: int, err: str, signum: int, out: Path, users_file: bytes | None) -> None:
    """The exit status and one line of a run stopped by `signum`, nothing left behind, --out untouched."""
    assert status == 128 + signum, err
    assert "Traceback" not in err, err
    said = [line for line in err.splitlines() if line.startswith("jax-softsplat:")]
    assert said == [f"jax-softsplat: {cli.STOP_SIGNALS[signum]} ({signal.Signals(signum).name})"], err
    assert not _temporaries(out)
    if users_file is None:
        assert not out.exists()
    else:
        assert out.read_bytes() == users_file


# ------------------------------------------------------------------------------------------------
# SIGINT and SIGTERM: the run unwinds, the temporary file goes, a user's file at --out stays as it was.

STOPS = [signal.SIGINT, signal.SIGTERM]


@pytest.mark.parametrize("users_file", [None, USERS_FILE], ids=["no-file", "users-file"])
@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_encoding(clips, tmp_path, signum, users_file):
    out = tmp_path / "out.mp4"
    if users_file is not None:
        out.write_bytes(users_file)
    process = _start(tmp_path, "--in", clips / "long.mp4", "--out", out, "--model", "classic")
    _wait(process, lambda: _has_grown(out), "the temporary output had grown")
    process.send_signal(signum)
    status, err = _finish(process, UNWIND_TIMEOUT)
    _assert_stopped(status, err, signum, out, users_file)


@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_start_up(clips, tmp_path, signum):
    """Sent as soon as the command line has its handlers, while the modules and the model still load."""
    out = tmp_path / "out.mp4"
    out.write_bytes(USERS_FILE)
    process = _start(tmp_path, "--in", clips / "long.mp4", "--out", out, "--model", "classic")
    _wait(process, lambda: _catches(process.pid, signal.SIGTERM), "its signal handlers were installed")
    assert not _temporaries(out)
    process.send_signal(signum)
    status, err = _finish(process, UNWIND_TIMEOUT)
    _assert_stopped(status, err, signum, out, USERS_FILE)


def test_a_signal_once_the_whole_input_is_queued(tmp_path):
    """Seven larger frames: all are decoded, and wait in the queues, long before the first pair is
    interpolated. Stopping then must not wait forever for the decoding thread, which has nothing left to
    do but say that it is done."""
    clip = tmp_path / "seven.mp4"
    write_clip(clip, _panning(360, 480, 7, seed=2))
    out = tmp_path / "out.mp4"
    process = _start(tmp_path, "--in", clip, "--out", out, "--model", "classic")
    _wait(process, lambda: bool(_temporaries(out)), "the temporary output was created")
    time.sleep(0.2)  # the first pair takes about a second at this size, its compilation aside
    if process.poll() == 0:
        pytest.skip("the run finished before it could be stopped (a machine this fast needs a larger clip)")
    process.send_signal(signal.SIGTERM)
    status, err = _finish(process, UNWIND_TIMEOUT)
    _assert_stopped(status, err, signal.SIGTERM, out, None)


# ------------------------------------------------------------------------------------------------
# A write that fails (here past a file size limit, as a full disk would): status 1, one line naming
# --out, the temporary file removed, the user's file kept.


@pytest.mark.parametrize(
    "clip, limit",
    # 400 frames write about 100 KiB, so the limit stops the first buffer's write, midway; 40 frames
    # write about 11 KiB, all in one buffer when the file is closed.
    [("long", 20_000), ("short", 4_000)],
    ids=["midway", "on-closing"],
)
@pytest.mark.parametrize("users_file", [None, USERS_FILE], ids=["no-file", "users-file"])
def test_a_write_past_the_file_size_limit(clips, tmp_path, clip, limit, users_file):
    out = tmp_path / "out.mp4"
    if users_file is not None:
        out.write_bytes(users_file)
    args = ("--in", clips / f"{clip}.mp4", "--out", out, "--model", "average")
    status, err = _run(tmp_path, *args, file_size_limit=limit)
    assert status == 1, err
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith(f"error: --out {out}"), err
    assert "too large" in err.lower(), err  # the system's reason (EFBIG)
    assert not _temporaries(out)
    if users_file is None:
        assert not out.exists()
    else:
        assert out.read_bytes() == users_file


# ------------------------------------------------------------------------------------------------
# An input that breaks partway: status 1 naming --in and how far decoding got, nothing written; with
# --partial, what was decoded, and a warning saying so. Never a shorter video without that warning.

BROKEN_FRAMES = 50


def _remux(source: Path, target: Path, options: dict) -> None:
    with av.open(str(source)) as reader, av.open(str(target), "w", container_options=options) as writer:
        stream = writer.add_stream_from_template(reader.streams.video[0])
        for packet in reader.demux(video=0):
            if packet.dts is not None:  # None: the demuxer's empty packet at the end
                packet.stream = stream
                writer.mux(packet)


def _broken_clip(folder: Path, kind: str) -> Path:
    """A clip of BROKEN_FRAMES frames (about 20 KiB), broken as `kind` says."""
    container, damage = kind.split("-")
    whole = folder / f"whole.{container}"
    frames = moving_texture(48, 64, np.arange(BROKEN_FRAMES) * 0.3, seed=3)
    if container == "mp4":
        # Written again with its index (which lists every frame) before the frames' data: a player of a
        # cut download still knows what should follow.
        write_clip(folder / "plain.mp4", frames)
        _remux(folder / "plain.mp4", whole, {"movflags": "+faststart"})
    else:
        write_clip(whole, frames)  # its header states the whole duration
    data = bytearray(whole.read_bytes())
    if damage == "truncated":  # cut at 60 %
        del data[len(data) * 6 // 10 :]
    else:  # 2 KiB of garbage over the middle of the frames' data; the file keeps its length
        middle = len(data) // 2
        data[middle : middle + 2048] = np.random.default_rng(0).integers(0, 256, 2048, np.uint8).tobytes()
    clip = folder / f"{damage}.{container}"
    clip.write_bytes(bytes(data))
    return clip


BROKEN = ["mkv-truncated", "mp4-truncated", "mkv-garbage", "mp4-garbage"]


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_input_stops_the_run(tmp_path, kind):
    clip = _broken_clip(tmp_path, kind)
    out = tmp_path / "out.mp4"
    status, err = _run(tmp_path, "--in", clip, "--out", out, "--model", "average")
    assert status == 1, err
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith(f"error: --in {clip}"), err
    decoded = [int(n) for n in re.findall(r"(\d+) frames", err)]
    assert decoded and all(n < BROKEN_FRAMES for n in decoded), err
    assert "nothing was written" in err, err
    assert not out.exists() and not _temporaries(out)


def _output_count(frames: int) -> int:
    return 2 * frames - 1  # factor 2: every input frame, and one between each two


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_input_with_partial(tmp_path, kind):
    clip = _broken_clip(tmp_path, kind)
    out = tmp_path / "out.mp4"
    status, err = _run(tmp_path, "--in", clip, "--out", out, "--model", "average", "--partial")
    assert status == 0, err
    assert "Traceback" not in err, err
    written = len(read_clip(out)[0])
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    # Never a silently short video: fewer frames than the whole clip gives come with the warning.
    assert written == _output_count(BROKEN_FRAMES) or warnings, err
    assert len(warnings) == 1 and f"--in {clip}" in warnings[0], err
    # The warning says how many frames were decoded, and the output holds what those give.
    counts = [int(n) for n in re.findall(r"(\d+) frames", warnings[0])]
    assert any(n < BROKEN_FRAMES and _output_count(n) == written for n in counts), (written, err)
    assert not _temporaries(out)


# ------------------------------------------------------------------------------------------------
# cli.main in-process: the exit status of each way a run ends, and the handlers put back afterwards.

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ)


@pytest.fixture
def shell_signals():
    """SIGINT and SIGTERM as an interactive shell leaves them, for the test: CI may run the tests as a
    background job, SIGINT ignored, and the command line leaves an ignored signal ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {signum: signal.getsignal(signum) for signum in STOPS}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def fake_command(monkeypatch, shell_signals):
    """A command `fake` whose run calls the function the test sets as `fake_command.body`."""
    module = types.ModuleType("fake_command_for_cli_tests")
    module.add_arguments = lambda parser: None
    module.body = lambda: None
    module.run = lambda args: module.body()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, ("fake", module.__name__, "a test's command")))
    return module


def _handlers() -> dict:
    return {signum: signal.getsignal(signum) for signum in HANDLED}


@pytest.mark.parametrize(
    "error, line",
    [
        (
            OutputWriteError("--out x.mp4: writing failed (No space left on device)"),
            "error: --out x.mp4: writing failed (No space left on device)",
        ),
        (  # a library's text over two lines still makes one
            InputBroken("--in x.mp4: decoded 12 frames (0.48 s of 2.00 s), then decoding failed\n  (Invalid data)\n"),
            "error: --in x.mp4: decoded 12 frames (0.48 s of 2.00 s), then decoding failed (Invalid data)",
        ),
    ],
    ids=["write", "input"],
)
def test_a_failed_run_is_one_line_and_status_1(fake_command, capsys, error, line):
    before = _handlers()

    def body():
        raise error

    fake_command.body = body
    assert cli.main(["fake"]) == 1
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and captured.out == ""
    assert _handlers() == before


def test_handlers_while_running_and_restored_after(fake_command, capsys):
    before = _handlers()
    seen = {}
    fake_command.body = lambda: seen.update(_handlers())
    assert cli.main(["fake"]) == 0
    if threading.current_thread() is threading.main_thread():
        assert all(callable(seen[s]) and seen[s] is not before[s] for s in (signal.SIGINT, signal.SIGTERM))
        assert seen[signal.SIGXFSZ] is signal.SIG_IGN
    assert _handlers() == before
    # argparse's own exit, and an unexpected error with its traceback, put them back too.
    with pytest.raises(SystemExit):
        cli.main(["fake", "--no-such-option"])
    assert _handlers() == before

    def bug():
        raise ZeroDivisionError("a bug")

    fake_command.body = bug
    with pytest.raises(ZeroDivisionError):
        cli.main(["fake"])
    assert _handlers() == before


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signal handlers are the main thread's"
)
@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_unwinds_and_a_second_does_not_cut_the_cleanup(fake_command, capsys, signum):
    before = _handlers()
    steps = []

    def body():
        # Never sent unless main's handler takes it: pytest's own would end the test run, the default the process.
        assert signal.getsignal(signum) is not before[signum]
        try:
            signal.raise_signal(signum)
            steps.append("not stopped")
        finally:
            steps.append("cleanup started")
            for again in STOPS:  # an impatient user presses Ctrl-C again, then the system sends SIGTERM
                signal.raise_signal(again)
            steps.append("cleanup finished")

    fake_command.body = body
    assert cli.main(["fake"]) == 128 + signum
    assert steps == ["cleanup started", "cleanup finished"]
    assert capsys.readouterr().err == f"jax-softsplat: {cli.STOP_SIGNALS[signum]} ({signal.Signals(signum).name})\n"
    assert _handlers() == before


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signal handlers are the main thread's"
)
@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_stops_a_wait_on_a_queue_that_never_moves(fake_command, capsys, signum):
    """The stop is put off while the main thread is in the standard library's locking code, but not
    for one blocked there for good."""
    before = _handlers()

    def body():
        assert signal.getsignal(signum) is not before[signum]
        main = threading.main_thread().ident
        threading.Timer(0.05, signal.pthread_kill, (main, signum)).start()
        started = time.monotonic()
        try:
            queue.Queue().get(timeout=UNWIND_TIMEOUT)
        finally:
            waited.append(time.monotonic() - started)

    waited = []
    fake_command.body = body
    assert cli.main(["fake"]) == 128 + signum
    assert waited[0] < 1.0  # stopped as soon as it was seen to stay put, not at the last resort
    assert capsys.readouterr().err == f"jax-softsplat: {cli.STOP_SIGNALS[signum]} ({signal.Signals(signum).name})\n"
    assert _handlers() == before


class Referent:
    """What a weak reference can point to."""


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signal handlers are the main thread's"
)
@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_taken_inside_a_weakref_callback_still_stops_the_run(fake_command, capsys, signum):
    """Python drops an exception raised in a weakref callback (as in a __del__): the signal taken there
    must still stop the run, without the dropped exception's report."""
    before = _handlers()
    steps = []

    def body():
        assert signal.getsignal(signum) is not before[signum]
        thing = Referent()
        reference = weakref.ref(thing, lambda _: signal.raise_signal(signum))
        del thing  # the callback runs, and the handler with it
        steps.append("went on")
        deadline = time.monotonic() + UNWIND_TIMEOUT
        while time.monotonic() < deadline:
            time.sleep(0.01)
        steps.append("not stopped")
        return reference

    fake_command.body = body
    assert cli.main(["fake"]) == 128 + signum
    assert steps == ["went on"]
    assert capsys.readouterr().err == f"jax-softsplat: {cli.STOP_SIGNALS[signum]} ({signal.Signals(signum).name})\n"
    assert _handlers() == before


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signal handlers are the main thread's"
)
def test_an_ignored_sigint_stays_ignored(fake_command):
    seen = {}
    fake_command.body = lambda: seen.update(_handlers())
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert cli.main(["fake"]) == 0
        assert seen[signal.SIGINT] is signal.SIG_IGN and callable(seen[signal.SIGTERM])
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_main_in_another_thread_leaves_the_handlers_alone(fake_command, capsys):
    before = _handlers()
    seen, status = {}, []

    def body():
        seen.update(_handlers())
        raise OutputWriteError("--out x.mp4: writing failed (File too large)")

    fake_command.body = body
    thread = threading.Thread(target=lambda: status.append(cli.main(["fake"])))
    thread.start()
    thread.join(RUN_TIMEOUT)
    assert status == [1] and seen == before and _handlers() == before
    assert capsys.readouterr().err == "error: --out x.mp4: writing failed (File too large)\n"
