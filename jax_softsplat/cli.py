"""The `jax-softsplat` command line: one subcommand per module of `jax_softsplat.commands`.

Only the module of the subcommand being run is imported, and each imports JAX and the optional extras
when it runs rather than while its options are parsed: a mistake on the command line is answered at once.

Exit status: 0 done; 2 bad input (an option, a file, a folder), a missing optional extra, or a build
that cannot be imported; 1 a run that failed for a reason outside the program (`errors.RunFailed`: the
output could not be written, the input broke partway; one line, no traceback) or an unexpected error (a
bug: the traceback is printed); 130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM). A stopped run
unwinds: its temporary files are removed and a file it was to replace is left as it was.
"""

import argparse
import signal
import sys
import threading
import time
from importlib import import_module

from jax_softsplat.errors import RunFailed

# (name, module, one-line summary), in the order `jax-softsplat --help` lists them.
COMMANDS = (
    ("interpolate", "jax_softsplat.commands.interpolate", "the frame at time t between two images"),
    (
        "video",
        "jax_softsplat.commands.video",
        "a video with N times as many frames or at another rate (streamed, audio kept, scene cuts respected)",
    ),
    (
        "demo",
        "jax_softsplat.commands.demo",
        "interpolate the sample pair; write the middle frame and a strip (one | middle | two)",
    ),
    (
        "figure",
        "jax_softsplat.commands.figure",
        "the paper's warping figure: one frame splatted in the four modes for t = 0, 0.1, ..., 1",
    ),
    ("quality", "jax_softsplat.commands.quality", "PSNR/SSIM of an interpolator on Middlebury or Xiph, as a table"),
    ("speed", "jax_softsplat.commands.speed", "timings side by side, as a table (target: operator)"),
    (
        "convert",
        "jax_softsplat.commands.convert",
        "convert the authors' PyTorch weights (network-l1.pytorch, network-lf.pytorch) to ours",
    ),
    (
        "train",
        "jax_softsplat.commands.train",
        "train the interpolation network (synthetic scenes, Vimeo-90k or your videos); resumable",
    ),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand's options, or only `command`'s (the others then list their name
    and summary only, and their modules are not imported)."""
    from jax_softsplat.commands.options import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="jax-softsplat",
        formatter_class=HelpFormatter,
        description="Softmax splatting for JAX: frame interpolation, figures, quality and speed tables, tools.",
        epilog="Exit status: 0 done; 1 the output could not be written or the input broke partway (one line), "
        "or an unexpected error (a traceback); 2 bad input or a missing optional extra; 130 interrupted "
        "(SIGINT); 143 terminated (SIGTERM). `jax-softsplat COMMAND --help` describes each command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name, summary in COMMANDS:
        module = import_module(module_name) if command in (None, name) else None
        description = getattr(module, "DESCRIPTION", summary)
        sub = commands.add_parser(name, help=summary, description=description, formatter_class=HelpFormatter)
        if module is not None:
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def _error(message: str, status: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


# The signals that stop a run and the word the one line printed uses; the exit status is 128 + the
# signal's number, what a shell reports for a process the signal killed.
STOP_SIGNALS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by SIGINT or SIGTERM: a KeyboardInterrupt, so that code which stops
    cleanly on Ctrl-C does the same on SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# Modules whose code takes and gives back locks (queues, joins, futures, `with` blocks): an exception
# raised at the wrong instruction there can release a lock that another thread holds, or leave a waiter
# that is never woken, and the pipeline's cleanup then waits forever (the encoding thread asleep on a
# queue that holds the frame meant to stop it). A stop is raised there only where the main thread
# is blocked, waiting for a lock: the same instruction twice in a row. Blocked is where those modules
# expect an exception (a Ctrl-C while waiting).
_LOCKING_MODULES = frozenset(
    {"threading", "queue", "concurrent.futures._base", "concurrent.futures.thread", "contextlib"}
)
# The longest a stop is put off in them, should that test never pass.
_DEFER_SECONDS = 2.0
# How often the signal is sent again while a stop is owed.
_AGAIN_SECONDS = 0.02


class _StopSignals:
    """While installed, the first SIGINT or SIGTERM raises `Stopped` in the main thread, so the run
    unwinds through every `finally` and context manager (a temporary output file is removed, the file it
    would have replaced stays as it was) instead of dying where it stands. Later ones are ignored: a
    second Ctrl-C from an impatient user must not cut that cleanup short and leave the temporary file.

    Python runs a handler wherever the main thread is. Inside the standard library's locking code the
    exception could break a lock (`_LOCKING_MODULES`), so it is put off; in a weakref callback or a
    __del__ it would be printed as "Exception ignored" and dropped, the run going on to the end with
    every later signal ignored, so the unraisable hook takes it back. Either way the stop is owed, and a
    thread sends the signal again until `Stopped` is raised where it unwinds the run.

    SIGXFSZ is ignored too, so that a write past the file size limit (ulimit -f) fails with EFBIG, an
    error the writer reports and cleans up after, rather than killing the process with a core dump and
    the temporary file left behind. CPython ignores it at start-up, but not when embedded without its
    signal handlers, and a library may have set it back."""

    def __init__(self):
        self.received: int | None = None  # the signal that stopped the run
        # Cleared once the run has returned or raised: a signal after that changes nothing (the run has
        # ended, its status stands) and cannot raise out of main's own exception handling or out of the
        # restoring of the handlers.
        self.armed = False
        self._owed = False  # Stopped is still to be raised: the next signal taken in a safe place raises it
        self._deadline = 0.0  # until when a stop is put off while the main thread is in locking code
        self._place: tuple[int, int] | None = None  # where in locking code the last signal found it
        self._in_hook = False
        self._again: threading.Thread | None = None
        self._previous: dict[int, object] = {}
        self._previous_hook = None

    def install(self) -> None:
        # signal.signal works in the main thread only; elsewhere the embedding program keeps its own.
        if threading.current_thread() is not threading.main_thread():
            return
        self.armed = True  # before the handlers: a signal that comes while they are installed stops the run
        self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        for signum in STOP_SIGNALS:
            # A signal ignored at start-up (a shell starts a script's background jobs with SIGINT ignored,
            # so that Ctrl-C stops the script's foreground command only) stays ignored, as Python leaves it.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._previous[signum] = signal.signal(signum, self._stop)
        if hasattr(signal, "SIGXFSZ"):
            self._previous[signal.SIGXFSZ] = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def _owe(self) -> None:
        self._owed, self._deadline, self._place = True, time.monotonic() + _DEFER_SECONDS, None

    def _send_later(self) -> None:
        if self._again is None:
            self._again = threading.Thread(target=self._send_again, daemon=True)
            self._again.start()

    def _stop(self, signum: int, frame) -> None:
        if self.received is None:
            self.received = signum
            self._owe()
        if not (self._owed and self.armed) or self._in_hook:
            return  # one already on its way when the first was taken, or one to send again
        if frame is not None and frame.f_globals.get("__name__") in _LOCKING_MODULES:
            place = (id(frame), frame.f_lasti)
            blocked, self._place = place == self._place, place
            if not blocked and time.monotonic() < self._deadline:
                self._send_later()
                return
        self._owed = False
        # Ignored rather than handled from here: no later signal interrupts a system call of the cleanup
        # (Python installs its handlers without SA_RESTART).
        for other in STOP_SIGNALS:
            if other in self._previous:
                signal.signal(other, signal.SIG_IGN)
        raise Stopped(self.received)

    def _unraisable(self, unraisable) -> None:
        if not (isinstance(unraisable.exc_value, Stopped) and self.armed):
            self._previous_hook(unraisable)
            return
        self._in_hook = True  # a Stopped raised in here would be dropped without a word
        signal.signal(self.received, self._stop)
        self._owe()
        self._send_later()
        self._in_hook = False  # the last statement: no signal is taken before the hook has returned

    def _send_again(self) -> None:
        main = threading.main_thread().ident
        while self.armed:
            if self._owed:
                signal.pthread_kill(main, self.received)
            time.sleep(_AGAIN_SECONDS)

    def restore(self) -> None:
        self.armed = False
        if self._again is not None:
            self._again.join()  # its last signal is taken by `_stop`, not by the handler put back
        for signum, previous in self._previous.items():
            # None: the handler was set outside Python and cannot be put back; the default is the nearest.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()
        if self._previous_hook is not None:
            sys.unraisablehook, self._previous_hook = self._previous_hook, None


def main(argv: list[str] | None = None) -> int:
    stops = _StopSignals()
    stopped_by = None
    try:
        try:
            stops.install()
            status = _run(argv)
        finally:
            stops.armed = False
    except KeyboardInterrupt:  # Stopped, or Python's own Ctrl-C where the handlers could not be installed
        stopped_by = stops.received or signal.SIGINT
    except BaseException:
        if stops.received is None:
            raise
        stopped_by = stops.received  # whatever the unwinding turned Stopped into, the signal stopped the run
    finally:
        stops.restore()
    if stopped_by is not None:
        print(f"jax-softsplat: {STOP_SIGNALS[stopped_by]} ({signal.Signals(stopped_by).name})", file=sys.stderr)
        return 128 + stopped_by
    return status


def _run(argv: list[str] | None) -> int:
    from jax_softsplat.checkout import missing_build_message
    from jax_softsplat.extras import missing_extra

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        # argparse itself answers a bad command line (status 2) before anything heavy is imported.
        args = build_parser(argv[0] if argv else None).parse_args(argv)
        args.run(args)
    except RunFailed as error:
        # The message is complete (it names the option and what was left behind); a library's text quoted
        # in it may span lines, and whoever reads stderr expects one.
        return _error(" ".join(line.strip() for line in str(error).splitlines() if line.strip()), 1)
    except ImportError as error:
        message = missing_extra(error)
        if message is None and (getattr(error, "name", None) or "").startswith("jax_softsplat"):
            message = missing_build_message()
        if message is None:
            raise
        return _error(message)
    except (OSError, ValueError) as error:  # bad input: the message names the option, no traceback
        return _error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
