"""slpack layer end to end, offline: from this environment and from a local wheelhouse.

Wheelhouses are made here, never downloaded: the installed numpy and onnxruntime repacked as the
wheels they came from, or tiny synthetic wheels that only carry a name and tags.
"""

from __future__ import annotations

import json
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from slpack.errors import SlpackError
from slpack.layer import LayerResult, build_layer
from slpack.layer.install import describe_installed
from slpack.layer.resolve import Finder, resolve_wheels
from slpack.layer.sizes import MIB
from slpack.layer.spec import load_spec
from slpack.layer.target import host_target, lambda_target
from slpack.resources import data_dir
from slpack.ziputil import sha256_file

pytestmark = pytest.mark.slow


def _cache_of(result: LayerResult) -> Path:
    return result.zip_path.parent.parent


def repack_installed(name: str, wheelhouse: Path) -> Path:
    """Rebuild the wheel an installed distribution came from (its RECORD files, its WHEEL tags)."""
    dist = metadata.distribution(name)
    wheel = wheelhouse / describe_installed(dist).wheel
    wheelhouse.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for entry in dist.files or ():
            rel = entry.as_posix()
            path = Path(str(entry.locate()))
            if ".." not in rel.split("/") and "__pycache__" not in rel and path.is_file():
                zf.write(path, rel)
    return wheel


def synthetic_wheel(wheelhouse: Path, name: str, version: str, tags: str) -> Path:
    """A wheel that only has to be found: the resolver reads names and tags, never the contents."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    wheel = wheelhouse / f"{name}-{version}-{tags}.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        zf.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tags}\n")
        zf.writestr(f"{info}/RECORD", "")
    return wheel


def test_the_environment_layer_is_trimmed_smoke_tested_and_locked(host_layer: LayerResult) -> None:
    lock = host_layer.lock
    host = host_target()
    ort, np = metadata.version("onnxruntime"), metadata.version("numpy")
    expected = f"ort-{ort}-np{np}-py{host.py_tag}-{host.arch}-local.zip"
    assert host_layer.zip_path.name == expected
    assert lock["smoke"]["ran"] and lock["smoke"]["modules"] == [
        "numpy",
        "onnxruntime",
    ]  # no protobuf, sympy, ...
    assert lock["smoke"]["metadata"] == {
        "numpy": metadata.version("numpy"),
        "onnxruntime": metadata.version("onnxruntime"),
    }
    assert lock["sha256"] == sha256_file(host_layer.zip_path) and lock["runtime"] == "local"
    assert {p["name"] for p in lock["packages"]} == {"numpy", "onnxruntime"}
    assert all(p["hash_of"] == "RECORD" and len(p["sha256"]) == 64 for p in lock["packages"])
    assert lock["spec"]["name"] == "onnxruntime-numpy" and len(lock["spec"]["sha256"]) == 64
    sizes = lock["sizes"]
    assert sizes["unzipped"] < sizes["untrimmed"] * 0.75 and sizes["zipped"] < sizes["unzipped"]
    assert sum(p["unzipped"] for p in sizes["packages"].values()) == sizes["unzipped"]
    with zipfile.ZipFile(host_layer.zip_path) as zf:
        names = zf.namelist()
    assert all(n.startswith("python/") for n in names)
    assert not [
        n for n in names if "/tests/" in n or n.endswith(".pyi") or "/tools/" in n or "f2py" in n
    ]
    compiled = [n for n in names if n.endswith(".pyc")]
    assert (
        lock["bytecode"]
        == f"imported modules ({len(compiled)} files), unchecked-hash .pyc for python{host.python}"
    )
    assert all("/__pycache__/" in n and n.endswith(f".cpython-{host.py_tag}.pyc") for n in compiled)
    assert f"python/numpy/__pycache__/__init__.cpython-{host.py_tag}.pyc" in compiled
    assert not [n for n in compiled if "/testing/" in n], "only what a request imports is compiled"
    assert any(n.startswith("python/numpy-") and n.endswith(".dist-info/METADATA") for n in names)
    assert "python/onnxruntime/LICENSE" in names
    assert not [n for n in names if "/libonnxruntime.so" in n]


def test_a_repeated_build_is_served_from_the_cache_byte_for_byte(
    host_layer: LayerResult, tmp_path: Path
) -> None:
    again = build_layer(from_env=True, cache_dir=_cache_of(host_layer), out=tmp_path / "out")
    assert again.cached
    assert sha256_file(again.zip_path) == host_layer.sha256
    assert json.loads(again.lock_path.read_text()) == host_layer.lock
    assert again.lock_path.name == again.zip_path.stem + ".lock.json"


def test_the_same_inputs_give_a_byte_identical_zip(host_layer: LayerResult, tmp_path: Path) -> None:
    fresh = build_layer(from_env=True, cache_dir=tmp_path / "other-cache")
    assert not fresh.cached and fresh.sha256 == host_layer.sha256
    assert fresh.zip_path.read_bytes() == host_layer.zip_path.read_bytes()


def test_a_wheelhouse_layer_installs_the_wheels_and_passes_the_smoke_test(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheels"
    wheels = [repack_installed(name, wheelhouse) for name in ("numpy", "onnxruntime")]
    result = build_layer(
        target=host_target(),
        wheelhouse=wheelhouse,
        cache_dir=tmp_path / "cache",
        out=tmp_path / "out",
    )
    assert result.lock["smoke"]["ran"] and result.lock["source"] == "wheels"
    pinned = {p["wheel"]: p["sha256"] for p in result.lock["packages"]}
    assert pinned == {w.name: sha256_file(w) for w in wheels}
    assert all(p["hash_of"] == "wheel" for p in result.lock["packages"])


def test_a_trim_rule_that_breaks_the_runtime_fails_the_build(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    shipped = (data_dir("layers") / "onnxruntime-numpy.yaml").read_text()
    rule = '  - name: linalg\n    why: "wrongly"\n    paths: ["numpy/linalg/**"]\n'
    broken.write_text(shipped.replace("drop:\n", "drop:\n" + rule, 1))
    with pytest.raises(SlpackError, match="failed its smoke test"):
        build_layer(from_env=True, spec=broken, cache_dir=tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name != "wheels"], (
        "a failed build leaves no cache entry"
    )


def test_the_environment_cannot_pass_for_an_older_runtime(tmp_path: Path) -> None:
    older = "3.11" if host_target().python != "3.11" else "3.10"
    with pytest.raises(SlpackError, match=f"cannot load on python{older}"):
        build_layer(
            python=older, arch=host_target().arch, from_env=True, cache_dir=tmp_path / "cache"
        )


def test_layer_and_function_over_250_mb_is_refused(host_layer: LayerResult) -> None:
    with pytest.raises(SlpackError, match=r"over Lambda's 250\.0 MiB limit"):
        build_layer(from_env=True, cache_dir=_cache_of(host_layer), function_unzipped=200 * MIB)


def test_no_wheel_for_the_runtime_names_the_runtimes_that_work(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheels"
    synthetic_wheel(
        wheelhouse,
        "onnxruntime",
        "1.16.3",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    )
    synthetic_wheel(wheelhouse, "onnxruntime", "1.30.0", "cp312-cp312-manylinux_2_28_x86_64")
    synthetic_wheel(wheelhouse, "onnxruntime", "1.30.0", "cp313-cp313-manylinux_2_28_x86_64")
    with pytest.raises(SlpackError) as caught:
        build_layer(
            python="3.11", arch="x86_64", wheelhouse=wheelhouse, cache_dir=tmp_path / "cache"
        )
    message = str(caught.value)
    assert message.startswith(
        "no onnxruntime wheel fits python3.11 on x86_64 (Amazon Linux 2, glibc 2.26"
    )
    assert "stop at 1.16.3, which does not satisfy onnxruntime>=1.17" in message
    assert "python3.12, python3.13 on x86_64 (newest onnxruntime 1.30.0)" in message
    assert "\n" not in message and message.endswith(".")


def test_arm64_refuses_onnxruntime_releases_without_the_cpuinfo_fix(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheels"
    synthetic_wheel(
        wheelhouse,
        "onnxruntime",
        "1.25.1",
        "cp312-cp312-manylinux_2_27_aarch64.manylinux_2_28_aarch64",
    )
    with pytest.raises(SlpackError) as caught:
        build_layer(
            python="3.12", arch="arm64", wheelhouse=wheelhouse, cache_dir=tmp_path / "cache"
        )
    message = str(caught.value)
    assert "stop at 1.25.1, which does not satisfy onnxruntime>=1.17,>=1.26.0" in message
    assert (
        "/sys/devices/system/cpu/possible" in message
        and "no Lambda runtime has a wheel of onnxruntime" in message
    )


def test_the_cli_prints_the_report_and_the_zip_path(
    host_layer: LayerResult, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = _cache_of(host_layer)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "slpack").mkdir(parents=True)
    (tmp_path / "xdg" / "slpack" / "layers").symlink_to(cache)
    result = run_cli("layer", "--from-env", "--out", tmp_path / "out")
    assert result.code == 0, result.err
    assert result.out.strip() == str(tmp_path / "out" / host_layer.zip_path.name)
    for fragment in (
        "numpy",
        "onnxruntime",
        "total",
        "trimmed: numpy tests",
        "smoke test passed",
        "(cached)",
        "MiB",
    ):
        assert fragment in result.err
    refused = run_cli("layer", "--from-env", "--wheelhouse", tmp_path)
    assert (
        refused.code == 1
        and "two different sources" in refused.err
        and "Traceback" not in refused.err
    )


def test_the_wheel_pip_picks_is_used_not_an_older_download_beside_it(tmp_path: Path) -> None:
    wheelhouse, dest = tmp_path / "wheels", tmp_path / "downloads"
    tags = "cp312-cp312-manylinux_2_28_x86_64"
    synthetic_wheel(wheelhouse, "onnxruntime", "1.30.0", tags)
    synthetic_wheel(wheelhouse, "numpy", "2.0.0", tags)
    synthetic_wheel(
        dest, "onnxruntime", "1.31.0", tags
    )  # left by an earlier run against another source
    wheels = resolve_wheels(load_spec(), lambda_target("3.12", "x86_64"), Finder(wheelhouse), dest)
    assert [w.name for w in wheels] == [f"onnxruntime-1.30.0-{tags}.whl", f"numpy-2.0.0-{tags}.whl"]
