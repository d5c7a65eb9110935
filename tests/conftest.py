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

from slpack_handler.contract import FORMAT

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


def invoke_bundle(
    bundle_dir: Path, events: list[Any], tmp: Path, env: dict[str, str] | None = None
) -> list[Any]:
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


_ISOLATED_DRIVER = textwrap.dedent(
    """
    import json, sys
    task_root, packages = sys.argv[1], sys.argv[2]
    sys.path[:] = [task_root, packages, *[p for p in sys.path if p and "site-packages" not in p]]
    import slpack_handler
    for line in sys.stdin:
        out = slpack_handler.handler(json.loads(line), None)
        sys.stdout.write("answer: " + json.dumps(out) + "\\n")
        sys.stdout.flush()
    """
)
_ANSWER = "answer: "


def invoke_isolated(bundle_dir: Path, events: list[Any], tmp: Path) -> list[Any]:
    """Answer ``events`` with the bundled handler where only the bundle and its runtime's
    packages are importable: numpy + onnxruntime for onnxruntime bundles, nothing for python
    ones, the manifest's exact requirements for sklearn ones (``python -I -S``, no site)."""
    from slpack.serve.sandbox import requirements_dir

    manifest = json.loads((bundle_dir / "slpack.json").read_text())
    runtime = manifest["runtime"]
    needs = {"onnxruntime": ["numpy", "onnxruntime"], "python": []}.get(runtime["name"])
    if needs is None:
        requirements = runtime["requirements"]
    else:
        from slpack.bundler.sklearn_runtime import closure

        requirements = closure(needs)
    packages = requirements_dir(requirements, tmp / f"packages-{bundle_dir.name}")
    task_root = unpack_function(bundle_dir, tmp / f"isolated-{bundle_dir.name}")
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _ISOLATED_DRIVER, str(task_root), str(packages)],
        input="".join(json.dumps(e) + "\n" for e in events),
        capture_output=True,
        text=True,
        timeout=120,
        env={"SLPACK_METRICS": "none", "PATH": os.environ.get("PATH", "")},
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [
        json.loads(line[len(_ANSWER) :])
        for line in proc.stdout.splitlines()
        if line.startswith(_ANSWER)
    ]


# --- serve fixtures -----------------------------------------------------------------------

# A stand-in function for the serve machinery: stdlib only (workers import nothing else).
# A direct event is the command; an HTTP event carries it as its JSON body. Commands:
# {"sleep": s}, {"exit": code}, {"raise": message}, {"reply": value} (returned as is),
# {"big": n} (an answer of n characters);
# anything else is echoed back with what the environment looked like.
SERVE_STANDIN = textwrap.dedent(
    """
    import base64, importlib.util, json, os, sys, time

    def handler(event, context):
        command = event
        if isinstance(event, dict) and ("requestContext" in event or "httpMethod" in event):
            body = event.get("body") or "{}"
            if event.get("isBase64Encoded"):
                body = base64.b64decode(body)
            try:
                command = json.loads(body)
            except ValueError:
                command = {}
        command = command if isinstance(command, dict) else {}
        if "sleep" in command:
            time.sleep(command["sleep"])
        if "exit" in command:
            os._exit(command["exit"])
        if "raise" in command:
            raise RuntimeError(command["raise"])
        if "reply" in command:
            return command["reply"]
        if "big" in command:
            return "x" * command["big"]
        print("handled", context.aws_request_id)
        return {
            "event": event,
            "pid": os.getpid(),
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "client_context": getattr(context.client_context, "custom", None),
            "sys_path": sys.path,
            "importable": [m for m in ("numpy", "onnxruntime", "slpack", "typer") if
            importlib.util.find_spec(m)],
            "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_",
            "_HANDLER", "SLPACK_"))},
        }
    """
)


@pytest.fixture
def standin_config(tmp_path: Path) -> Callable[..., Any]:
    """Make a FunctionConfig running the stand-in handler (``standin.handler``) in a tmp task
    root."""
    from slpack.serve.sandbox import runtime_dir
    from slpack.serve.workers import FunctionConfig

    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "standin.py").write_text(SERVE_STANDIN)
    runtime = runtime_dir(tmp_path / "runtime")

    def make(**overrides: Any) -> FunctionConfig:
        settings: dict[str, Any] = {
            "name": "standin",
            "task_root": task_root,
            "runtime_dir": runtime,
            "handler": "standin.handler",
            "timeout_s": 10.0,
        }
        settings.update(overrides)
        return FunctionConfig(**settings)

    return make


def _standin_manifest() -> dict[str, Any]:
    """The fields every reader checks, for a bundle whose function is the stand-in."""
    return {
        "format": FORMAT,
        "name": "standin",
        "version": "0",
        "task": "classifier",
        "model": {"file": "model.onnx", "format": "onnx", "sha256": "0" * 64},
        "runtime": {"name": "onnxruntime"},
        "input": {"layout": "tensor", "features": []},
        "output": {"names": []},
    }


@pytest.fixture
def standin_bundle(tmp_path: Path) -> Path:
    """A bundle folder whose function.zip holds the stand-in as ``slpack_handler``, plus an empty
    layer.

    The layer is ``<bundle>/../empty-layer``: the stand-in needs nothing beyond the stdlib.
    """
    bundle = tmp_path / "dist" / "standin"
    bundle.mkdir(parents=True)
    with zipfile.ZipFile(bundle / "function.zip", "w") as zf:
        zf.writestr("slpack_handler/__init__.py", SERVE_STANDIN)
    (bundle / "slpack.json").write_text(json.dumps(_standin_manifest()))
    (tmp_path / "dist" / "empty-layer" / "python").mkdir(parents=True)
    return bundle


# --- render fixtures ----------------------------------------------------------------------


def write_render_bundle(
    root: Path, name: str = "iris", version: str = "1a2b3c4d5e6f", runtime: str = "onnxruntime"
) -> Path:
    """A minimal bundle laid out as ``root/dist/NAME`` the way ``slpack build`` writes one:
    function.zip (a handler stand-in, ``model/model.onnx``, ``model/slpack.json``), model.onnx
    and the manifest with the fields templates read and the hashes deploy verifies; ``runtime``
    is the manifest's model runtime."""
    bundle = root / "dist" / name
    bundle.mkdir(parents=True)
    write_bundle_files(bundle, name, version, handler="", runtime={"name": runtime})
    return bundle


def write_bundle_files(bundle: Path, name: str, version: str, handler: str, **fields: Any) -> None:
    """function.zip, model.onnx and slpack.json, with ``files`` and ``model.sha256`` recorded
    (``fields``: more manifest entries, such as ``layer``)."""
    import hashlib

    model = f"not really onnx: {name} {version}".encode()
    manifest = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "task": "classifier",
        "model": {
            "file": "model.onnx",
            "format": "onnx",
            "sha256": hashlib.sha256(model).hexdigest(),
        },
        "runtime": {"name": "onnxruntime"},
        "input": {"layout": "tensor", "features": []},
        "output": {"names": []},
        "files": {
            "model/model.onnx": hashlib.sha256(model).hexdigest(),
            "slpack_handler/__init__.py": hashlib.sha256(handler.encode()).hexdigest(),
        },
        **fields,
    }
    data = json.dumps(manifest).encode()
    (bundle / "model.onnx").write_bytes(model)
    (bundle / "slpack.json").write_bytes(data)
    with zipfile.ZipFile(bundle / "function.zip", "w") as zf:
        zf.writestr("slpack_handler/__init__.py", handler)
        zf.writestr("model/model.onnx", model)
        zf.writestr("model/slpack.json", data)


def write_render_layer(root: Path, python: str = "312", arch: str = "arm64") -> Path:
    """A layer zip named as ``slpack layer`` names it, with its lock, in ``root/dist/layers``."""
    from slpack.ziputil import sha256_file

    layer = root / "dist" / "layers" / f"ort-1.20.1-np2.1.3-py{python}-{arch}.zip"
    layer.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("python/numpy/__init__.py", "")
    lock = {
        "file": layer.name,
        "sha256": sha256_file(layer),
        "python": f"{python[0]}.{python[1:]}",
        "arch": arch,
        "runtime": f"python{python[0]}.{python[1:]}",
    }
    layer.with_suffix(".lock.json").write_text(json.dumps(lock))
    return layer


@pytest.fixture
def render_bundle(tmp_path: Path) -> Path:
    return write_render_bundle(tmp_path)


@pytest.fixture
def render_layer(tmp_path: Path) -> Path:
    return write_render_layer(tmp_path)


# --- drift fixtures -----------------------------------------------------------------------

# A baseline as slpack build writes one (slpack.bundler.baseline), with one feature of each kind,
# names that need quoting, and three predicted classes.
DRIFT_BASELINE: dict[str, Any] = {
    "source": "train.csv",
    "rows": 1200,
    "features": [
        {
            "name": "sepal length (cm)",
            "kind": "number",
            "edges": [5.1, 5.8, 6.4],
            "missing": False,
            "shares": [0.2, 0.3, 0.3, 0.2],
        },
        {
            "name": "plan",
            "kind": "category",
            "categories": ["basic", "pro's"],
            "missing": True,
            "shares": [0.5, 0.3, 0.1, 0.1],
        },
        {"name": "note", "kind": "length", "edges": [12.0, 40.0], "shares": [0.3, 0.5, 0.2]},
        {"name": "member", "kind": "boolean", "missing": False, "shares": [0.6, 0.4]},
    ],
    "prediction": {
        "kind": "class",
        "classes": ["setosa", "versicolor", "virginica"],
        "other": False,
        "shares": [0.34, 0.33, 0.33],
    },
}


def write_drift_baseline(bundle: Path) -> Path:
    """Rewrite a ``write_render_bundle`` bundle with :data:`DRIFT_BASELINE` in its manifest (and
    in function.zip's, so deploy's verification still holds)."""
    manifest = json.loads((bundle / "slpack.json").read_text())
    write_bundle_files(
        bundle, manifest["name"], manifest["version"], handler="", baseline=DRIFT_BASELINE
    )
    return bundle


# --- layer fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def host_layer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The numpy + onnxruntime layer built from this environment (``slpack layer --from-env``).

    A :class:`slpack.layer.LayerResult`; built once per session into a fresh cache (its folder is
    ``host_layer.zip_path.parent.parent``), about 5 s with the smoke test.
    """
    from slpack.layer import build_layer

    return build_layer(from_env=True, cache_dir=tmp_path_factory.mktemp("layer-cache"))


@pytest.fixture(scope="session")
def host_layer_dir(host_layer: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host layer unzipped: the returned folder is its ``python/``, the one to put on
    sys.path."""
    root = tmp_path_factory.mktemp("host-layer")
    with zipfile.ZipFile(host_layer.zip_path) as zf:
        zf.extractall(root)
    return root / "python"


# --- deploy fixtures ----------------------------------------------------------------------

AWS_TEST_REGION = "us-east-1"


def change_code(bundle: Path, version: str) -> None:
    """Rewrite a ``write_render_bundle`` bundle as a new model version would (new code, model and
    manifest, hashes recorded)."""
    manifest = json.loads((bundle / "slpack.json").read_text())
    write_bundle_files(bundle, manifest["name"], version, handler=f"# model {version}\n")


@pytest.fixture(scope="session")
def moto_server_url() -> Any:
    """A moto server on 127.0.0.1 (any free port) for the whole session; its URL.

    Tests that use it reset it first (``aws_env``), so each starts with an empty account.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per AWS call
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_server_url: str) -> str:
    """Fake credentials and region, none of this machine's AWS configuration, a freshly reset moto.

    Returns the moto URL, to pass as ``endpoint_url``.
    """
    import urllib.request

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_TEST_REGION,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    return moto_server_url
