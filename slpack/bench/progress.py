"""Progress of a long run: a spinner on a terminal, one plain line per step anywhere else.

rich's ``status`` spinner draws nothing when stderr is not a terminal (a CI log, a pipe, a
script's shell), which left a benchmark of minutes silent there. Off a terminal each step is
printed as a line with the seconds elapsed, so a log also says where the time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def progress(console: Console, label: str) -> Iterator[Callable[[str], None]]:
    """``with progress(err, "benchmarking") as step: step("cold starts")``."""
    if console.is_terminal:
        with console.status(label) as status:
            yield lambda step: status.update(step)
        return
    started = time.monotonic()

    def line(step: str) -> None:
        console.print(
            f"[{time.monotonic() - started:6.1f} s] {step}", markup=False, highlight=False
        )

    line(label)
    yield line
