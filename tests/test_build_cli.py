"""``slpack build`` from the command line: the happy path, every user error, extensions."""

from __future__ import annotations

import json
import pickle
import textwrap
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from slpack.layer.bytecode import compiler_for
from slpack_handler.contract import DEFAULT_PYTHON


@pytest.fixture
def iris_files(tmp_path: Path) -> tuple[Path, Path]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    joblib.dump(model, tmp_path / "iris.joblib")
    X.assign(target=y).to_csv(tmp_path / "iris.csv", index=False)  # a target column is ignored
    return tmp_path / "iris.joblib", tmp_path / "iris.csv"


def test_build_writes_the_bundle_and_reports(run_cli, iris_files, tmp_path: Path) -> None:
    model, sample = iris_files
    result = run_cli(
        "build", model, "--sample", sample, "--out", tmp_path / "dist", "--target", "none"
    )
    assert result.code == 0, result.err
    assert "pickle" in result.err and "parity" in result.err
    bundle = tmp_path / "dist" / "iris"
    manifest = json.loads((bundle / "slpack.json").read_text())
    assert manifest["task"] == "classifier" and manifest["output"]["classes"] == [0, 1, 2]
    assert manifest["parity"]["passed"] and manifest["parity"]["label_agreement"] == 1.0
    assert manifest["versions"]["scikit-learn"] and manifest["versions"]["onnxruntime"]
    assert set(manifest["stats"]) == {f["name"] for f in manifest["input"]["features"]}
    with zipfile.ZipFile(bundle / "function.zip") as zf:
        names = zf.namelist()
    assert f"model/{manifest['model']['file']}" in names and "model/slpack.json" in names
    assert manifest["runtime"]["name"] in ("python", "onnxruntime")
    assert manifest["runtime"]["chosen_by"] == "auto" and manifest["runtime"]["reason"]
    report = json.loads((bundle / "build.json").read_text())
    assert set(report["runtime"]["measured"]) == {"python", "onnxruntime"}
    assert json.loads((bundle / "request.json").read_text())["instances"][0].keys() == {
        f["name"] for f in manifest["input"]["features"]
    }
    assert "slpack_handler/__init__.py" in names
    assert all(n.startswith(("slpack_handler/", "model/")) for n in names)


@pytest.mark.parametrize("runtime", ["python", "onnxruntime"])
def test_same_inputs_give_a_byte_identical_function_zip(
    run_cli, iris_files, tmp_path: Path, runtime: str
) -> None:
    model, sample = iris_files
    digests = []
    for out in ("a", "b"):
        args = ("--out", tmp_path / out, "--target", "none", "--runtime", runtime)
        assert run_cli("build", model, "--sample", sample, *args).code == 0
        digests.append((tmp_path / out / "iris" / "function.zip").read_bytes())
    assert digests[0] == digests[1]
    with zipfile.ZipFile(tmp_path / "a" / "iris" / "function.zip") as zf:
        compiled = [n for n in zf.namelist() if n.endswith(".pyc")]
    # bytecode for the default runtime whenever this machine has its interpreter, built in temporary
    # folders
    assert bool(compiled) == (compiler_for(DEFAULT_PYTHON) is not None)
    assert all(n.endswith(f".cpython-{DEFAULT_PYTHON.replace('.', '')}.pyc") for n in compiled)


def _one_sentence(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_missing_model_file(run_cli, iris_files, tmp_path: Path) -> None:
    _, sample = iris_files
    result = run_cli("build", tmp_path / "nope.joblib", "--sample", sample, "--target", "none")
    assert result.code != 0
    assert "does not exist" in _one_sentence(result.err)


def test_not_a_fitted_model(run_cli, iris_files, tmp_path: Path) -> None:
    _, sample = iris_files
    joblib.dump(LogisticRegression(), tmp_path / "unfitted.joblib")
    result = run_cli("build", tmp_path / "unfitted.joblib", "--sample", sample, "--target", "none")
    assert result.code != 0
    assert "not fitted" in _one_sentence(result.err)
    joblib.dump({"weights": [1, 2]}, tmp_path / "dict.joblib")
    result = run_cli("build", tmp_path / "dict.joblib", "--sample", sample, "--target", "none")
    assert "not a scikit-learn estimator" in _one_sentence(result.err)


def test_corrupt_model_file(run_cli, iris_files, tmp_path: Path) -> None:
    _, sample = iris_files
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle at all")
    result = run_cli("build", tmp_path / "bad.pkl", "--sample", sample, "--target", "none")
    assert result.code != 0
    assert "not a readable" in _one_sentence(result.err)


def test_sample_columns_not_matching_the_model(run_cli, iris_files, tmp_path: Path) -> None:
    model, sample = iris_files
    frame = pd.read_csv(sample).drop(columns=["petal width (cm)"])
    frame.to_csv(tmp_path / "short.csv", index=False)
    result = run_cli("build", model, "--sample", tmp_path / "short.csv", "--target", "none")
    assert result.code != 0
    assert "petal width (cm)" in _one_sentence(result.err)


def test_unreadable_sample(run_cli, iris_files, tmp_path: Path) -> None:
    model, _ = iris_files
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 garbage")
    result = run_cli("build", model, "--sample", tmp_path / "bad.parquet", "--target", "none")
    assert result.code != 0
    assert "could not read the sample" in _one_sentence(result.err)
    (tmp_path / "empty.csv").write_text("a,b\n")
    result = run_cli("build", model, "--sample", tmp_path / "empty.csv", "--target", "none")
    assert "no rows" in _one_sentence(result.err)
    (tmp_path / "sample.xlsx").write_text("x")
    result = run_cli("build", model, "--sample", tmp_path / "sample.xlsx", "--target", "none")
    assert "not a supported sample format" in _one_sentence(result.err)


def test_array_sample_and_json_records(run_cli, tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "arr.joblib")
    np.save(tmp_path / "sample.npy", X)
    assert (
        run_cli(
            "build",
            tmp_path / "arr.joblib",
            "--sample",
            tmp_path / "sample.npy",
            "--out",
            tmp_path,
            "--target",
            "none",
        ).code
        == 0
    )
    manifest = json.loads((tmp_path / "arr" / "slpack.json").read_text())
    assert manifest["input"]["layout"] == "tensor" and manifest["input"]["tensor"]["width"] == 4
    records = [{f"x{i}": float(v) for i, v in enumerate(row)} for row in X[:20]]
    (tmp_path / "sample.json").write_text(json.dumps(records))
    assert (
        run_cli(
            "build",
            tmp_path / "arr.joblib",
            "--sample",
            tmp_path / "sample.json",
            "--out",
            tmp_path / "j",
            "--target",
            "none",
        ).code
        == 0
    )


def test_parquet_sample(run_cli, iris_files, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    model, sample = iris_files
    pd.read_csv(sample).to_parquet(tmp_path / "iris.parquet")
    assert (
        run_cli(
            "build",
            model,
            "--sample",
            tmp_path / "iris.parquet",
            "--out",
            tmp_path / "pq",
            "--target",
            "none",
        ).code
        == 0
    )


def test_skops_model(run_cli, iris_files, tmp_path: Path) -> None:
    sio = pytest.importorskip("skops.io")
    model, sample = iris_files
    sio.dump(joblib.load(model), tmp_path / "iris.skops")
    result = run_cli(
        "build",
        tmp_path / "iris.skops",
        "--sample",
        sample,
        "--out",
        tmp_path / "sk",
        "--target",
        "none",
    )
    assert result.code == 0, result.err
    assert "pickle" not in result.err


def test_parity_failure_prints_the_worst_rows_and_allow_mismatch_records_them(
    run_cli, tmp_path: Path
) -> None:
    texts = pd.DataFrame(
        {"text": ["CAFÉ CRÈME", "naïve idea", "plain words", "DÉJÀ VU again", "simple text"] * 8}
    )  # ONNX lowercases ASCII only: "CAFÉ" is not "café" there
    y = ["fr", "fr", "en", "fr", "en"] * 8
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    model = Pipeline(
        [("p", ColumnTransformer([("t", TfidfVectorizer(), "text")])), ("m", LogisticRegression())]
    ).fit(texts, y)
    joblib.dump(model, tmp_path / "accents.joblib")
    texts.to_csv(tmp_path / "texts.csv", index=False)
    result = run_cli(
        "build",
        tmp_path / "accents.joblib",
        "--sample",
        tmp_path / "texts.csv",
        "--out",
        tmp_path,
        "--target",
        "none",
    )
    assert result.code == 3
    assert "worst rows" in result.err and "--runtime sklearn" in _one_sentence(result.err)
    assert not (tmp_path / "accents").exists()
    result = run_cli(
        "build",
        tmp_path / "accents.joblib",
        "--sample",
        tmp_path / "texts.csv",
        "--out",
        tmp_path,
        "--target",
        "none",
        "--allow-mismatch",
    )
    assert result.code == 0
    parity = json.loads((tmp_path / "accents" / "slpack.json").read_text())["parity"]
    assert parity["passed"] is False and parity["allow_mismatch"] is True and parity["worst"]


# -- unsupported estimators and custom converters ------------------------------------------

_CUSTOM_STEP = textwrap.dedent(
    """
    import numpy as np
    from sklearn.base import BaseEstimator, TransformerMixin

    class Doubler(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.n_features_in_ = np.asarray(X).shape[1]
            return self

        def transform(self, X):
            return np.asarray(X, dtype=np.float64) * 2.0
    """
)

_CONVERTER = textwrap.dedent(
    """
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import OnnxMul
    from skl2onnx.common.data_types import guess_numpy_type
    from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes
    import numpy as np
    from doubler import Doubler

    def shape(operator):
        operator.outputs[0].type = operator.inputs[0].type.__class__([None,
        operator.inputs[0].type.shape[1]])

    def convert(scope, operator, container):
        dtype = guess_numpy_type(operator.inputs[0].type)
        node = OnnxMul(operator.inputs[0], np.array([2.0], dtype=dtype),
        op_version=container.target_opset,
                       output_names=operator.outputs[:1])
        node.add_to(scope, container)

    update_registered_converter(Doubler, "SlpackTestDoubler", shape, convert)
    """
)


def test_unsupported_step_names_the_estimator_and_a_custom_converter_fixes_it(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "doubler.py").write_text(_CUSTOM_STEP)
    (tmp_path / "doubler_onnx.py").write_text(_CONVERTER)
    monkeypatch.syspath_prepend(str(tmp_path))
    from doubler import Doubler  # type: ignore[import-not-found]

    X, y = load_iris(return_X_y=True)
    joblib.dump(
        make_pipeline(Doubler(), LogisticRegression(max_iter=500)).fit(X, y),
        tmp_path / "custom.joblib",
    )
    np.save(tmp_path / "x.npy", X)
    result = run_cli(
        "build",
        tmp_path / "custom.joblib",
        "--sample",
        tmp_path / "x.npy",
        "--out",
        tmp_path,
        "--target",
        "none",
    )
    assert result.code != 0
    line = _one_sentence(result.err)
    assert "Doubler" in line and "--converters" in line
    result = run_cli(
        "build",
        tmp_path / "custom.joblib",
        "--sample",
        tmp_path / "x.npy",
        "--out",
        tmp_path,
        "--target",
        "none",
        "--converters",
        tmp_path / "doubler_onnx.py",
    )
    assert result.code == 0, result.err


def test_function_transformer_error_explains_the_way_out(run_cli, tmp_path: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    X, y = load_iris(return_X_y=True)
    joblib.dump(
        make_pipeline(FunctionTransformer(np.cbrt), LogisticRegression(max_iter=500)).fit(X, y),
        tmp_path / "ft.joblib",
    )
    np.save(tmp_path / "x.npy", X)
    result = run_cli(
        "build", tmp_path / "ft.joblib", "--sample", tmp_path / "x.npy", "--target", "none"
    )
    line = _one_sentence(result.err)
    assert "FunctionTransformer runs cbrt" in line and "--runtime sklearn" in line


def test_pickle_module_missing_is_a_clear_error(run_cli, iris_files, tmp_path: Path) -> None:
    _, sample = iris_files
    # A pickle that references a module that does not exist here.
    payload = pickle.dumps(LogisticRegression(), protocol=2).replace(
        b"sklearn.linear_model._logistic", b"nonexistent_pkg_xyz.models_mod"
    )
    (tmp_path / "ghost.pkl").write_bytes(payload)
    result = run_cli("build", tmp_path / "ghost.pkl", "--sample", sample, "--target", "none")
    assert result.code != 0
    assert "nonexistent_pkg_xyz" in _one_sentence(result.err)


def test_manifest_hashes_everything_function_zip_ships(run_cli, iris_files, tmp_path: Path) -> None:
    import hashlib

    model, sample = iris_files
    assert (
        run_cli("build", model, "--sample", sample, "--out", tmp_path, "--target", "none").code == 0
    )
    manifest = json.loads((tmp_path / "iris" / "slpack.json").read_text())
    with zipfile.ZipFile(tmp_path / "iris" / "function.zip") as zf:
        shipped = {
            n: hashlib.sha256(zf.read(n)).hexdigest()
            for n in zf.namelist()
            if n != "model/slpack.json"
        }
    recorded = {("model/" + k if k == "model.onnx" else k): v for k, v in manifest["files"].items()}
    assert recorded == shipped


def test_layer_is_recorded_with_its_wheel_hashes(
    run_cli, iris_files, host_layer, tmp_path: Path
) -> None:
    model, sample = iris_files
    result = run_cli(
        "build",
        model,
        "--sample",
        sample,
        "--out",
        tmp_path,
        "--target",
        "none",
        "--layer",
        host_layer.zip_path,
    )
    assert result.code == 0, result.err
    layer = json.loads((tmp_path / "iris" / "slpack.json").read_text())["layer"]
    assert layer["file"] == host_layer.zip_path.name and layer["sha256"] == host_layer.sha256
    assert {p["name"] for p in layer["lock"]["packages"]} >= {"numpy", "onnxruntime"}


def test_bytecode_ships_for_the_target_python(
    run_cli, iris_files, host_layer, tmp_path: Path
) -> None:
    """Lambda's code and layer folders are read-only: bytecode not shipped is compiled at every cold
    start."""
    import importlib.util
    import sys

    tag = sys.implementation.cache_tag
    assert host_layer.lock["bytecode"]
    with zipfile.ZipFile(host_layer.zip_path) as zf:
        layer_pyc = [n for n in zf.namelist() if n.endswith(f".{tag}.pyc")]
        assert "python/numpy/__pycache__/__init__." + tag + ".pyc" in layer_pyc
        flags = int.from_bytes(zf.read(layer_pyc[0])[4:8], "little")
        assert flags == 0b01  # hash-based, unchecked: valid whatever the extracted timestamps
    model, sample = iris_files
    assert (
        run_cli(
            "build",
            model,
            "--sample",
            sample,
            "--out",
            tmp_path,
            "--target",
            "none",
            "--layer",
            host_layer.zip_path,
        ).code
        == 0
    )
    with zipfile.ZipFile(tmp_path / "iris" / "function.zip") as zf:
        assert f"slpack_handler/__pycache__/app.{tag}.pyc" in zf.namelist()
    assert importlib.util.MAGIC_NUMBER  # the running interpreter wrote these, with its own magic


def test_version(run_cli) -> None:
    import slpack

    result = run_cli("--version")
    assert result.code == 0 and result.out.strip() == f"slpack {slpack.__version__}"
