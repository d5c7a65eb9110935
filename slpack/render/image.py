"""The container-image target: a Dockerfile on the public Lambda Python base image.

It installs exactly the trimmed set of the layer given with ``--layer`` (same wheels, pinned by
hash, same removals; see slpack.layer.image), then unpacks function.zip into /var/task. Build it
from the bundle folder: ``docker build -f deploy/image/Dockerfile .``.
"""

from __future__ import annotations

import json
from pathlib import Path

from slpack.errors import SlpackError
from slpack.layer.image import render_dockerfile
from slpack.render.context import Deployment
from slpack.render.templating import write


def render(d: Deployment, out_dir: Path) -> list[Path]:
    lock_path = _lock_path(d)
    try:
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SlpackError(f"the layer lock {lock_path} cannot be read; rebuild the layer with slpack layer.") from None
    name = d.function_name
    dockerfile = out_dir / "Dockerfile"
    dockerfile.write_text(
        render_dockerfile(lock, function_zip="function.zip", dockerfile="deploy/image/Dockerfile", image_name=name),
        encoding="utf-8",
    )
    readme = write("image/README.md.j2", out_dir / "README.md", d=d, image=name)
    return [dockerfile, readme]


def _lock_path(d: Deployment) -> Path:
    layer = d.layer
    if layer is None or layer.path is None:
        raise SlpackError(
            "the image target installs the layer's exact packages, so it needs --layer with a layer zip "
            "from slpack layer (built for the Lambda runtime you target)."
        )
    for candidate in (layer.path.with_suffix(".lock.json"), layer.path.with_name(layer.path.name + ".lock.json")):
        if candidate.is_file():
            return candidate
    raise SlpackError(f"the layer {layer.path.name} has no lock file next to it; rebuild it with slpack layer.")
