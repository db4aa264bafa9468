"""The `jax-softsplat` command line: one subcommand per module of `jax_softsplat.commands`.

Only the module of the subcommand being run is imported, and each imports JAX and the optional extras
when it runs rather than while its options are parsed: a mistake on the command line is answered at once.

Exit status: 0 done; 2 bad input (an option, a file, a folder), a missing optional extra, or a build
that cannot be imported; 1 a run that failed for a reason outside the program (`errors.RunFailed`: the
output could not be written, the input broke partway; one line, no traceback) or an unexpected error (a
bug: the traceback is printed); 130 interrupted.
"""

import argparse
import sys
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
        "or an unexpected error (a traceback); 2 bad input or a missing optional extra; 130 interrupted. "
        "`jax-softsplat COMMAND --help` describes each command.",
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


def main(argv: list[str] | None = None) -> int:
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
    except KeyboardInterrupt:
        print("jax-softsplat: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
