"""``slpack drift BUNDLE --logs FILE | --data FILE``: how far traffic moved from the baseline.

The table (or ``--json``) goes to stdout; with ``--fail-above X`` the command exits 3 when any
feature's or the predictions' index is above X (a gate, like the parity gate's 3), so a pipeline
can stop a batch or a retrain on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from slpack.cli import app
from slpack.errors import SlpackError

if TYPE_CHECKING:
    from slpack.drift.sketches import Layout, Tally

GATE_EXIT = 3


@app.command()
def drift(
    bundle: Annotated[
        Path,
        typer.Argument(
            help="Bundle folder written by slpack build (dist/NAME).", show_default=False
        ),
    ],
    logs: Annotated[
        Path | None,
        typer.Option(
            help="The function's log lines: JSON lines as written to stdout, or an export "
            "(aws logs filter-log-events, Logs Insights, gcloud logging read).",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="New rows (CSV, Parquet, .npy or JSON records) to compare before serving them."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    fail_above: Annotated[
        float | None,
        typer.Option(
            help="Exit 3 when any PSI is above this (0.25: a significant shift; 0.1: worth a "
            "look).",
            min=0.0,
        ),
    ] = None,
) -> None:
    """Compare served traffic (or a file of new rows) with the bundle's drift baseline: the
    population stability index per feature and of the predictions (docs/drift.md)."""
    from slpack.bundler.bundle import read_manifest
    from slpack.drift.report import print_report, report
    from slpack.drift.sketches import Layout

    if (logs is None) == (data is None):
        raise SlpackError("pass either --logs FILE (served traffic) or --data FILE (new rows).")
    manifest = dict(read_manifest(bundle))
    layout = Layout.of(manifest, str(bundle))
    if logs is not None:
        tally, source = _from_logs(layout, logs)
    else:
        assert data is not None
        tally, source = _from_data(bundle, manifest, layout, data)
    found = report(tally, source)
    if as_json:
        typer.echo(json.dumps(found.to_json(), indent=2))
    else:
        print_report(Console(highlight=False), found)
    if fail_above is not None:
        over = found.above(fail_above)
        if over:
            shown = ", ".join(f"{r.name} ({r.psi:.3f})" for r in over)
            typer.echo(f"drift: PSI above {fail_above:g} for {shown}", err=True)
            raise typer.Exit(GATE_EXIT)


def _from_logs(layout: Layout, path: Path) -> tuple[Tally, str]:
    from slpack.drift.records import scan
    from slpack.drift.sketches import Tally

    if not path.is_file():
        raise SlpackError(f"the log file {path} does not exist; export the function's log lines.")
    found = scan(path.read_text(encoding="utf-8", errors="replace"))
    tally = Tally(layout)
    other = 0
    for record in found.records:
        if record.version is not None and record.version != layout.version:
            other += 1
        else:
            tally.add(record.sketch)
    if not tally.sketches:
        detail = f"{len(found.records)} sketches found, {other} of another model version"
        if tally.malformed:
            detail += f", {tally.malformed} not of this bundle's layout"
        raise SlpackError(
            f"{path.name} holds no drift sketch of {layout.name} {layout.version} ({detail}); "
            "give the log lines of a function serving this bundle (docs/drift.md)."
        )
    source = f"{tally.sketches} requests from {path.name}"
    skipped = [
        f"{other} of another model version" if other else "",
        f"{tally.malformed} malformed" if tally.malformed else "",
    ]
    if any(skipped):
        source += " (skipped: " + ", ".join(s for s in skipped if s) + ")"
    return tally, source


def _from_data(
    bundle: Path, manifest: dict[str, Any], layout: Layout, path: Path
) -> tuple[Tally, str]:
    from slpack.drift.data import sketch_rows

    done = sketch_rows(bundle, manifest, path, layout)
    if not done.tally.sketches:
        raise SlpackError(
            f"the endpoint would refuse every row of {path.name} ({done.refused} of "
            f"{done.rows}); check it against the bundle's schema (GET /metadata)."
        )
    source = f"{done.rows - done.refused} rows of {path.name}"
    if done.refused:
        source += f" ({done.refused} the endpoint would refuse, left out)"
    return done.tally, source
