"""The container-image target: a Dockerfile on the public Lambda Python base image.

For a bundle on onnxruntime it installs exactly the trimmed set of the layer given with
``--layer`` (same wheels, pinned by hash, same removals; see slpack.layer.image); a bundle on the
python runtime installs nothing; a bundle on the sklearn runtime installs the exact versions its
manifest records. Then function.zip is unpacked into /var/task. Build it from the
bundle folder: ``docker build -f deploy/image/Dockerfile .``.
"""

from __future__ import annotations

from pathlib import Path

from slpack.deployment import HANDLER, Deployment
from slpack.errors import SlpackError
from slpack.layer.image import DOCKER_ARCH, render_dockerfile
from slpack.layer.lockfile import lock_of
from slpack.render.templating import write


def render(d: Deployment, out_dir: Path) -> list[Path]:
    if d.options.snapstart:
        raise SlpackError(
            "Lambda SnapStart does not apply to container images; render the image target "
            "without --snapstart (the zip targets and slpack deploy support it)."
        )
    name, dockerfile = d.function_name, out_dir / "Dockerfile"
    if d.model_runtime == "sklearn":
        return _render_sklearn(d, out_dir)
    if not d.needs_layer:
        write("image/Dockerfile.stdlib.j2", dockerfile, **_stdlib_context(d, name))
        return [dockerfile, write("image/README.md.j2", out_dir / "README.md", d=d, image=name)]
    if d.layer is None or d.layer.path is None:
        raise SlpackError(
            "the image target installs the layer's exact packages, so it needs --layer "
            "with a layer zip "
            "from slpack layer (built for the Lambda runtime you target)."
        )
    lock = lock_of(d.layer.path)
    dockerfile.write_text(
        render_dockerfile(
            lock, function_zip="function.zip", dockerfile="deploy/image/Dockerfile", image_name=name
        ),
        encoding="utf-8",
    )
    readme = write("image/README.md.j2", out_dir / "README.md", d=d, image=name)
    return [dockerfile, readme]


def _stdlib_context(d: Deployment, image_name: str) -> dict[str, str]:
    """What the python runtime's Dockerfile names: the base image's runtime and architecture."""
    return {
        "name": d.name,
        "version": d.version,
        "python": d.python,
        "arch": d.arch,
        "runtime": d.runtime,
        "docker_arch": DOCKER_ARCH[d.arch],
        "function_zip": "function.zip",
        "dockerfile": "deploy/image/Dockerfile",
        "image_name": image_name,
        "handler": HANDLER,
    }


def _render_sklearn(d: Deployment, out_dir: Path) -> list[Path]:
    """The scikit-learn runtime's image: the manifest's exact versions, no layer (every
    dependency, numpy and scipy included, comes from the recorded requirements)."""
    from slpack.bundler.bundle import read_manifest

    requirements = read_manifest(d.bundle_dir)["runtime"].get("requirements") or {}
    if not requirements:
        raise SlpackError(
            f"{d.bundle_dir} names the sklearn runtime but records no requirements; rebuild it."
        )
    dockerfile = out_dir / "Dockerfile"
    write(
        "image/Dockerfile.sklearn.j2",
        dockerfile,
        name=d.function_name,
        python=d.python,
        arch=d.arch,
        docker_arch=DOCKER_ARCH[d.arch],
        dockerfile="deploy/image/Dockerfile",
        requirements=sorted(requirements.items()),
        function_zip="function.zip",
        handler=HANDLER,
    )
    readme = write("image/README.md.j2", out_dir / "README.md", d=d, image=d.function_name)
    return [dockerfile, readme]
