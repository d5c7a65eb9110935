"""slpack layer, the fast parts: targets, the spec, ELF facts, trimming, verification, limits, the
image."""

from __future__ import annotations

import dataclasses
import shutil
from importlib import metadata
from pathlib import Path

import pytest
from packaging.tags import Tag

from slpack.errors import SlpackError
from slpack.layer.elf import read_elf
from slpack.layer.image import render_dockerfile
from slpack.layer.install import Installed
from slpack.layer.sizes import DIRECT_UPLOAD_LIMIT, MIB, UNZIPPED_LIMIT, check_limits
from slpack.layer.spec import load_spec, matches
from slpack.layer.target import host_target, lambda_target
from slpack.layer.trim import trim
from slpack.layer.verify import accepted_tags, check_tags, check_tree
from slpack.resources import data_dir

ORT_CAPI = Path(metadata.distribution("onnxruntime").locate_file("onnxruntime/capi"))


def test_lambda_runtimes_decide_glibc_and_platform_tags() -> None:
    al2, al2023 = lambda_target("3.11", "x86_64"), lambda_target("3.12", "arm64")
    assert al2.glibc == (2, 26) and al2023.glibc == (2, 34)
    assert "manylinux_2_26_x86_64" in al2.platform_tags()
    assert "manylinux_2_27_x86_64" not in al2.platform_tags()  # the GLIBC_2.27 not found failure
    assert "manylinux2014_x86_64" in al2.platform_tags()  # legacy names are matched by name
    assert al2023.platform_tags()[0] == "manylinux_2_34_aarch64"
    assert (
        "manylinux2014_aarch64" in al2023.platform_tags()
        and "manylinux1_aarch64" not in al2023.platform_tags()
    )
    assert Tag("cp312", "cp312", "manylinux_2_28_aarch64") in accepted_tags(al2023)
    assert Tag("cp311", "cp311", "manylinux_2_28_aarch64") not in accepted_tags(al2023)


@pytest.mark.parametrize(
    ("python", "arch", "fragment"),
    [("3.8", "x86_64", "no python3.8 runtime"), ("3.12", "armv7", "not a Lambda architecture")],
)
def test_unknown_runtimes_are_one_sentence(python: str, arch: str, fragment: str) -> None:
    with pytest.raises(SlpackError, match=fragment):
        lambda_target(python, arch)


def test_globs_stay_within_folders_unless_doubled() -> None:
    assert matches("numpy/_core/tests/test_a.py", ("numpy/**/tests/**",))
    assert matches("numpy/tests/test_a.py", ("numpy/**/tests/**",))
    assert not matches("numpy/_core/tests_helper.py", ("numpy/**/tests/**",))
    assert matches("numpy/__init__.pyi", ("**/*.pyi",)) and matches("a.pyi", ("**/*.pyi",))
    assert not matches("numpy/_core/_simd.so", ("numpy/_simd.*",))


def test_the_shipped_spec_explains_every_drop_and_keeps_metadata() -> None:
    spec = load_spec()
    assert set(spec.packages) == {"onnxruntime", "numpy"}
    assert all(rule.why and rule.name and rule.paths for rule in spec.drop)
    assert {"protobuf", "flatbuffers", "sympy", "coloredlogs", "packaging"} <= set(
        spec.skip_dependencies
    )
    assert matches("numpy-2.4.6.dist-info/RECORD", spec.keep) and matches(
        "onnxruntime/LICENSE", spec.keep
    )
    arm = spec.requirements_for(lambda_target("3.12", "arm64"))["onnxruntime"]
    assert any(str(r.specifier) == ">=1.26.0" for r in arm), (
        "arm64 needs the cpuinfo fix of onnxruntime 1.26.0"
    )
    assert len(spec.requirements_for(lambda_target("3.12", "x86_64"))["onnxruntime"]) == 1


def test_the_onnxruntime_binding_does_not_link_its_shared_library() -> None:
    """The premise of drop_unlinked: the pybind module is self-contained in the installed wheel."""
    (binding,) = ORT_CAPI.glob("onnxruntime_pybind11_state*.so")
    info = read_elf(binding)
    assert info.machine == host_target().machine
    assert not [n for n in info.needed if n.startswith("libonnxruntime")]
    assert info.glibc >= (2, 17)


def _tree(root: Path, files: dict[str, bytes | Path]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_bytes(content)
    return root


def test_trim_drops_by_rule_keeps_licenses_and_rewrites_record(tmp_path: Path) -> None:
    (provider,) = ORT_CAPI.glob("libonnxruntime_providers_shared.so")
    root = _tree(
        tmp_path / "python",
        {
            "numpy/__init__.py": b"",
            "numpy/_core/tests/test_x.py": b"x" * 100,
            "numpy/_core/tests/LICENSE.txt": b"MIT",
            "numpy/__init__.pyi": b"stub",
            "numpy/f2py/__init__.py": b"f2py",
            "numpy-2.0.dist-info/RECORD": (
                b"numpy/__init__.py,,\nnumpy/f2py/__init__.py,,\nnumpy/__init__.pyi,,\n"
            ),
            "onnxruntime/__init__.py": b"",
            "onnxruntime/tools/x.py": b"tool",
            "onnxruntime/capi/libonnxruntime.so.1.99": provider,  # a stand-in ELF nobody links
            "onnxruntime/capi/libonnxruntime_providers_shared.so": provider,
        },
    )
    result = trim(root, load_spec())
    assert (
        not (root / "numpy/_core/tests/test_x.py").exists()
        and (root / "numpy/_core/tests/LICENSE.txt").exists()
    )
    assert not (root / "numpy/__init__.pyi").exists() and not (root / "numpy/f2py").exists()
    assert not (root / "onnxruntime/tools").exists()
    assert not (root / "onnxruntime/capi/libonnxruntime.so.1.99").exists()
    assert (
        root / "onnxruntime/capi/libonnxruntime_providers_shared.so"
    ).exists()  # kept: dlopened at start
    assert (root / "numpy-2.0.dist-info/RECORD").read_text() == "numpy/__init__.py,,\n"
    by_name = {r.name: r for r in result.rules}
    assert by_name["numpy tests"].files == 1 and by_name["numpy tests"].bytes == 100
    assert by_name["unlinked shared libraries"].files == 1
    assert "numpy/f2py/" in result.removed and "onnxruntime/tools/" in result.removed


def test_a_linked_library_is_never_dropped(tmp_path: Path) -> None:
    (binding,) = ORT_CAPI.glob("onnxruntime_pybind11_state*.so")
    (provider,) = ORT_CAPI.glob("libonnxruntime_providers_shared.so")
    needed = read_elf(binding).needed[
        0
    ]  # a library the binding links, stood in for by another ELF file
    root = _tree(
        tmp_path / "python",
        {f"onnxruntime/capi/{binding.name}": binding, f"onnxruntime/capi/{needed}": provider},
    )
    spec = dataclasses.replace(load_spec(), drop_unlinked=(f"onnxruntime/capi/{needed}",))
    result = trim(root, spec)
    assert (root / f"onnxruntime/capi/{needed}").exists()
    assert next(r for r in result.rules if r.name == "unlinked shared libraries").files == 0


def _dist(name: str, tags: str) -> Installed:
    return Installed(name, "1.0", f"{name}-1.0-{tags}.whl", "0" * 64, "wheel", (tags,), (name,))


def test_wheel_tags_a_runtime_cannot_load_are_refused() -> None:
    al2 = lambda_target("3.11", "x86_64")
    check_tags([_dist("numpy", "cp311-cp311-manylinux_2_17_x86_64")], al2)
    with pytest.raises(
        SlpackError,
        match=r"onnxruntime 1.0 \(cp311-cp311-manylinux_2_28_x86_64\) cannot load on python3.11",
    ):
        check_tags([_dist("onnxruntime", "cp311-cp311-manylinux_2_28_x86_64")], al2)


def test_foreign_binaries_are_caught_by_the_layout_check(tmp_path: Path) -> None:
    (provider,) = ORT_CAPI.glob("libonnxruntime_providers_shared.so")
    (binding,) = ORT_CAPI.glob("onnxruntime_pybind11_state*.so")
    root = _tree(
        tmp_path / "python",
        {
            "onnxruntime/__init__.py": b"",
            "onnxruntime-1.0.dist-info/METADATA": b"Name: onnxruntime",
            "onnxruntime/capi/libonnxruntime_providers_shared.so": provider,
            f"onnxruntime/capi/{binding.name}": binding,
        },
    )
    host = host_target()
    assert check_tree(root, ["onnxruntime"], host) == []
    other = lambda_target("3.12", "arm64" if host.arch == "x86_64" else "x86_64")
    problems = " ".join(check_tree(root, ["onnxruntime", "numpy"], other))
    assert f"built for {host.machine}, not {other.machine}" in problems
    assert "extension module for another Python" in problems
    assert "python/numpy/__init__.py is missing" in problems and "numpy dist-info" in problems
    al2 = lambda_target("3.11", host.arch)
    major, minor = read_elf(binding).glibc
    if (major, minor) > al2.glibc:
        assert any(
            f"needs GLIBC_{major}.{minor}, Amazon Linux 2 has 2.26" in p
            for p in check_tree(root, ["onnxruntime"], al2)
        )


def test_size_limits() -> None:
    assert check_limits(80 * MIB, 27 * MIB) == []
    with pytest.raises(SlpackError, match=r"over Lambda's 250\.0 MiB limit"):
        check_limits(200 * MIB, 60 * MIB, function_unzipped=UNZIPPED_LIMIT - 200 * MIB + 1)
    (warning,) = check_limits(120 * MIB, DIRECT_UPLOAD_LIMIT + 1)
    assert "direct-upload limit" in warning and "S3" in warning


def _lambda_lock(hash_of: str = "wheel") -> dict[str, object]:
    packages = [
        {"name": "onnxruntime", "version": "1.32.0", "sha256": "a" * 64, "hash_of": hash_of},
        {"name": "numpy", "version": "2.5.5", "sha256": "b" * 64, "hash_of": hash_of},
    ]
    return {
        "file": "ort-1.32.0-np2.5.5-py312-arm64.zip",
        "python": "3.12",
        "arch": "arm64",
        "runtime": "python3.12",
        "spec": {"name": "onnxruntime-numpy"},
        "packages": packages,
        "removed": ["numpy/_core/tests/", "onnxruntime/tools/"],
    }


def test_the_image_installs_the_layers_pinned_wheels_and_trims_the_same_paths() -> None:
    text = render_dockerfile(_lambda_lock(), function_zip="function.zip")
    lines = text.splitlines()
    assert "FROM public.ecr.aws/lambda/python:3.12-arm64" in lines
    assert (
        f"onnxruntime==1.32.0 --hash=sha256:{'a' * 64}" in lines
        and f"numpy==2.5.5 --hash=sha256:{'b' * 64}" in lines
    )
    assert "--require-hashes" in text and "--no-deps" in text and "--only-binary=:all:" in text
    assert "numpy/_core/tests/" in lines and "onnxruntime/tools/" in lines
    assert "import numpy, onnxruntime" in text and "--platform linux/arm64" in text
    assert lines[-1] == 'CMD ["slpack_handler.handler"]'
    assert "COPY function.zip /tmp/function.zip" in lines


def test_the_image_pins_versions_only_when_the_layer_came_from_an_environment() -> None:
    text = render_dockerfile(_lambda_lock(hash_of="RECORD"))
    assert (
        "onnxruntime==1.32.0\n" in text and "--require-hashes" not in text and "--hash=" not in text
    )


def test_a_local_layer_cannot_become_an_image() -> None:
    lock = {**_lambda_lock(), "runtime": "local"}
    with pytest.raises(SlpackError, match="built for this machine only"):
        render_dockerfile(lock)


def test_the_smoke_model_uses_an_ml_operator() -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(data_dir("layers") / "smoke.onnx"))
    onnx.checker.check_model(model)
    assert {(n.domain, n.op_type) for n in model.graph.node} == {
        ("ai.onnx.ml", "Scaler"),
        ("", "MatMul"),
        ("", "Softmax"),
    }
