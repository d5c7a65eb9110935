"""A non-editable install carries the runtime package and the data folders, and builds the same
bundle as the repository does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

_CHECK = """
import sys, json
import slpack, slpack.resources as r
import slpack_handler.contract as contract
print(json.dumps({
    "slpack": slpack.__file__,
    "contract": contract.__file__,
    "handler": str(r.handler_package()),
    "templates": str(r.data_dir("templates")),
    "layers": str(r.data_dir("layers")),
}))
"""


@pytest.mark.slow
def test_wheel_install_ships_the_data_folders(tmp_path: Path) -> None:
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheel_dir.glob("slpack-*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", _CHECK],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    import json

    paths = json.loads(out.stdout)
    assert paths["slpack"].startswith(str(target))
    assert paths["contract"] == str(target / "slpack_handler" / "contract.py")
    assert paths["handler"] == str(target / "slpack_handler")
    for key in ("templates", "layers"):
        assert paths[key].startswith(str(target / "slpack" / "_data")), paths
    in_repo = {
        p.relative_to(REPO / "handlers").as_posix() for p in (REPO / "handlers").rglob("*.py")
    }
    installed = {
        p.relative_to(target).as_posix() for p in (target / "slpack_handler").rglob("*.py")
    }
    assert in_repo == installed
    # The installed tool builds the same bundle as the repository's: byte for byte.
    model, sample = tmp_path / "model.joblib", tmp_path / "sample.csv"
    _write_small_model(model, sample)
    zips = []
    for name, environment in (("wheel", env), ("repo", dict(os.environ))):
        build = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from slpack.cli import main; sys.exit(main(sys.argv[1:]))",
                "build",
                str(model),
                "--sample",
                str(sample),
                "--out",
                str(tmp_path / name),
                "--target",
                "none",
                "--runtime",
                "python",  # compiled in two processes: the program must be byte-identical too
            ],
            env={**environment, "SOURCE_DATE_EPOCH": "1700000000"},
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert build.returncode == 0, build.stderr
        zips.append((tmp_path / name / "model" / "function.zip").read_bytes())
    assert zips[0] == zips[1]


def _write_small_model(model_path: Path, sample_path: Path) -> None:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True, as_frame=True)
    joblib.dump(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y), model_path
    )
    X.to_csv(sample_path, index=False)


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = next(
        line.strip()
        for line in ci.splitlines()
        if "pytest" in line and not line.lstrip().startswith("#")
    )
    assert command in readme
