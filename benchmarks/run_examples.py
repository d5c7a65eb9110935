"""Run ``slpack bench`` on the examples and on random forests; list the Python runtime's coverage.

    python benchmarks/run_examples.py [--quick] [--out benchmarks/results] [--layer LAYER.zip]
        [--forests] [--coverage] [NAME ...]

Examples (the default): each ``examples/NAME`` with a ``model.joblib`` and a ``sample.csv`` (its
``train.py`` writes them), with the sample as the requests. ``--forests``: random forests of 60,
200 and 500 trees (max depth 8, as in ``benchmarks/pyrt_kernels.py``), a classifier on breast
cancer and a regressor on diabetes. Each case is built into a temporary folder (``--runtime
auto``: the bench measures both runtimes whichever ships) and benchmarked against the same
pipeline served by scikit-learn, writing OUT/NAME.json, OUT/NAME.md and (with matplotlib)
OUT/NAME.png, then OUT/summary.md (examples) or OUT/forests.md: one row per case with the ratios
the aims are stated in. ``--coverage`` builds every pipeline of the test suite's coverage list
(``tests/pipelines.py``) with ``--runtime python`` and writes OUT/coverage.md: which ones the
Python runtime serves (every operator covered and the parity gate passed), and why not for the
others. Offline; the layer is built from this environment unless --layer is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from slpack.bench.measure import BenchOptions, run_bench
from slpack.bench.plot import write_plot
from slpack.bench.progress import progress
from slpack.bench.report import number, print_report, times, to_json, to_markdown
from slpack.bundler import build_bundle
from slpack.errors import SlpackError

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
QUICK = BenchOptions(runs=3, requests=200, warmup_requests=10)
TREES = (60, 200, 500)


@dataclass(frozen=True)
class Case:
    """A fitted pipeline file and the sample that both builds its bundle and makes the requests."""

    name: str
    model: Path
    sample: Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="example or forest names (default: all)")
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
    parser.add_argument("--forests", action="store_true", help="the forests, not the examples")
    parser.add_argument(
        "--coverage", action="store_true", help="only list the Python runtime's coverage"
    )
    args = parser.parse_args(argv)
    err = Console(stderr=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.coverage:
        (args.out / "coverage.md").write_text(coverage(err))
        err.print(f"wrote {args.out}/coverage.md")
        return 0

    options = replace(QUICK if args.quick else BenchOptions(), layer=args.layer)
    with tempfile.TemporaryDirectory(prefix="slpack-bench-cases-") as scratch:
        cases = forests(Path(scratch)) if args.forests else examples()
        chosen = [c for c in cases if not args.names or c.name in args.names]
        reports = [bench_case(case, options, args.out, err) for case in chosen]
    summary_file = args.out / ("forests.md" if args.forests else "summary.md")
    summary_file.write_text(summary(reports))
    err.print(f"wrote {summary_file}")
    return 0


def examples() -> list[Case]:
    found = [p for p in sorted(EXAMPLES.iterdir()) if (p / "model.joblib").is_file()]
    return [Case(p.name, p / "model.joblib", p / "sample.csv") for p in found]


def forests(scratch: Path) -> list[Case]:
    """Random forests of :data:`TREES` trees, each trained and written to ``scratch``."""
    import joblib
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    data = {
        "clf": (load_breast_cancer(return_X_y=True, as_frame=True), RandomForestClassifier),
        "reg": (load_diabetes(return_X_y=True, as_frame=True), RandomForestRegressor),
    }
    cases = []
    for kind, ((X, y), estimator) in data.items():
        X.to_csv(scratch / f"{kind}.csv", index=False)
        for trees in TREES:
            name = f"forest-{kind}-{trees}"
            model = estimator(n_estimators=trees, max_depth=8, random_state=0).fit(X, y)
            joblib.dump(model, scratch / f"{name}.joblib")
            cases.append(Case(name, scratch / f"{name}.joblib", scratch / f"{kind}.csv"))
    return cases


def bench_case(case: Case, options: BenchOptions, out: Path, err: Console) -> dict[str, Any]:
    """Build the case's bundle, benchmark it, write its JSON, markdown and plot; its report."""
    with (
        progress(err, f"{case.name}: building the bundle") as step,
        tempfile.TemporaryDirectory() as dist,
    ):
        bundle = build_bundle(case.model, case.sample, dist, name=case.name).bundle_dir
        result = run_bench(
            bundle,
            case.model,
            replace(options, sample=case.sample),
            on_step=lambda s: step(f"{case.name}: {s}"),
        )
    report = to_json(result)
    print_report(Console(), report)
    (out / f"{case.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{case.name}.md").write_text(to_markdown(report))
    try:
        write_plot(result, out / f"{case.name}.png")
    except SlpackError as exc:  # plots are a nice-to-have: the numbers are written without one
        err.print(f"no plot: {exc}")
    return report


def summary(reports: list[dict[str, Any]]) -> str:
    """One row per case: the figures and ratios the aims are stated in, and the aims met."""
    headers = (
        "case",
        "ships",
        "cold start ms: python / onnxruntime / sklearn / interpreter / session",
        "cold: sklearn / python",
        "cold: python / onnxruntime",
        "cold: onnxruntime / session",
        "cold: sklearn / onnxruntime",
        "warm 1 row p50 µs: python / onnxruntime / session.run",
        "warm 1 row: python / onnxruntime",
        "warm 1 row: onnxruntime / session.run",
        "warm 100 rows p50 ms: python / onnxruntime / sklearn",
        "warm 100 rows: python / onnxruntime",
        "function.zip MB (python)",
        "peak RSS MiB: python / onnxruntime / sklearn",
        "aims met",
    )
    lines = ["| " + " | ".join(headers) + " |", "|---" * 2 + "|---:" * (len(headers) - 2) + "|"]
    for r in reports:
        figures, ratios = r["figures"], r["ratios"]
        met = [a["met"] for a in r["aims"] if a["met"] is not None]
        cells = (
            r["bundle"]["name"],
            r["bundle"]["runtime"],
            _joined(
                figures["cold_start"],
                ("python", "onnxruntime", "sklearn", "interpreter", "session"),
            ),
            _x(ratios["cold_start"]["sklearn/python"]),
            _x(ratios["cold_start"]["python/onnxruntime"]),
            _x(ratios["cold_start"]["onnxruntime/session"]),
            _x(ratios["cold_start"]["sklearn/onnxruntime"]),
            _joined(figures["warm_single_p50"], ("python", "onnxruntime", "session"), 1000),
            _x(ratios["warm_single_p50"]["python/onnxruntime"]),
            _x(ratios["warm_single_p50"]["onnxruntime/session"]),
            _joined(figures["warm_batch_p50"], ("python", "onnxruntime", "sklearn")),
            _x(ratios["warm_batch_p50"]["python/onnxruntime"]),
            _joined(figures["size_zipped"], ("python",)),
            _joined(figures["peak_rss"], ("python", "onnxruntime", "sklearn")),
            f"{sum(met)}/{len(r['aims'])}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    env = reports[0]["environment"] if reports else {}
    note = f"\nPython {env.get('python')}, {env.get('machine')}, {env.get('cpus')} CPUs.\n"
    return "\n".join(lines) + "\n" + (note if env else "")


def _joined(values: dict[str, float | None], targets: tuple[str, ...], scale: float = 1) -> str:
    found = (values[t] for t in targets)
    return " / ".join("n/a" if v is None else number(v * scale) for v in found)


def _x(ratio: float | None) -> str:
    return times(ratio) or "n/a"


def coverage(err: Console) -> str:
    """The test suite's coverage pipelines built on the Python runtime, as a markdown table."""
    sys.path.insert(0, str(REPO / "tests"))
    from pipelines import COVERAGE

    rows = []
    with progress(err, "building every coverage pipeline with --runtime python") as step:
        for name, make in COVERAGE.items():
            step(name)
            rows.append((name, *_serves(make)))
    served = sum(ok for _, ok, _ in rows)
    lines = [
        f"The Python runtime serves {served} of the {len(rows)} pipelines in "
        "`tests/pipelines.py` (`COVERAGE`): `slpack build --runtime python` covers every "
        "operator and passes the parity gate.",
        "",
        "| pipeline | python runtime | why not |",
        "|---|---|---|",
        *(f"| {name} | {'yes' if ok else 'no'} | {why} |" for name, ok, why in rows),
    ]
    return "\n".join(lines) + "\n"


def _serves(make: Callable[[], tuple[Any, Any]]) -> tuple[bool, str]:
    model, sample = make()
    with tempfile.TemporaryDirectory() as dist, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            build_bundle(model, sample, dist, name="coverage", runtime="python")
        except SlpackError as exc:
            return False, str(exc).splitlines()[0].replace("|", "\\|")
    return True, ""


if __name__ == "__main__":
    sys.exit(main())
