"""The gcp and azure targets: the folders each platform's deploy command takes, their requirement
floors and deploy commands, and their Terraform against python-hcl2, terraform fmt and checkov."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import write_render_bundle, write_render_layer
from packaging.requirements import Requirement
from test_render import tf_resources, tf_value
from test_render_validators import _checkov

from slpack.errors import SlpackError
from slpack.render import RenderOptions, RenderWarning, render
from slpack.resources import handler_package

PLATFORMS = ["gcp", "azure"]


def _with_versions(bundle: Path, numpy: str = "2.1.0", onnxruntime: str = "1.20.1") -> Path:
    """Record build versions in the bundle's manifest, as slpack build does."""
    manifest = json.loads((bundle / "slpack.json").read_text())
    manifest["versions"] = {
        "python": "3.12.4",
        "numpy": numpy,
        "onnxruntime": onnxruntime,
        "scikit-learn": "1.5.0",
    }
    (bundle / "slpack.json").write_text(json.dumps(manifest))
    return bundle


def _rendered(bundle: Path, **options: Any) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RenderWarning)
        render(bundle, PLATFORMS, RenderOptions(**options))
    return bundle / "deploy"


def _requirements(folder: Path) -> dict[str, Requirement]:
    lines = [
        line
        for line in (folder / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return {(r := Requirement(line)).name: r for line in lines}


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# -- the source folders
# ------------------------------------------------------------------------------


def test_source_folders_hold_the_handler_model_and_entry_files(render_bundle: Path) -> None:
    deploy = _rendered(_with_versions(render_bundle))
    handler = {
        f"slpack_handler/{p.relative_to(handler_package()).as_posix()}"
        for p in handler_package().rglob("*.py")
    }
    model = {"model/model.onnx", "model/slpack.json"}
    gcp, azure = _tree(deploy / "gcp"), _tree(deploy / "azure")
    assert (
        handler | model | {"main.py", "requirements.txt", ".gcloudignore", "env.yaml", "README.md"}
        <= gcp
    )
    assert (
        handler
        | model
        | {
            "function_app.py",
            "host.json",
            "requirements.txt",
            "local.settings.json.example",
            ".funcignore",
            "README.md",
        }
        <= azure
    )
    assert (deploy / "gcp/model/model.onnx").read_bytes() == (
        render_bundle / "model.onnx"
    ).read_bytes()
    assert "from slpack_handler.gcp import predict" in (deploy / "gcp/main.py").read_text()
    # Terraform deploys exactly the source folder's deployable files, as a zip.
    with zipfile.ZipFile(deploy / "gcp/terraform/source.zip") as zf:
        assert set(zf.namelist()) == {
            n for n in gcp if not n.startswith(("terraform/", ".", "README", "env.yaml"))
        }
    (app_zip,) = (deploy / "azure/terraform").glob("app-*.zip")
    with zipfile.ZipFile(app_zip) as zf:
        assert set(zf.namelist()) == {
            n for n in azure if not n.startswith(("terraform/", ".", "README", "local.settings"))
        }


def test_requirements_have_lower_bounds_from_the_bundle_and_its_layer(
    render_bundle: Path, tmp_path: Path
) -> None:
    deploy = _rendered(_with_versions(render_bundle))
    for folder, platform in (("gcp", "functions-framework"), ("azure", "azure-functions")):
        reqs = _requirements(deploy / folder)
        assert set(reqs) == {platform, "numpy", "onnxruntime"}
        assert (
            str(reqs["numpy"].specifier) == ">=2.1.0"
            and str(reqs["onnxruntime"].specifier) == ">=1.20.1"
        )
        assert all(
            all(s.operator == ">=" for s in r.specifier) for r in reqs.values()
        )  # floors, never pins
    layer = write_render_layer(tmp_path, python="312", arch="x86_64")
    lock = {
        "python": "3.12",
        "arch": "x86_64",
        "packages": [
            {"name": "onnxruntime", "version": "1.22.0"},
            {"name": "numpy", "version": "2.0.2"},
        ],
    }
    layer.with_suffix(".lock.json").write_text(json.dumps(lock))
    deploy = _rendered(render_bundle, layer=str(layer))
    reqs = _requirements(deploy / "gcp")
    assert (
        str(reqs["onnxruntime"].specifier) == ">=1.22.0"
        and str(reqs["numpy"].specifier) == ">=2.1.0"
    )  # the newer of each


def test_requirements_fall_back_to_the_graphs_minimum_onnxruntime(render_bundle: Path) -> None:
    manifest = json.loads((render_bundle / "slpack.json").read_text())
    manifest["onnx"] = {"min_onnxruntime": "1.18"}  # where format 2 records it
    (render_bundle / "slpack.json").write_text(json.dumps(manifest))
    reqs = _requirements(_rendered(render_bundle) / "azure")
    assert str(reqs["onnxruntime"].specifier) == ">=1.18" and not reqs["numpy"].specifier


def test_gcp_deploy_command_and_environment(render_bundle: Path) -> None:
    deploy = _rendered(_with_versions(render_bundle), memory_mb=2048, timeout_s=60, cache_size=64)
    command = _fenced_command(deploy / "gcp/README.md", "gcloud run deploy")
    assert command[:4] == ["gcloud", "run", "deploy", "iris"]  # Cloud Run functions: via Cloud Run
    for flag in (
        "--source=.",
        "--function=predict",
        "--base-image=python312",
        "--no-allow-unauthenticated",
        "--cpu=1",
        "--memory=2048Mi",
        "--concurrency=1",
        "--timeout=60s",
        "--env-vars-file=env.yaml",
    ):
        assert flag in command, flag
    assert any(a.startswith("--region=") for a in command)
    env = yaml.safe_load((deploy / "gcp/env.yaml").read_text())
    assert (
        env["SLPACK_METRICS"] == "gcp"
        and env["SLPACK_CACHE_SIZE"] == "64"
        and "SLPACK_METRICS_NAMESPACE" not in env
    )
    assert all(isinstance(v, str) for v in env.values())
    public = _rendered(
        render_bundle,
        public=True,
        provisioned_concurrency=2,
        reserved_concurrency=8,
        python="3.11",
        metrics="log",
        memory_mb=6144,
    )
    command = _fenced_command(public / "gcp/README.md", "gcloud run deploy")
    assert {
        "--allow-unauthenticated",
        "--min-instances=2",
        "--max-instances=8",
        "--base-image=python311",
        "--cpu=2",  # Cloud Run gives more than 4 GiB only with 2 vCPUs
    } <= set(command)
    assert (
        yaml.safe_load((public / "gcp/env.yaml").read_text())["SLPACK_METRICS"] == "log"
    )  # a chosen sink is kept
    with pytest.raises(SlpackError, match="at least 512 MB"):
        _rendered(render_bundle, memory_mb=256)


def _fenced_command(readme: Path, prefix: str) -> list[str]:
    (line,) = [line for line in readme.read_text().splitlines() if line.startswith(prefix)]
    return shlex.split(line)


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="the gcloud CLI is not installed")
def test_gcloud_uploads_only_the_function_source(render_bundle: Path) -> None:
    deploy = _rendered(render_bundle)
    listed = subprocess.run(
        ["gcloud", "meta", "list-files-for-upload", str(deploy / "gcp")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    uploaded = set(listed.stdout.split())
    assert {"main.py", "requirements.txt", "model/model.onnx", "slpack_handler/gcp.py"} <= uploaded
    assert not {n for n in uploaded if n.startswith(("terraform/", "README", "env.yaml", "."))}


def test_azure_app_files(render_bundle: Path) -> None:
    deploy = _rendered(render_bundle, timeout_s=45)
    assert _fenced_command(deploy / "azure/README.md", "func azure functionapp publish") == [
        "func",
        "azure",
        "functionapp",
        "publish",
        "iris",
        "--python",
    ]
    host = json.loads((deploy / "azure/host.json").read_text())
    assert host["version"] == "2.0" and host["functionTimeout"] == "00:00:45"
    assert host["extensionBundle"] == {
        "id": "Microsoft.Azure.Functions.ExtensionBundle",
        "version": "[4.*, 5.0.0)",
    }
    assert (
        "Trace" in host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"]
    )  # metric counts stay exact
    assert host["logging"]["logLevel"]["Function.predict.User"] == "Information"
    settings = json.loads((deploy / "azure/local.settings.json.example").read_text())["Values"]
    assert (
        settings["FUNCTIONS_WORKER_RUNTIME"] == "python" and settings["SLPACK_METRICS"] == "azure"
    )
    app = (deploy / "azure/function_app.py").read_text()
    assert (
        "func.AuthLevel.FUNCTION" in app
        and 'os.environ.setdefault("SLPACK_METRICS", "azure")' in app
    )
    assert (
        "func.AuthLevel.ANONYMOUS"
        in (_rendered(render_bundle, public=True) / "azure/function_app.py").read_text()
    )


def test_options_a_platform_cannot_honour_are_refused_or_named(render_bundle: Path) -> None:
    with pytest.raises(SlpackError, match="at most 230 seconds"):
        render(render_bundle, ["azure"], RenderOptions(timeout_s=300))
    with pytest.warns(RenderWarning, match="gcp target does not apply --cors-origin"):
        render(render_bundle, ["gcp"], RenderOptions(cors_origins=("https://app.example.com",)))


def test_rendering_is_reproducible(render_bundle: Path) -> None:
    def snapshot() -> dict[str, bytes]:
        deploy = _rendered(render_bundle)
        return {name: (deploy / name).read_bytes() for name in _tree(deploy)}

    assert snapshot() == snapshot()


def test_cli_renders_and_builds_the_platform_targets(
    run_cli: Any, render_bundle: Path, tmp_path: Path
) -> None:
    ok = run_cli("render", render_bundle, "--target", "gcp,azure")
    assert ok.code == 0, ok.err
    assert (render_bundle / "deploy/gcp/main.py").is_file() and (
        render_bundle / "deploy/azure/function_app.py"
    ).is_file()
    bad = run_cli(
        "build",
        tmp_path / "missing.joblib",
        "--sample",
        tmp_path / "missing.csv",
        "--target",
        "gcp,heroku",
    )
    assert bad.code != 0 and "unknown target heroku" in bad.err and "Traceback" not in bad.err


# -- Terraform
# ----------------------------------------------------------------------------------------

VARIANTS: dict[str, dict[str, Any]] = {
    "private": {},
    "public": {
        "public": True,
        "reserved_concurrency": 5,
        "provisioned_concurrency": 1,
        "log_retention_days": 7,
    },
}


@pytest.fixture(scope="module")
def tf_variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("platform-tf")
    return {
        name: _rendered(write_render_bundle(root / name), **options)
        for name, options in VARIANTS.items()
    }


def test_terraform_parses_with_the_expected_resources(tf_variants: dict[str, Path]) -> None:
    gcp = {name: tf_resources(deploy / "gcp/terraform") for name, deploy in tf_variants.items()}
    core = {
        ("google_storage_bucket", "source"),
        ("google_storage_bucket_object", "source"),
        ("google_service_account", "function"),
        ("google_cloudfunctions2_function", "this"),
    }
    metrics = {
        ("google_logging_metric", k)
        for k in ("latency", "inference", "errors", "validation_errors", "cold_starts")
    }
    assert core | metrics | {("google_cloud_run_service_iam_member", "invokers")} <= set(
        gcp["private"]
    )
    assert ("google_cloud_run_service_iam_member", "public") in gcp["public"] and (
        "google_cloud_run_service_iam_member",
        "invokers",
    ) not in gcp["public"]
    function = gcp["public"][("google_cloudfunctions2_function", "this")]
    service = tf_value(function["service_config"])
    assert (
        tf_value(service["max_instance_count"]) == 5
        and tf_value(service["min_instance_count"]) == 1
    )
    assert _map(service["environment_variables"])["SLPACK_METRICS"] == "gcp"
    build = tf_value(function["build_config"])
    assert (tf_value(build["runtime"]), tf_value(build["entry_point"])) == ("python312", "predict")

    azure = {name: tf_resources(deploy / "azure/terraform") for name, deploy in tf_variants.items()}
    expected = {
        ("azurerm_resource_group", "this"),
        ("azurerm_storage_account", "function"),
        ("azurerm_log_analytics_workspace", "this"),
        ("azurerm_application_insights", "this"),
        ("azurerm_service_plan", "this"),
        ("azurerm_storage_container", "packages"),
        ("azurerm_function_app_flex_consumption", "this"),  # the default plan (FC1)
        ("azurerm_linux_function_app", "this"),  # Linux Consumption or Premium (-var sku_name)
    }
    for resources in azure.values():
        assert set(resources) == expected
    flex = azure["public"][("azurerm_function_app_flex_consumption", "this")]
    assert tf_value(flex["count"]) == "${local.flex ? 1 : 0}"
    assert (tf_value(flex["runtime_name"]), tf_value(flex["runtime_version"])) == ("python", "3.12")
    assert tf_value(flex["maximum_instance_count"]) == 5  # the concurrency cap, as instances
    assert tf_value(tf_value(flex["always_ready"])["instance_count"]) == 1
    assert "SCM_DO_BUILD_DURING_DEPLOYMENT" not in _map(flex["app_settings"])  # not on Flex
    main = (tf_variants["public"] / "azure/terraform/main.tf").read_text()
    assert 'default     = "FC1"' in main and '">= 4.58"' in main
    app = azure["public"][("azurerm_linux_function_app", "this")]
    (archive,) = (tf_variants["public"] / "azure/terraform").glob("app-*.zip")
    assert tf_value(app["zip_deploy_file"]).endswith(archive.name)
    settings = _map(app["app_settings"])
    assert (
        settings["SLPACK_METRICS"] == "azure"
        and settings["SCM_DO_BUILD_DURING_DEPLOYMENT"] == "true"
    )
    workspace = azure["public"][("azurerm_log_analytics_workspace", "this")]
    assert (
        tf_value(workspace["retention_in_days"]) == 30
    )  # the workspace's minimum, not the asked 7


def _map(value: Any) -> dict[str, str]:
    """An HCL map attribute's entries as plain strings (the hcl2 variants quote them
    differently)."""
    return {k: str(v).strip('"') for k, v in tf_value(value).items()}


@pytest.mark.skipif(shutil.which("terraform") is None, reason="the terraform CLI is not installed")
def test_terraform_fmt_accepts_the_files(tf_variants: dict[str, Path]) -> None:
    for deploy in tf_variants.values():
        for platform in PLATFORMS:
            proc = subprocess.run(
                ["terraform", "fmt", "-check", "-diff", str(deploy / platform / "terraform")],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_checkov_passes_with_only_justified_suppressions(
    tf_variants: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "scan"
    for name, deploy in tf_variants.items():
        for platform in PLATFORMS:
            shutil.copytree(deploy / platform / "terraform", root / f"{name}-{platform}")
    report = _checkov(root, "terraform")
    failed = [
        (c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]
    ]
    assert not failed, failed
    summary = report["summary"]
    expected = sum(
        len(tf_resources(deploy / p / "terraform"))
        for deploy in tf_variants.values()
        for p in PLATFORMS
    )
    assert summary["parsing_errors"] == 0 and summary["resource_count"] == expected
    assert summary["passed"] > 0 and summary["skipped"] > 0
    for folder in root.iterdir():
        for path in folder.glob("*.tf"):
            for line in path.read_text().splitlines():
                if "checkov:skip=" in line:
                    check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                    assert check.startswith("CKV") and len(reason.strip()) > 20, line
