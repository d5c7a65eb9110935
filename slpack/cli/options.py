"""Options that several commands take with one meaning (render and deploy size the same function).

Each is an ``Annotated`` type, so a command declares ``python: options.Python = None`` and the help
text lives here once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from slpack_handler.contract import DEFAULT_PYTHON

Python = Annotated[
    str | None,
    typer.Option(
        help=f"Python runtime, e.g. {DEFAULT_PYTHON} (default: the layer's, else {DEFAULT_PYTHON})."
    ),
]
Arch = Annotated[
    str | None,
    typer.Option(
        help="x86_64 or arm64 (default: the layer's; arm64 for a bundle that needs no layer, "
        "else x86_64)."
    ),
]
Memory = Annotated[int, typer.Option(help="Memory in MB (CPU scales with it).")]
Timeout = Annotated[int, typer.Option(help="Function timeout in seconds.")]
