"""``slpack layer``: build the numpy + onnxruntime layer for a Lambda runtime and architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slpack.cli import app
from slpack.errors import SlpackError


@app.command()
def layer(
    python: Annotated[
        str | None,
        typer.Option(help="Lambda Python, e.g. 3.12 (default 3.12; --from-env: this interpreter)."),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option(help="x86_64 or arm64 (default x86_64; with --from-env: this machine)."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder the zip and its lock file are written to.")
    ] = Path("dist/layers"),
    from_env: Annotated[
        bool, typer.Option("--from-env", help="Copy numpy and onnxruntime from this environment.")
    ] = False,
    wheelhouse: Annotated[
        Path | None, typer.Option(help="Resolve wheels from this folder only (offline).")
    ] = None,
    spec: Annotated[
        str, typer.Option(help="Layer spec: a name from layers/ or a YAML file.")
    ] = "onnxruntime-numpy",
    function: Annotated[
        Path | None,
        typer.Option(help="Bundle folder or function.zip to check with the layer against 250 MB."),
    ] = None,
    smoke_python: Annotated[
        str | None,
        typer.Option(help="Target-version Python for the smoke test (default: found on PATH)."),
    ] = None,
) -> None:
    """Build a trimmed numpy + onnxruntime layer (packages under python/), smoke-test it and write
    its lock file."""
    from slpack.layer import build_layer
    from slpack.layer.sizes import PackageSize, mib, size_table
    from slpack.layer.trim import RuleResult, TrimResult
    from slpack.ziputil import unzipped_size

    if wheelhouse is not None and not wheelhouse.is_dir():
        raise SlpackError(
            f"--wheelhouse {wheelhouse} is not a folder; pass a folder of .whl files."
        )
    function_bytes = unzipped_size(_function_zip(function)) if function else 0
    err = Console(stderr=True)
    with err.status("building the layer") as status:
        result = build_layer(
            python,
            arch,
            from_env=from_env,
            wheelhouse=wheelhouse,
            out=out,
            spec=spec,
            function_unzipped=function_bytes,
            smoke_python=smoke_python,
            on_step=status.update,
        )
    lock = result.lock
    sizes = {
        n: PackageSize(s["installed"], s["unzipped"], s["zipped"])
        for n, s in lock["sizes"]["packages"].items()
    }
    trimmed = TrimResult(
        [RuleResult(r["name"], r["why"], r["files"], r["bytes"]) for r in lock["trim"]]
    )
    title = f"{result.zip_path.name} for {lock['runtime']} on {lock['arch']}" + (
        " (cached)" if result.cached else ""
    )
    err.print(size_table(title, sizes, trimmed))
    smoke = lock["smoke"]
    if smoke["ran"]:
        err.print(
            f"smoke test passed: Python {smoke['python']} imported numpy {smoke['numpy']} and "
            f"onnxruntime {smoke['onnxruntime']} from the layer alone and ran a model."
        )
    else:
        err.print(f"[yellow]smoke test not run:[/] {smoke['reason']}.")
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    err.print(
        f"{mib(result.unzipped)} unzipped, {mib(result.zipped)} zipped; lock file "
        f"{result.lock_path}"
    )
    typer.echo(str(result.zip_path))


def _function_zip(path: Path) -> Path:
    candidate = path / "function.zip" if path.is_dir() else path
    if not candidate.is_file():
        raise SlpackError(
            f"{path} is neither a bundle folder with function.zip nor a zip file; pass "
            "one of them to --function."
        )
    return candidate
