"""``slpack build MODEL --sample DATA``: convert, verify and bundle a fitted pipeline."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slpack.cli import app
from slpack.errors import ParityError, SlpackError
from slpack.render import TARGETS

DEFAULT_TARGETS = "sam"
SKLEARN_TARGETS = "image"  # scikit-learn and its dependencies do not fit a zip function


@app.command()
def build(
    model: Annotated[
        Path, typer.Argument(help="Fitted estimator or Pipeline (.joblib, .pkl, .skops).")
    ],
    sample: Annotated[
        Path, typer.Option("--sample", help="Sample input: CSV, Parquet, .npy or JSON records.")
    ],
    name: Annotated[
        str | None, typer.Option(help="Bundle name (default: the model file's name).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder the bundle folder is written into.")] = Path(
        "dist"
    ),
    target: Annotated[
        str | None,
        typer.Option(
            help=f"Deployment targets to render, comma-separated: {', '.join(TARGETS)} (or "
            f"'none'); default {DEFAULT_TARGETS}, or {SKLEARN_TARGETS} for --runtime sklearn."
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Model version (default: the model's content hash).")
    ] = None,
    atol: Annotated[float, typer.Option(help="Parity: absolute tolerance.")] = 1e-5,
    rtol: Annotated[
        float, typer.Option(help="Parity: relative tolerance for values and embeddings.")
    ] = 1e-4,
    parity_rows: Annotated[int, typer.Option(help="Parity: sample rows compared at most.")] = 2000,
    allow_mismatch: Annotated[
        bool, typer.Option(help="Build even when parity fails (the numbers are recorded).")
    ] = False,
    opset: Annotated[
        int, typer.Option(help="Target ONNX opset (the runtime's onnxruntime must implement it).")
    ] = 21,
    converters: Annotated[
        list[str] | None,
        typer.Option(
            "--converters",
            help="Module (or .py) registering custom skl2onnx converters; repeatable.",
        ),
    ] = None,
    layer: Annotated[
        Path | None, typer.Option(help="Layer zip from slpack layer, referenced by the templates.")
    ] = None,
    runtime: Annotated[
        str,
        typer.Option(
            help="What runs the model: auto (python when it is covered, verified and fast "
            "enough, else onnxruntime), python (no layer, no numpy), onnxruntime, or sklearn "
            "(the original pipeline, for steps ONNX cannot express; a container image)."
        ),
    ] = "auto",
    trust_pickle: Annotated[
        bool,
        typer.Option(
            "--trust-pickle",
            help="--runtime sklearn: ship the pipeline as a joblib pickle when skops cannot "
            "save it (the function runs code stored in it; only for pipelines you trust).",
        ),
    ] = False,
    no_pickle: Annotated[
        bool,
        typer.Option(
            "--no-pickle", help="Refuse joblib/pickle model files (also SLPACK_NO_PICKLE=1)."
        ),
    ] = False,
    trust: Annotated[
        list[str] | None,
        typer.Option(
            "--trust",
            help="A type in a .skops file you reviewed and accept (skops reports it untrusted); "
            "repeatable.",
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Rows the drift baseline describes, e.g. the training set (default: the sample; "
            "docs/drift.md).",
        ),
    ] = None,
) -> None:
    """Convert MODEL to ONNX, check it against scikit-learn on the sample, and bundle a function."""
    from slpack.bundler import BuildOptions, build_bundle
    from slpack.bundler.report import print_build_report, print_worst_rows

    err = Console(stderr=True)
    if target is None:
        target = SKLEARN_TARGETS if runtime == "sklearn" else DEFAULT_TARGETS
    targets = [t.strip() for t in target.split(",") if t.strip() and t.strip() != "none"]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:  # before the build, not after it
        raise SlpackError(
            f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)} (or none)."
        )
    options = BuildOptions(
        name=name,
        version=version,
        atol=atol,
        rtol=rtol,
        parity_rows=parity_rows,
        allow_mismatch=allow_mismatch,
        opset=opset,
        converters=list(converters or []),
        layer=layer,
        runtime=runtime,
        trust_pickle=trust_pickle,
        no_pickle=no_pickle,
        trust=list(trust or []),
        baseline=baseline,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with err.status("building") as status:
                result = build_bundle(
                    model, sample, out, options, on_step=lambda s: status.update(s)
                )
                if targets:
                    status.update("rendering " + ", ".join(targets))
                    _render(result.bundle_dir, targets, layer)
        except ParityError as exc:
            if exc.result is not None:
                print_worst_rows(err, exc.result)  # type: ignore[arg-type]
            raise
        finally:
            _print_warnings(err, caught)
    print_build_report(err, result)


def _print_warnings(err: Console, caught: list[warnings.WarningMessage]) -> None:
    """slpack's own warnings (pickles, public endpoints, no layer) as one line each."""
    from slpack.bundler.inputs import PickleWarning
    from slpack.render import RenderWarning

    ours: tuple[type[Warning], ...] = (PickleWarning, RenderWarning)
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, ours)):
        err.print(f"[yellow]warning:[/] {message}", highlight=False)


def _render(bundle_dir: Path, targets: list[str], layer: Path | None) -> None:
    from slpack.render import RenderOptions, render

    render(bundle_dir, targets, RenderOptions(layer=str(layer) if layer else None))
