"""The container-image alternative: a Dockerfile that installs a layer's exact contents.

Some teams deploy Lambda functions as images. The Dockerfile starts from the public Lambda
Python base image for the layer's runtime and architecture, installs the wheels the layer's lock
pins (by sha256 when they came from wheels), removes the paths the layer's trim removed, checks
the import in an isolated interpreter, and unpacks function.zip. So the image runs what the
smoke-tested layer holds, and nothing needs to be decided twice.
"""

from __future__ import annotations

import re
from typing import Any

from slpack.errors import SlpackError

DOCKER_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def render_dockerfile(
    lock: dict[str, Any],
    *,
    handler: str = "slpack_handler.handler",
    function_zip: str = "function.zip",
    dockerfile: str = "deploy/image/Dockerfile",
    image_name: str = "slpack-function",
) -> str:
    """The Dockerfile text for a layer's lock (``LayerResult.lock`` or the ``.lock.json`` file).

    ``function_zip`` and ``dockerfile`` are paths in the build context (the bundle folder).
    """
    if lock.get("runtime") == "local":
        raise SlpackError(
            f"the layer {lock.get('file')} was built for this machine only; build one "
            "for a Lambda runtime "
            f"(slpack layer --python {lock.get('python')} --arch {lock.get('arch')}) and "
            "use its lock for the image."
        )
    if not re.fullmatch(r"[A-Za-z0-9_.]+", handler) or any(c in function_zip for c in " \n\"'"):
        raise SlpackError(
            "the image handler must be module.function and the function zip a plain path; fix them."
        )
    from slpack.render.templating import environment

    packages = lock["packages"]
    return (
        environment()
        .get_template("image/Dockerfile.j2")
        .render(
            layer_file=lock["file"],
            python=lock["python"],
            arch=lock["arch"],
            runtime=lock["runtime"],
            docker_arch=DOCKER_ARCH[lock["arch"]],
            spec=lock["spec"]["name"],
            packages=packages,
            hashes=all(p["hash_of"] == "wheel" for p in packages),
            removed=lock["removed"],
            handler=handler,
            function_zip=function_zip,
            dockerfile=dockerfile,
            image_name=image_name,
        )
    )
