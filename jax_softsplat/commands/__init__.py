"""The `jax-softsplat` subcommands, one module each: `add_arguments(parser)` declares the options and
`run(args)` does the work. Bad input raises ValueError/OSError with a message naming the option; the
entry point (`jax_softsplat.cli`) prints it without a traceback and exits with status 2."""
