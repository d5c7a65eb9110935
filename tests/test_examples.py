"""Every example runs end to end, offline, the way its README says (run.sh), in under a minute."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

EXPECTED = {
    "personalization": ['"label"', '"probabilities"'],
    "text-routing": ['"label": "billing"', '"label": "technical"'],
    "regression": ['"value"'],
    "embedding": ["query 0: wine #5", "query 1: wine #70", "query 2: wine #140"],
}


@pytest.mark.slow
@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_runs_end_to_end(example: str, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "SLPACK": str(bin_dir / "slpack"),
        "OUT": str(tmp_path),
    }
    proc = subprocess.run(
        ["bash", str(REPO / "examples" / example / "run.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in EXPECTED[example]:
        assert text in proc.stdout, proc.stdout[-2000:]
    assert "parity" in proc.stderr and "passed" in proc.stderr
