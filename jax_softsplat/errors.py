"""Failures that are neither a bad argument nor a bug, for the command line to report in one line."""


class RunFailed(RuntimeError):
    """Work that started and could not finish for a reason outside the program: the output could not
    be written (a full disk, a file size limit) or the input broke partway. The command line prints the
    message and exits with status 1, without a traceback; whatever was being written has been removed."""


class OutputWriteError(RunFailed):
    """Writing the output failed; the message names the file and the system's reason."""


class InputBroken(RunFailed):
    """The input stopped decoding partway (corrupt or truncated); the message says how far it got."""
