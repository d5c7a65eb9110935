"""Deployment templates for a bundle: ``render(bundle_dir, targets, options)``.

Each target writes ``bundle_dir/deploy/<target>/``, ready for its tool (``sam deploy``,
``serverless deploy``, ``terraform apply``) without editing: paths to function.zip and the layer
are relative to that folder, names and alarms are filled in.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

from slpack.errors import SlpackError
from slpack.render import edge, image, sam, serverless, terraform
from slpack.render.context import Deployment, resolve
from slpack.render.options import RenderOptions

TARGETS: dict[str, Callable[[Deployment, Path], list[Path]]] = {
    "sam": sam.render,
    "serverless": serverless.render,
    "terraform": terraform.render,
    "edge": edge.render,
    "image": image.render,
}


class RenderWarning(UserWarning):
    """Something deployable but worth a second look (a public endpoint, no layer)."""


def render(bundle_dir: Path, targets: list[str], options: RenderOptions | None = None) -> list[Path]:
    """Render ``targets`` for the bundle in ``bundle_dir``; return the files written.

    A target folder is replaced as a whole, so no file of an earlier render lingers.
    """
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise SlpackError(f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}.")
    d = resolve(Path(bundle_dir), options or RenderOptions())
    for message in _warnings(d, targets):
        warnings.warn(message, RenderWarning, stacklevel=2)
    written: list[Path] = []
    for target in dict.fromkeys(targets):
        out_dir = d.bundle_dir / "deploy" / target
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        written += TARGETS[target](d, out_dir)
    return written


# Targets that deploy to AWS Lambda: the endpoint and layer warnings concern them only.
AWS_TARGETS = ("sam", "serverless", "terraform")


def _warnings(d: Deployment, targets: list[str]) -> list[str]:
    out: list[str] = []
    if not any(t in AWS_TARGETS for t in targets):
        return out
    if d.options.public:
        out.append(f"the {d.options.endpoint} endpoint is public: anyone with the URL can call the model and run up your bill.")
    if d.layer is None:
        out.append("no layer given: the templates take the numpy + onnxruntime layer ARN at deploy time "
                   "(build one with slpack layer and pass --layer to bundle it).")
    return out


__all__ = ["TARGETS", "RenderOptions", "RenderWarning", "render"]
