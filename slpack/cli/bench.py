"""``slpack bench BUNDLE --baseline MODEL``: both runtimes, scikit-learn, floors, one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slpack.cli import app
from slpack.errors import SlpackError

QUICK_RUNS, QUICK_REQUESTS, QUICK_WARMUP = 3, 200, 10


@app.command()
def bench(
    bundle: Annotated[
        Path, typer.Argument(help="Bundle folder written by slpack build (dist/NAME).")
    ],
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="The fitted pipeline the bundle was built from (.joblib), served by the "
            "scikit-learn baseline."
        ),
    ] = None,
    layer: Annotated[
        Path | None,
        typer.Option(help="Layer zip or folder (default: one built from this environment)."),
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option(
            help="Rows to send (CSV, Parquet, .npy, JSON); default: rows made from the "
            "manifest's statistics."
        ),
    ] = None,
    runs: Annotated[
        int | None,
        typer.Option(min=1, help="Cold starts per function (default 10; 3 with --quick)."),
    ] = None,
    requests: Annotated[
        int | None,
        typer.Option(
            min=1, help="Warm requests per function and input (default 2000; 200 with --quick)."
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON here.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the tables as markdown here.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Draw the distributions to this PNG (needs the plot extra).")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            help=f"{QUICK_RUNS} cold starts, {QUICK_REQUESTS} warm requests and {QUICK_WARMUP} "
            "warm-ups per function and input (instead of 10, 2000, 50): about 20 s with two "
            "idle vCPUs, a minute or more on a busy machine, once the layer is cached (the first "
            "run builds it); rough figures."
        ),
    ] = False,
) -> None:
    """Cold start, warm latency, size and memory of BUNDLE on the python runtime and on
    onnxruntime, against the same pipeline on scikit-learn and against the floors."""
    from slpack.bench.measure import BenchOptions, run_bench
    from slpack.bench.progress import progress
    from slpack.bench.report import print_report, to_json, to_markdown

    if baseline is None:
        raise SlpackError(
            "pass --baseline MODEL.joblib, the fitted pipeline the bundle was built from, "
            "to compare against."
        )
    options = BenchOptions(
        runs=runs or (QUICK_RUNS if quick else BenchOptions.runs),
        requests=requests or (QUICK_REQUESTS if quick else BenchOptions.requests),
        warmup_requests=QUICK_WARMUP if quick else BenchOptions.warmup_requests,
        layer=layer,
        sample=sample,
    )
    err = Console(stderr=True)
    with progress(err, f"benchmarking {bundle}") as step:
        result = run_bench(bundle, baseline, options, on_step=step)
    report = to_json(result)
    print_report(Console(), report)
    if json_out:
        _write(json_out, json.dumps(report, indent=2) + "\n")
    if markdown:
        _write(markdown, to_markdown(report))
    if plot:
        from slpack.bench.plot import write_plot

        write_plot(result, plot)
    for path in (p for p in (json_out, markdown, plot) if p):
        err.print(f"wrote {path}")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
