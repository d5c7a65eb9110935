"""Shared fixtures. Each area keeps its fixtures in its own headed section."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")  # reproducible manifests in every test

# --- CLI fixtures -------------------------------------------------------------------------


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``slpack ARGS`` in process; return the exit code and the captured output."""
    from slpack.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


# --- build fixtures -----------------------------------------------------------------------

_DRIVER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import slpack_handler
    for line in sys.stdin:
        event = json.loads(line)
        out = slpack_handler.handler(event, None)
        sys.stdout.write(json.dumps(out) + "\\n")
        sys.stdout.flush()
    """
)


def unpack_function(bundle_dir: Path, dest: Path) -> Path:
    """Unzip a bundle's function.zip into ``dest`` (what Lambda puts in /var/task)."""
    with zipfile.ZipFile(bundle_dir / "function.zip") as zf:
        zf.extractall(dest)
    return dest


def invoke_bundle(bundle_dir: Path, events: list[Any], tmp: Path, env: dict[str, str] | None = None) -> list[Any]:
    """Answer ``events`` with the bundled handler in a fresh interpreter (Lambda's entry point).

    The function is unzipped and the handler imported from there, so what is tested is exactly
    what ships; the interpreter is this one (with its site-packages for numpy/onnxruntime).
    """
    task_root = unpack_function(bundle_dir, tmp / f"task-{bundle_dir.name}")
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(task_root)],
        input="".join(json.dumps(e) + "\n" for e in events),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SLPACK_METRICS": "none", **(env or {})},
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
