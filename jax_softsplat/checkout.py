"""Where this package was imported from: an installed build, or a source checkout that lacks the
compiled module (which happens when the repository folder is first on sys.path and shadows the build)."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def has_compiled_module(package: Path = PACKAGE) -> bool:
    return any(package.glob("_cpu.*")) or (package / "_cpu").is_dir()


def source_checkout() -> Path | None:
    """The repository this package belongs to: the source folder itself, or the checkout holding the
    virtual environment it is installed in (e.g. <repo>/.venv/new/lib/.../jax_softsplat); None when
    installed elsewhere."""
    for folder in PACKAGE.parents:
        if (folder / "pyproject.toml").is_file() and (folder / "jax_softsplat" / "cli.py").is_file():
            return folder
    return None


def missing_build_message(package: Path = PACKAGE) -> str | None:
    """Why the compiled module cannot be imported, and what to do; None when it is there (an import
    error then has another cause, which should surface as it is)."""
    if has_compiled_module(package):
        return None
    if (package.parent / "pyproject.toml").is_file():
        return (
            f"jax_softsplat was imported from the source folder {package}, which shadows the installed build "
            "(Python puts the current folder first on sys.path for `python -m` and `python -c`) and has no "
            "compiled module (_cpu) nor the models/train subpackages. Run from another folder, or use the "
            "installed command `jax-softsplat`; install it first if needed: "
            "pip install --no-build-isolation ."
        )
    return (
        f"the compiled module jax_softsplat._cpu is missing from {package}: the installation is incomplete; "
        "reinstall it: pip install --no-build-isolation --force-reinstall jax_softsplat"
    )
