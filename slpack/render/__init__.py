"""Deployment templates for a bundle: ``render(bundle_dir, targets, options)``.

Each target writes ``bundle_dir/deploy/<target>/``, ready for its tool (``sam deploy``,
``serverless deploy``, ``terraform apply``, ``gcloud functions deploy``, ``func azure functionapp
publish``) without editing: paths to function.zip and the layer are relative to that folder,
names and alarms are filled in.
"""

from __future__ import annotations

import importlib
import shutil
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from slpack.deployment.options import RenderOptions
from slpack.errors import SlpackError

if TYPE_CHECKING:
    from slpack.deployment import Deployment

# Target name -> its module, whose ``render(d: Deployment, out_dir: Path) -> list[Path]`` writes
# the folder. Modules load when their target renders, so listing the targets (the CLI's help)
# imports none of them.
TARGETS: dict[str, str] = {
    name: f"slpack.render.{name}"
    for name in ("sam", "serverless", "terraform", "edge", "image", "gcp", "azure")
}


class RenderWarning(UserWarning):
    """Something deployable but worth a second look (a public endpoint, no layer)."""


def render(
    bundle_dir: Path, targets: list[str], options: RenderOptions | None = None
) -> list[Path]:
    """Render ``targets`` for the bundle in ``bundle_dir``; return the files written.

    A target folder is replaced as a whole, so no file of an earlier render lingers.
    """
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise SlpackError(f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}.")
    from slpack.deployment import resolve
    from slpack.deployment.layer import bundle_layer

    options = options or RenderOptions()
    d = resolve(Path(bundle_dir), options)  # everything checked before the bundle is touched
    zipped = [t for t in targets if t != "image"]
    if d.model_runtime == "sklearn" and zipped:
        raise SlpackError(
            f"the sklearn runtime needs scikit-learn, scipy and numpy, over the 250 MB a zip "
            f"function may hold, so {', '.join(zipped)} cannot deploy it; render --target image."
        )
    if options.layer:  # the templates then reach the layer inside the bundle, never beside it
        d = resolve(d.bundle_dir, replace(options, layer=bundle_layer(d.bundle_dir, options.layer)))
    for message in _warnings(d, targets):
        warnings.warn(message, RenderWarning, stacklevel=2)
    written: list[Path] = []
    for target in dict.fromkeys(targets):
        out_dir = d.bundle_dir / "deploy" / target
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        written += importlib.import_module(TARGETS[target]).render(d, out_dir)
    return written


# Targets that deploy to AWS Lambda: the endpoint and layer warnings concern them only.
AWS_TARGETS = ("sam", "serverless", "terraform")


def _warnings(d: Deployment, targets: list[str]) -> list[str]:
    out: list[str] = []
    if not any(t in AWS_TARGETS for t in targets):
        return out
    if d.options.public:
        out.append(
            f"the {d.options.endpoint} endpoint is public: anyone with the URL can call the "
            f"model; its concurrency is capped at {d.options.reserved_concurrency} "
            "(--reserved-concurrency) so a flood cannot take the account's capacity or run up "
            "an unbounded bill."
        )
    if d.layer is None and d.needs_layer:
        out.append(
            "no layer given: the templates take the numpy + onnxruntime layer ARN at deploy time "
            "(build one with slpack layer and pass --layer to bundle it)."
        )
    return out


__all__ = ["TARGETS", "RenderOptions", "RenderWarning", "render"]
