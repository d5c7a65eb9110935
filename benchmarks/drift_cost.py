"""What the drift sketch adds to a request: ``App.handle_http`` with and without it, in process.

    python benchmarks/drift_cost.py [--requests 2000] [--repeats 9] [--json OUT.json] [EXAMPLE ...]

For each example (trained first if its model.joblib is missing) the bundle is built once and two
handlers load it: one with the sketch (the default) and one with ``SLPACK_DRIFT=0``, everything
else equal (EMF metrics on, written to /dev/null). Single-row requests drawn from the example's
sample go to both, alternating request by request so a change in the machine's speed hits both
alike; the table gives the median of each repeat's median per-request time and the difference.
The sketch alone (``Sketch.add``) is then timed on 1, 100 and 1000 rows (the best of the repeats:
the least disturbed by the rest of the machine), with the bytes it adds to the EMF line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from slpack.bundler import build_bundle
from slpack_handler.app import App
from slpack_handler.config import Settings

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SIZES = (1, 100, 1000)  # rows a request carries, for the sketch alone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", help="example names (default: all four)")
    parser.add_argument("--requests", type=int, default=2000, help="single-row requests a repeat")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    names = args.examples or sorted(
        p.name for p in EXAMPLES.iterdir() if (p / "train.py").is_file()
    )
    results = []
    for name in names:
        with tempfile.TemporaryDirectory() as dist:
            results.append(measure(name, Path(dist), args.requests, args.repeats))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def measure(name: str, dist: Path, requests: int, repeats: int) -> dict[str, Any]:
    import pandas as pd

    example = EXAMPLES / name
    if not (example / "model.joblib").is_file():
        subprocess.run([sys.executable, str(example / "train.py")], check=True, cwd=REPO)
    built = build_bundle(example / "model.joblib", example / "sample.csv", dist, name=name)
    bundle = built.bundle_dir
    names = [f["name"] for f in built.manifest["input"]["features"]]
    sample = pd.read_csv(example / "sample.csv")[names]
    rows = json.loads(sample.to_json(orient="records"))
    singles = [_body([rows[i % len(rows)]]) for i in range(requests)]
    apps = [App(Settings(model_dir=str(bundle), metrics="emf", drift=s)) for s in (False, True)]
    medians: list[list[float]] = [[], []]
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for app in apps:
            _run(app, singles[:200])  # load and warm up
        for _ in range(repeats):
            for i, spent in enumerate(_alternate(apps, singles)):
                medians[i].append(spent)
    line = [len(_line(app, singles[0])) for app in apps]
    without, with_ = (statistics.median(m) for m in medians)
    return {
        "example": name,
        "runtime": built.manifest["runtime"]["name"],
        "features": len(names),
        "single": {"without_us": without, "with_us": with_, "added_us": with_ - without},
        "sketch_us": {n: _sketch_us(apps[1], built.manifest, rows, n, repeats) for n in SIZES},
        "line_bytes": {"without": line[0], "with": line[1]},
    }


def _sketch_us(app: App, manifest: dict[str, Any], rows: list[Any], n: int, repeats: int) -> float:
    """Microseconds ``Sketch.add`` takes for one request of ``n`` rows (best of the repeats)."""
    from slpack_handler.drift import open_sketch
    from slpack_handler.metrics import MetricRecord

    model, sketch = app.model(), open_sketch(manifest)
    assert sketch is not None
    parsed = model.schema.parse({"instances": [rows[i % len(rows)] for i in range(n)]})
    predictions = model.predict(parsed)
    number = max(1, 2000 // n)
    best = min(
        timeit.repeat(
            lambda: sketch.add(parsed.columns, predictions, MetricRecord(), parsed.arrays),
            number=number,
            repeat=repeats,
        )
    )
    return best / number * 1e6


def _body(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps({"instances": rows}).encode()


def _alternate(apps: list[App], bodies: list[bytes]) -> list[float]:
    """Median microseconds per request of each app, each body sent to one then the other (so a
    change in the machine's speed hits both alike)."""
    spent: list[list[int]] = [[] for _ in apps]
    for body in bodies:
        for app, times in zip(apps, spent):
            started = time.perf_counter_ns()
            response = app.handle_http("POST", "/", {}, body)
            times.append(time.perf_counter_ns() - started)
            if response.status != 200:
                raise SystemExit(f"the benchmark request failed: {response.body[:300]!r}")
    return [statistics.median(times) / 1000 for times in spent]


def _run(app: App, bodies: list[bytes]) -> None:
    for body in bodies:
        app.handle_http("POST", "/", {}, body)


def _line(app: App, body: bytes) -> str:
    """The EMF line of one request."""
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        app.handle_http("POST", "/", {}, body)
    return out.getvalue().strip().splitlines()[-1]


def table(results: list[dict[str, Any]]) -> str:
    sizes = " / ".join(map(str, SIZES))
    head = (
        "| example | runtime | features | 1 row: without / with the sketch | added | "
        f"the sketch alone, {sizes} rows | EMF line, bytes: without / with |\n"
        "|---|---|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['example']} | {r['runtime']} | {r['features']} "
        f"| {r['single']['without_us']:.1f} / {r['single']['with_us']:.1f} µs "
        f"| {r['single']['added_us']:+.1f} µs "
        f"| {_sizes(r['sketch_us'])} µs "
        f"| {r['line_bytes']['without']} / {r['line_bytes']['with']} |\n"
        for r in results
    )
    return head + body


def _sizes(spent: dict[int, float]) -> str:
    return " / ".join(f"{spent[n]:.1f}" for n in SIZES)


if __name__ == "__main__":
    sys.exit(main())
