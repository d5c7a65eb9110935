"""Precompiled bytecode for what a request imports, so cold starts do not compile numpy.

Lambda mounts a layer read-only at /opt, so Python cannot cache the bytecode it compiles: without
``.pyc`` files in the layer, every cold start compiles numpy and onnxruntime again (measured in
``slpack serve``: a worker's first answer took 280-400 ms without bytecode, 82 ms with it).

Only the modules a request really imports are compiled (found by importing numpy and onnxruntime
and opening a session in the target's Python, isolated, with only the layer on sys.path), which
keeps the layer small. When this machine cannot load the target's binaries (an arm64 layer built
on x86_64) every remaining source is compiled instead. The ``.pyc`` files use the unchecked-hash
mode: valid whatever the files' timestamps (a zip's are fixed), and byte-identical across builds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from slpack.layer.smoke import smoke_failure
from slpack.layer.target import Target, host_can_run
from slpack.resources import data_dir

_IMPORTED = r"""
import json, sys
root, model = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
import numpy, onnxruntime
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 1
onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
print(json.dumps(sorted(f for f in files if f and f.startswith(root) and f.endswith(".py"))))
"""

_COMPILE = r"""
import json, os, py_compile, sys
root, names = json.loads(sys.stdin.read())
for name in names:
    py_compile.compile(os.path.join(root, name), dfile=name, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def compiler_for(python_version: str) -> str | None:
    """An interpreter of ``python_version`` ("3.12"): bytecode depends on nothing else.

    Looks at this interpreter, ``pythonX.Y`` on PATH, then pyenv's installed versions (whose
    shims refuse to run a version that is installed but not selected).
    """
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    installed = sorted(pyenv.glob(f"{python_version}.*/bin/python{python_version}"), reverse=True)
    for candidate in (
        sys.executable,
        shutil.which(f"python{python_version}"),
        *map(str, installed),
    ):
        if candidate and _version(candidate) == python_version:
            return candidate
    return None


def compile_files(python: str, root: Path, names: list[str]) -> None:
    """Write unchecked-hash ``.pyc`` files for ``names`` (paths relative to ``root``) with
    ``python``.

    The code objects record each file by its path relative to ``root``, the folder that is on
    sys.path at run time: the bytes do not depend on where the build ran (reproducible), and
    tracebacks still show source lines, since linecache looks relative names up on sys.path.
    """
    subprocess.run(
        [python, "-I", "-S", "-c", _COMPILE],
        input=json.dumps([str(root), names]),
        text=True,
        capture_output=True,
        timeout=600,
        check=True,
    )


def _version(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def compile_layer(root: Path, target: Target) -> str | None:
    """Write ``.pyc`` files into the layer folder ``root``; return how, or None if no interpreter
    fits."""
    python = compiler_for(target.python)
    if python is None:
        return None
    if host_can_run(target):
        probe = subprocess.run(
            [
                python,
                "-I",
                "-S",
                "-c",
                _IMPORTED,
                str(root),
                str(data_dir("layers") / "smoke.onnx"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if probe.returncode != 0:
            raise smoke_failure(target, probe)
        imported = json.loads(probe.stdout.strip().splitlines()[-1])
        names = [Path(path).relative_to(root).as_posix() for path in imported]
        how = "imported modules"
    else:
        names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
        how = "all modules"
    compile_files(python, root, names)
    return f"{how} ({len(names)} files), unchecked-hash .pyc for python{target.python}"
