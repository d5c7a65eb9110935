"""The container-image target: a Dockerfile that installs exactly the layer's trimmed set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pipelines import COVERAGE

from slpack.bundler import build_bundle
from slpack.errors import SlpackError
from slpack.render import RenderOptions, render


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, sample = COVERAGE["standard-scaler-logreg"]()
    return build_bundle(
        model, sample, tmp_path_factory.mktemp("img"), name="iris", runtime="onnxruntime"
    ).bundle_dir


def test_image_needs_a_layer(bundle: Path) -> None:
    with pytest.raises(SlpackError, match="--layer"):
        render(bundle, ["image"])


@pytest.mark.slow
def test_dockerfile_installs_the_layer_set(bundle: Path, host_layer: Any, tmp_path: Path) -> None:
    zip_path = tmp_path / "ort-1.32.0-np2.4.6-py311-x86_64.zip"
    shutil.copyfile(host_layer.zip_path, zip_path)
    local = dict(host_layer.lock)
    with pytest.raises(SlpackError, match="this machine only"):
        zip_path.with_suffix(".lock.json").write_text(json.dumps(local))
        render(bundle, ["image"], RenderOptions(layer=str(zip_path)))
    lambda_lock = {**local, "runtime": "python3.11", "file": zip_path.name}
    zip_path.with_suffix(".lock.json").write_text(json.dumps(lambda_lock))
    dockerfile, readme = render(bundle, ["image"], RenderOptions(layer=str(zip_path)))
    text = dockerfile.read_text()
    assert text.startswith("# syntax=docker/dockerfile:1")
    assert "FROM public.ecr.aws/lambda/python:3.11" in text
    for package in lambda_lock["packages"]:
        assert package["name"] in text
    assert "function.zip" in text and "slpack_handler.handler" in text
    assert "docker build -f deploy/image/Dockerfile" in readme.read_text()
