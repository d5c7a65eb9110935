"""The edge target: a folder and a zip that answer with only numpy and onnxruntime."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pipelines import COVERAGE

from slpack.bundler import build_bundle
from slpack.render import render

ROW = {
    "age": 40.0,
    "monthly_spend": 55.2,
    "visits": 3,
    "is_member": True,
    "plan": "pro",
    "region": None,
    "tier": "low",
}
_RUN = (
    "import runpy, sys; sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[2:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edge")
    model, sample = COVERAGE["mixed-logreg"]()
    result = build_bundle(model, sample, out, name="mixed")
    render(result.bundle_dir, ["edge"])
    return result.bundle_dir / "deploy" / "edge"


def _isolated(layer: Path, target: Path, *args: str, **kw: object) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLPACK_MODEL_CACHE_DIR": str(target.parent / "cache"),
    }
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _RUN, str(layer), str(target), *args],
        env=env,
        text=True,
        **kw,
    )  # type: ignore[call-overload]


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["edge.zip", "app/__main__.py"])
def test_json_lines_in_an_isolated_interpreter(
    edge: Path, host_layer_dir: Path, entry: str
) -> None:
    proc = _isolated(
        host_layer_dir,
        edge / entry,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(json.dumps({"instances": [ROW]}) + "\n\n" + "{broken\n", timeout=60)
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2, err
    assert lines[0]["predictions"][0]["label"] in (0, 1)
    assert lines[1]["error"]["code"] == "invalid_json"
    assert proc.returncode == 1  # an answer was an error
    assert "request failed" in err  # logs went to stderr, not into the answers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_http_mode(edge: Path, host_layer_dir: Path) -> None:
    port = _free_port()
    proc = _isolated(
        host_layer_dir,
        edge / "edge.zip",
        "--port",
        str(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                meta = json.loads(urllib.request.urlopen(base + "/metadata", timeout=2).read())
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            pytest.fail("the edge server did not start")
        assert meta["model"]["name"] == "mixed"
        req = urllib.request.Request(
            base + "/",
            data=json.dumps({"instances": [ROW]}).encode(),
            headers={"content-type": "application/json"},
        )
        answer = json.loads(urllib.request.urlopen(req, timeout=5).read())
        assert answer["predictions"][0]["label"] in (0, 1)
        bad = urllib.request.Request(base + "/", data=b'{"instances": [{"age": "x"}]}')
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=5)
        assert info.value.code == 400 and json.loads(info.value.read())["error"]["details"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
