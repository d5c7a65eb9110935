"""Hostile files and requests: the safe format is safe, pickles can be refused, no request can
trip the errors alarm, a hanging S3 costs a 503 within the invocation's time, no sample data
ships in a bundle."""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from pipelines import COVERAGE
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from slpack.bundler import build_bundle
from slpack_handler.app import App
from slpack_handler.config import Settings
from slpack_handler.events import _deadline

skops_io = pytest.importorskip("skops.io")

PAYLOAD_TYPE = "sklearn.utils._testing.assert_run_python_script_without_output"


def _one_sentence(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _iris(tmp_path: Path) -> tuple[Any, Path]:
    model, sample = COVERAGE["standard-scaler-logreg"]()
    sample.to_csv(tmp_path / "iris.csv", index=False)
    return model, tmp_path / "iris.csv"


# -- model files ----------------------------------------------------------------------------


def _crafted_skops(path: Path, marker: Path) -> None:
    """A .skops scaler whose ``copy`` attribute is built by calling a scikit-learn test helper
    that runs a Python script: the payload writes ``marker``. skops itself reports the type
    untrusted; a loader that trusts every ``sklearn.`` type runs it."""
    skops_io.dump(StandardScaler().fit(np.eye(4)), path)
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(files["schema.json"])
    script = f"open({str(marker)!r}, 'w').write('pwned')"
    schema["content"]["content"]["copy"] = {
        "__class__": PAYLOAD_TYPE.rsplit(".", 1)[1],
        "__module__": PAYLOAD_TYPE.rsplit(".", 1)[0],
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "JsonNode",
                    "content": json.dumps(script),
                    "is_json": True,
                }
            ],
        },
    }
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def test_a_crafted_skops_file_is_refused_and_runs_nothing(run_cli, tmp_path: Path) -> None:
    _, sample = _iris(tmp_path)
    marker = tmp_path / "pwned"
    _crafted_skops(tmp_path / "evil.skops", marker)
    assert PAYLOAD_TYPE in skops_io.get_untrusted_types(file=tmp_path / "evil.skops")

    result = run_cli("build", tmp_path / "evil.skops", "--sample", sample, "--target", "none")
    assert result.code != 0
    message = _one_sentence(result.err)
    assert PAYLOAD_TYPE in message and f"--trust {PAYLOAD_TYPE}" in message
    assert not marker.exists()


def test_skops_files_of_common_pipelines_build_without_flags(run_cli, tmp_path: Path) -> None:
    """Types skops reports untrusted but slpack reviewed (a fitted tree, a dtype) need no flag;
    anything else needs --trust, by exact name."""
    model, X = COVERAGE["mixed-random-forest"]()
    skops_io.dump(model, tmp_path / "forest.skops")
    X.to_csv(tmp_path / "mixed.csv", index=False)
    args = ("--target", "none", "--out", tmp_path / "dist", "--runtime", "onnxruntime")
    ok = run_cli("build", tmp_path / "forest.skops", "--sample", tmp_path / "mixed.csv", *args)
    assert ok.code == 0, ok.err
    assert "pickle" not in ok.err


def test_pickles_are_refused_before_they_are_opened(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Payload:
        def __reduce__(self) -> Any:
            return (Path.write_text, (tmp_path / "pwned", "pwned"))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Payload()))
    _, sample = _iris(tmp_path)
    result = run_cli("build", tmp_path / "evil.pkl", "--sample", sample, "--no-pickle")
    assert result.code != 0 and "skops" in _one_sentence(result.err)
    monkeypatch.setenv("SLPACK_NO_PICKLE", "1")
    result = run_cli("build", tmp_path / "evil.pkl", "--sample", sample)
    assert result.code != 0 and "SLPACK_NO_PICKLE" in _one_sentence(result.err)
    assert not (tmp_path / "pwned").exists()


# -- no sample data in a bundle -------------------------------------------------------------


def test_no_sample_value_ships_and_long_strings_are_bounded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "email": [f"person{i}@example.org" for i in range(n)],  # read by nothing
            "city": rng.choice(["Lyon", "Oslo", "Quito"], n),
            "income": rng.normal(50_000, 9_000, n).round(2),
            "note": ["short"] * n,  # text the model never reads, one of it 20,000 characters
        }
    )
    frame.loc[7, "note"] = "x" * 20_000
    y = (frame["income"] > 50_000).astype(int)
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["income"]),
        ]
    )
    model = make_pipeline(prep, LogisticRegression()).fit(frame, y)
    result = build_bundle(model, frame, tmp_path, name="people", runtime="onnxruntime")
    assert any("left out" in note for note in result.notes)
    with zipfile.ZipFile(result.files["function_zip"]) as zf:
        shipped = b"".join(zf.read(name) for name in zf.namelist())
    shipped += result.files["request"].read_bytes()
    for i in range(n):
        assert f"person{i}@example.org".encode() not in shipped
    assert b"x" * 100 not in shipped
    manifest = json.loads(result.files["manifest"].read_text())
    assert len(result.files["manifest"].read_bytes()) < 20_000
    # the categories the fitted encoder holds are the model's own, and are all that is listed
    features = {f["name"]: f for f in manifest["input"]["features"]}
    assert features["city"]["categories"] == ["Lyon", "Oslo", "Quito"]
    assert set(manifest["input"]["ignored"]) == {"email", "note"}  # never read by the model


# -- requests -------------------------------------------------------------------------------

SURROGATES = ["\ud800", "caf\udce9", "\udfff\ud800"]


@pytest.mark.parametrize("runtime", ["onnxruntime", "python"])
def test_strings_no_model_can_encode_are_a_400_naming_the_field(
    tmp_path: Path, runtime: str, capsys: pytest.CaptureFixture[str]
) -> None:
    apps = {}
    for case in ("mixed-logreg", "tfidf-logreg"):
        model, sample = COVERAGE[case]()
        bundle = build_bundle(model, sample, tmp_path / case, name=case, runtime=runtime)
        apps[case] = App(Settings(model_dir=str(bundle.bundle_dir), metrics="emf"))
    row = {
        "age": 40.0,
        "monthly_spend": 10.0,
        "visits": 3,
        "is_member": True,
        "plan": "pro",
        "region": "eu",
        "tier": "low",
    }
    bodies = (
        [("mixed-logreg", {"instances": [{**row, "plan": s}]}, "plan") for s in SURROGATES]
        + [
            (
                "mixed-logreg",
                {"inputs": {**{k: [v] for k, v in row.items()}, "region": [s]}},
                "region",
            )
            for s in SURROGATES
        ]
        + [
            ("tfidf-logreg", {"instances": [{"text": f"refund {s} please"}]}, "text")
            for s in SURROGATES
        ]
    )
    capsys.readouterr()
    for case, body, field in bodies:
        status, payload = apps[case].handle_direct(body)
        assert status == 400, payload
        assert [(d["field"], d["code"]) for d in payload["error"]["details"]] == [
            (field, "invalid_string")
        ]
        json.dumps(payload, ensure_ascii=True)  # the answer itself is valid JSON text
    metrics = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert len(metrics) == len(bodies) and all(m["Errors"] == 0 for m in metrics)
    # NUL is a character like any other: both scikit-learn and the runtimes encode it
    status, payload = apps["mixed-logreg"].handle_direct(
        {"instances": [{**row, "plan": "pro\x00"}]}
    )
    assert status == 200


class _HangingServer:
    """Accepts connections and never answers: an S3 that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_hanging_s3_answers_503_within_the_invocation_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model, sample = COVERAGE["standard-scaler-logreg"]()
    bundle = build_bundle(model, sample, tmp_path / "dist", name="iris").bundle_dir
    server = _HangingServer()
    monkeypatch.setenv("SLPACK_S3_ENDPOINT_URL", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app = App(
        Settings(
            model_dir=str(bundle),
            model_uri="s3://models/iris/model",
            model_cache_dir=str(tmp_path / "cache"),
            model_fetch_margin_ms=500,
            metrics="emf",
        )
    )
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 2000)
    try:
        started = time.monotonic()
        status, payload = app.handle_direct(
            {"instances": [[5.1, 3.5, 1.4, 0.2]]}, "r1", _deadline(context)
        )
        took = time.monotonic() - started
    finally:
        server.close()
    assert status == 503 and "within the 2.0 s" in payload["error"]["message"]
    assert took < 2.0  # answered inside the invocation, with the margin to spare
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert line["ModelLoadFailures"] == 1


def test_the_deadline_comes_from_the_lambda_context() -> None:
    assert _deadline(None) is None and _deadline(SimpleNamespace()) is None
    deadline = _deadline(SimpleNamespace(get_remaining_time_in_millis=lambda: 1500))
    assert deadline is not None and 1.4 < deadline - time.monotonic() <= 1.5


def test_joblib_models_still_build_with_a_warning(run_cli, tmp_path: Path) -> None:
    model, sample = _iris(tmp_path)
    joblib.dump(model, tmp_path / "m.joblib")
    args = ("--target", "none", "--out", tmp_path / "d")
    result = run_cli("build", tmp_path / "m.joblib", "--sample", sample, *args)
    assert result.code == 0 and "pickle-based" in result.err
