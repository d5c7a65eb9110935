"""The build report: what was built, how well it matches scikit-learn, where the files are."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from slpack.bundler.builder import BuildResult
from slpack.bundler.parity import ParityResult


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def print_build_report(console: Console, result: BuildResult) -> None:
    m = result.manifest
    table = Table(
        title=f"slpack build: {m['name']} {m['version']}", show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row("model", f"{m['task']}: {m['estimator']}")
    features = m["input"]["features"]
    kinds = ", ".join(f"{f['name']} ({f['role']})" for f in features[:6])
    kinds += " ..." if len(features) > 6 else ""
    table.add_row("inputs", f"{len(features)} as {m['input']['layout']}: {kinds}")
    onnx = m.get("onnx")
    if onnx:
        table.add_row(
            "onnx",
            f"{_size(onnx['bytes'])}, opset {onnx['opset']['']}, IR {onnx['ir_version']}, "
            f"optimisation {onnx['optimization']}",
        )
    runtime = m["runtime"]
    table.add_row(
        "runtime", f"{runtime['name']} ({result.runtime_detail or runtime.get('reason')})"
    )
    table.add_row("function.zip", _size(result.files["function_zip"].stat().st_size))
    table.add_row("parity", parity_summary(result.parity))
    for note in result.notes:
        table.add_row("note", note)
    table.add_row("bundle", str(result.bundle_dir))
    console.print(table)
    print_next_steps(console, result)


def print_next_steps(console: Console, result: BuildResult) -> None:
    """The commands that take the bundle further, with its real paths."""
    bundle = result.bundle_dir
    request = result.files["request"]
    lines = [
        f"slpack invoke {bundle} --data @{request}",
        f"slpack serve {bundle} --port 8080",
    ]
    if result.manifest["runtime"]["name"] == "sklearn":
        image = result.manifest["name"]
        lines.append(
            f"docker build -f {bundle}/deploy/image/Dockerfile -t {image} {bundle}"
            "   # the recorded versions on the Lambda base image"
        )
    elif result.manifest["runtime"]["name"] == "onnxruntime" and not result.manifest.get("layer"):
        lines.append("slpack layer --python 3.12 --arch arm64   # numpy + onnxruntime for Lambda")
        lines.append(f"slpack deploy {bundle} --bucket BUCKET --layer dist/layers/ort-...zip")
    else:
        lines.append(f"slpack deploy {bundle} --bucket BUCKET")
    console.print("next:", highlight=False)
    for line in lines:
        console.print(f"  {line}", highlight=False, soft_wrap=True)


def parity_summary(p: ParityResult) -> str:
    parts = [f"{p.rows} rows"]
    if p.label_agreement is not None:
        parts.append(f"labels {p.label_agreement:.2%}")
    parts.append(f"max abs {p.max_abs_error:.2g}, max rel {p.max_rel_error:.2g}")
    parts.append("passed" if p.passed else ("MISMATCH (allowed)" if p.allow_mismatch else "FAILED"))
    return ", ".join(parts)


def print_worst_rows(console: Console, p: ParityResult) -> None:
    if not p.worst:
        return
    table = Table(title="parity: worst rows", title_justify="left")
    for col in ("row", "column", "expected", "got"):
        table.add_column(col)
    for row in p.worst:
        table.add_row(*(_cell(row.get(c)) for c in ("row", "column", "expected", "got")))
    console.print(table)


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
