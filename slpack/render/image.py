"""The container-image target: a Dockerfile on the public Lambda Python base image.

For a bundle on onnxruntime it installs exactly the trimmed set of the layer given with
``--layer`` (same wheels, pinned by hash, same removals; see slpack.layer.image); a bundle on the
python runtime installs nothing. Then function.zip is unpacked into /var/task. Build it from the
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
