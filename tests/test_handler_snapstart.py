"""SnapStart hooks, driven through a stand-in ``snapshot_restore_py`` in a fresh interpreter.

The bundle is a real one (a small scikit-learn pipeline built to ONNX) unzipped as Lambda would;
the stand-in records the hooks the handler registers, and the driver runs them in Lambda's order:
before-snapshot hooks, then after-restore hooks, then a request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import unpack_function
from pipelines import COVERAGE

from slpack.bundler import build_bundle

STANDIN = textwrap.dedent(
    """
    before, after = [], []

    def register_before_snapshot(func, *args, **kwargs):
        before.append(func)
        return func

    def register_after_restore(func, *args, **kwargs):
        after.append(func)
        return func
    """
)

DRIVER = textwrap.dedent(
    """
    import json, random, sys, types
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    import onnxruntime
    runs = []
    original = onnxruntime.InferenceSession.run
    def counted(self, *args, **kwargs):
        runs.append(1)
        return original(self, *args, **kwargs)
    onnxruntime.InferenceSession.run = counted

    import slpack_handler
    from slpack_handler.app import get_app
    report = {"snapstart_imported": "slpack_handler.snapstart" in sys.modules}
    if report["snapstart_imported"]:
        import snapshot_restore_py as hooks
        app = get_app()
        report["hooks"] = [len(hooks.before), len(hooks.after)]
        report["loaded_at_import"] = app._model is not None
        for hook in reversed(hooks.before):  # Lambda runs them in reverse registration order
            hook()
        report["loaded_before_snapshot"] = app._model is not None
        report["inferences_before_snapshot"] = len(runs)
        app.cache.put("from-the-snapshot", {"predictions": []})
        state = random.getstate()
        for hook in hooks.after:
            hook()
        report["reseeded"] = random.getstate() != state
        report["cache_after_restore"] = len(app.cache)
    context = types.SimpleNamespace(
        aws_request_id="r-1",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:iris:live",
    )
    event = {"version": "2.0", "rawPath": "/metadata",
             "requestContext": {"http": {"method": "GET"}}}
    report["status"] = slpack_handler.handler(event, context)["statusCode"]
    report["inferences_total"] = len(runs)
    print("REPORT " + json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapstart")
    model, sample = COVERAGE["standard-scaler-logreg"]()
    bundle = build_bundle(
        model, sample, root / "dist", name="iris", runtime="onnxruntime"
    ).bundle_dir
    return unpack_function(bundle, root / "task")


def _run(task_root: Path, tmp_path: Path, **env: str) -> tuple[dict[str, Any], list[dict]]:
    standin = tmp_path / "standin"
    standin.mkdir()
    (standin / "snapshot_restore_py.py").write_text(STANDIN)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLPACK_", "AWS_LAMBDA"))}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(standin), str(task_root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "SLPACK_METRICS": "emf", "SLPACK_CACHE_SIZE": "8", **env},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    report = json.loads(next(line for line in lines if line.startswith("REPORT "))[7:])
    metrics = [json.loads(line) for line in lines if line.startswith('{"_aws"')]
    return report, metrics


def test_snapstart_loads_and_primes_the_model_before_the_snapshot(
    task_root: Path, tmp_path: Path
) -> None:
    report, metrics = _run(task_root, tmp_path, AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")

    assert report["snapstart_imported"] and report["hooks"] == [1, 1]
    assert not report["loaded_at_import"]  # the hook does it, inside the init Lambda snapshots
    assert report["loaded_before_snapshot"] and report["inferences_before_snapshot"] == 1
    assert report["reseeded"] and report["cache_after_restore"] == 0
    assert report["status"] == 200 and report["inferences_total"] == 1  # metadata: no inference
    [line] = metrics  # the first request after a restore is the restored copy's cold start
    assert line["ColdStart"] == 1 and "ModelLoadMs" not in line and line["Resource"] == "iris:live"


def test_without_snapstart_nothing_of_it_is_imported(task_root: Path, tmp_path: Path) -> None:
    report, metrics = _run(task_root, tmp_path, AWS_LAMBDA_INITIALIZATION_TYPE="on-demand")
    assert not report["snapstart_imported"] and report["status"] == 200
    [line] = metrics
    assert line["ColdStart"] == 1 and line["ModelLoadMs"] > 0  # loaded by this first request
