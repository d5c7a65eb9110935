"""Every target with a real bundle on each runtime: the python runtime needs no layer anywhere
(templates, slpack deploy, the image, the source platforms, the edge zip, serve and invoke); a
bundle on onnxruntime keeps its layer."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from conftest import AWS_TEST_REGION
from pipelines import COVERAGE
from test_render import tf_resources

from slpack.bundler import build_bundle
from slpack.deploy import DeployOptions, deploy
from slpack.errors import SlpackError
from slpack.render import RenderOptions, RenderWarning, render

PYTHON39 = Path("/root/.pyenv/versions/3.9.18/bin/python")
AWS = ["sam", "serverless", "terraform"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same mixed-type pipeline built for each runtime (``dist/mixed`` under its own root)."""
    model, sample = COVERAGE["mixed-logreg"]()
    out = {}
    for runtime in ("python", "onnxruntime"):
        root = tmp_path_factory.mktemp(runtime)
        out[runtime] = build_bundle(
            model, sample, root / "dist", name="mixed", runtime=runtime
        ).bundle_dir
    return out


def _render(bundle: Path, targets: list[str], **options: Any) -> list[str]:
    """Render; return the warnings' messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RenderWarning)
        render(bundle, targets, RenderOptions(**options))
    return [str(w.message) for w in caught if issubclass(w.category, RenderWarning)]


def test_aws_templates_have_no_layer_for_the_python_runtime(bundles: dict[str, Path]) -> None:
    bundle = bundles["python"]
    assert not any("layer" in w for w in _render(bundle, AWS))
    sam = yaml.safe_load((bundle / "deploy/sam/template.yaml").read_text())
    function = sam["Resources"]["Function"]["Properties"]
    assert "Parameters" not in sam and "Layers" not in function
    assert function["Architectures"] == ["arm64"]  # no native code: Graviton is the default
    assert "python runtime" in sam["Description"]
    sls = yaml.safe_load((bundle / "deploy/serverless/serverless.yml").read_text())
    assert "layers" not in sls and "layers" not in sls["functions"]["predict"]
    assert sls["provider"]["architecture"] == "arm64"
    tf = bundle / "deploy/terraform"
    assert "layer" not in (tf / "function.tf").read_text()
    assert "layer_arn" not in (tf / "variables.tf").read_text()
    assert not any(t.startswith("aws_lambda_layer") for t, _ in tf_resources(tf))
    for target in AWS:
        readme = (bundle / "deploy" / target / "README.md").read_text()
        assert "no layer" in readme and "LayerArn" not in readme and "layer_arn" not in readme


def test_aws_templates_keep_the_layer_for_onnxruntime(bundles: dict[str, Path]) -> None:
    bundle = bundles["onnxruntime"]
    assert any("no layer given" in w for w in _render(bundle, AWS))
    sam = yaml.safe_load((bundle / "deploy/sam/template.yaml").read_text())
    assert sam["Resources"]["Function"]["Properties"]["Layers"] == [{"Ref": "LayerArn"}]
    assert sam["Resources"]["Function"]["Properties"]["Architectures"] == ["x86_64"]
    sls = yaml.safe_load((bundle / "deploy/serverless/serverless.yml").read_text())
    assert sls["functions"]["predict"]["layers"] == ["${param:layerArn}"]
    assert 'variable "layer_arn"' in (bundle / "deploy/terraform/variables.tf").read_text()


def test_a_layer_given_for_the_python_runtime_is_refused(bundles: dict[str, Path]) -> None:
    with pytest.raises(SlpackError, match="needs no layer"):
        render(bundles["python"], ["sam"], RenderOptions(layer="arn:aws:lambda:us-east-1:1:l:x:1"))


def test_source_platforms_require_numpy_and_onnxruntime_only_for_onnxruntime(
    bundles: dict[str, Path],
) -> None:
    for runtime, bundle in bundles.items():
        _render(bundle, ["gcp", "azure"])
        for target, own in (("gcp", "functions-framework"), ("azure", "azure-functions")):
            lines = (bundle / "deploy" / target / "requirements.txt").read_text().splitlines()
            names = [line.split(">=")[0] for line in lines if not line.startswith("#")]
            wanted = [own] + (["numpy", "onnxruntime"] if runtime == "onnxruntime" else [])
            assert names == wanted, (runtime, target, lines)


def test_the_image_installs_nothing_for_the_python_runtime(bundles: dict[str, Path]) -> None:
    dockerfile, _ = render(bundles["python"], ["image"])
    text = dockerfile.read_text()
    assert "FROM public.ecr.aws/lambda/python:3.12-arm64" in text
    assert "pip" not in text and "numpy" not in text and "onnxruntime" not in text
    assert "function.zip" in text and 'CMD ["slpack_handler.handler"]' in text
    with pytest.raises(SlpackError, match="--layer"):
        render(bundles["onnxruntime"], ["image"])  # its image installs the layer's set


@pytest.mark.skipif(not PYTHON39.exists(), reason="needs CPython 3.9 at " + str(PYTHON39))
def test_the_edge_zip_runs_on_a_bare_python_39(bundles: dict[str, Path], tmp_path: Path) -> None:
    bundle = bundles["python"]
    render(bundle, ["edge"])
    request = (bundle / "request.json").read_text()
    env = {"PATH": os.environ.get("PATH", ""), "SLPACK_MODEL_CACHE_DIR": str(tmp_path / "cache")}
    for _ in range(2):  # the second run uses the unpacked cache
        proc = subprocess.run(
            [str(PYTHON39), "-I", "-S", str(bundle / "deploy/edge/edge.zip")],
            input=json.dumps(json.loads(request)) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads(proc.stdout)["predictions"][0]["label"] in (0, 1)
    manifest = (bundle / "slpack.json").read_bytes()
    (cache,) = (tmp_path / "cache").iterdir()  # keyed by the manifest's sha256
    assert cache.name == __import__("hashlib").sha256(manifest).hexdigest()
    assert sorted(p.name for p in cache.iterdir()) == ["model.pyrt", "slpack.json"]
    numpy = subprocess.run([str(PYTHON39), "-I", "-S", "-c", "import numpy"], capture_output=True)
    assert numpy.returncode != 0  # nothing but the standard library was there


def test_invoke_runs_the_python_runtime_without_a_layer(
    bundles: dict[str, Path], run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import slpack.serve.local as local

    def no_layer(log: Any) -> Path:
        raise AssertionError("a python-runtime bundle must not build a layer")

    monkeypatch.setattr(local, "host_layer", no_layer)
    bundle = bundles["python"]
    result = run_cli("invoke", bundle, "--data", f"@{bundle / 'request.json'}")
    assert result.code == 0, result.err
    assert json.loads(result.out)["predictions"][0]["label"] in (0, 1)


def test_slpack_deploy_ships_the_python_runtime_with_no_layer(
    bundles: dict[str, Path], aws_env: str
) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name=AWS_TEST_REGION)
    s3.create_bucket(Bucket="artifacts")
    outcome = deploy(bundles["python"], DeployOptions(bucket="artifacts", endpoint_url=aws_env))
    layer_steps = [s for s in outcome.plan.steps if s.resource == "layer"]
    assert [s.action for s in layer_steps] == ["unchanged"]  # shown, nothing published
    lam = boto3.client("lambda", endpoint_url=aws_env, region_name=AWS_TEST_REGION)
    config = lam.get_function_configuration(FunctionName="mixed")
    assert not config.get("Layers") and config["Architectures"] == ["arm64"]
    assert lam.list_layers()["Layers"] == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="artifacts")["Contents"]]
    assert not any("layers/" in k for k in keys)
    again = deploy(bundles["python"], DeployOptions(bucket="artifacts", endpoint_url=aws_env))
    assert not again.plan.changes


def test_slpack_deploy_still_needs_a_layer_for_onnxruntime(
    bundles: dict[str, Path], aws_env: str
) -> None:
    with pytest.raises(SlpackError, match="numpy \\+ onnxruntime layer"):
        deploy(bundles["onnxruntime"], DeployOptions(bucket="artifacts", endpoint_url=aws_env))
