"""The ``slpack`` command line.

Each command lives in its own module and registers itself here; this module only owns the
application object and the error boundary: a :class:`~slpack.errors.SlpackError` becomes one
sentence on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from slpack.errors import SlpackError

app = typer.Typer(
    name="slpack",
    help="Put a scikit-learn pipeline behind a serverless function.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from slpack import __version__

        print(f"slpack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print slpack's version and exit.",
        ),
    ] = False,
) -> None:
    """Put a scikit-learn pipeline behind a serverless function."""


# Command modules register themselves on ``app`` when imported; keep this list sorted.
from slpack.cli import bench as _bench  # noqa: E402,F401
from slpack.cli import build as _build  # noqa: E402,F401
from slpack.cli import deploy as _deploy  # noqa: E402,F401
from slpack.cli import drift as _drift  # noqa: E402,F401
from slpack.cli import layer as _layer  # noqa: E402,F401
from slpack.cli import render as _render  # noqa: E402,F401
from slpack.cli import serve as _serve  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app and turn user errors into one clear line."""
    try:
        result = app(
            args=argv, standalone_mode=False
        )  # a typer.Exit inside a command returns its code
        if isinstance(result, int):
            return result
    except SlpackError as exc:
        message = str(exc).strip() or exc.__class__.__name__
        print(f"error: {message}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("error: aborted.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # usage errors: click's message and exit code (2)
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(exc, "exit_code", 2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
