"""Run ``slpack bench`` on every example and write the results.

    python benchmarks/run_examples.py [--quick] [--out benchmarks/results] [--layer LAYER.zip]
    [EXAMPLE ...]

For each ``examples/NAME`` with a ``model.joblib`` and a ``sample.csv``, builds the bundle (in a
temporary folder), benchmarks it against the same pipeline served by scikit-learn, with the
example's
sample as the requests, and writes OUT/NAME.json, OUT/NAME.md and (with matplotlib) OUT/NAME.png,
then OUT/summary.md: one row per example with the ratios the aims are about. Offline; the layer
is built from this environment unless --layer is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from slpack.bench.measure import BenchOptions, run_bench
from slpack.bench.plot import write_plot
from slpack.bench.report import print_report, to_json, to_markdown
from slpack.bundler import build_bundle
from slpack.errors import SlpackError

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
QUICK = BenchOptions(runs=3, requests=200, warmup_requests=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", help="example names (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument(
        "--layer",
        type=Path,
        default=None,
        help="layer zip or folder (default: from this environment)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 cold starts and 200 warm requests per function"
    )
    args = parser.parse_args(argv)

    names = args.examples or sorted(
        p.name for p in EXAMPLES.iterdir() if (p / "model.joblib").is_file()
    )
    options = replace(QUICK if args.quick else BenchOptions(), layer=args.layer)
    console, err = Console(), Console(stderr=True)
    reports = []
    for name in names:
        example = EXAMPLES / name
        model, sample = example / "model.joblib", example / "sample.csv"
        with (
            err.status(f"{name}: building the bundle") as status,
            tempfile.TemporaryDirectory() as dist,
        ):
            bundle = build_bundle(model, sample, dist, name=name).bundle_dir
            result = run_bench(
                bundle,
                model,
                replace(options, sample=sample),
                on_step=lambda s, name=name: status.update(f"{name}: {s}"),
            )
        report = to_json(result)
        print_report(console, report)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.out / f"{name}.md").write_text(to_markdown(report))
        _plot(result, args.out / f"{name}.png", err)
        reports.append(report)
    (args.out / "summary.md").write_text(summary(reports))
    err.print(f"wrote {args.out}/summary.md")
    return 0


def summary(reports: list[dict[str, Any]]) -> str:
    """One row per example: the ratios the aims are stated in, and how many aims were met."""
    headers = (
        "example",
        "cold start ms (slpack / sklearn / floor)",
        "cold: sklearn / slpack",
        "cold: slpack / floor",
        "warm 1 row p50: sklearn / slpack",
        "warm 1 row p50: slpack / session.run",
        "size zipped: sklearn / slpack",
        "size unzipped: sklearn / slpack",
        "peak RSS: sklearn / slpack",
        "aims met",
    )
    lines = ["| " + " | ".join(headers) + " |", "|---" + "|---:" * (len(headers) - 1) + "|"]
    for r in reports:
        cold, ratios = r["cold_start_ms"], r["ratios"]
        met = sum(a["met"] for a in r["aims"])
        cells = (
            r["bundle"]["name"],
            " / ".join(f"{cold[t]['median']:.3g}" for t in ("slpack", "baseline", "floor")),
            f"{ratios['cold_start']['baseline_over_slpack']:.3g}x",
            f"{ratios['cold_start']['slpack_over_floor']:.3g}x",
            f"{ratios['warm_single_p50']['baseline_over_slpack']:.3g}x",
            f"{ratios['warm_single_p50']['slpack_over_floor']:.3g}x",
            f"{ratios['size_zipped']['baseline_over_slpack']:.3g}x",
            f"{ratios['size_unzipped']['baseline_over_slpack']:.3g}x",
            f"{ratios['peak_rss']['baseline_over_slpack']:.3g}x",
            f"{met}/{len(r['aims'])}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    env = reports[0]["environment"] if reports else {}
    note = (
        f"\nPython {env.get('python')}, {env.get('machine')}, {env.get('cpus')} CPUs.\n"
        if env
        else "\n"
    )
    return "\n".join(lines) + "\n" + note


def _plot(result: Any, out: Path, err: Console) -> None:
    """Plots are a nice-to-have here: without matplotlib the numbers are still written."""
    try:
        write_plot(result, out)
    except SlpackError as exc:
        err.print(f"no plot: {exc}")


if __name__ == "__main__":
    sys.exit(main())
