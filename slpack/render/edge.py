"""The edge target: the bundle as a self-contained folder and a single runnable zip.

``deploy/edge/app/`` holds ``__main__.py``, ``slpack_handler/`` and ``model/``; ``deploy/edge/edge.zip``
holds the same and runs with ``python edge.zip``. Both need only numpy and onnxruntime, for
devices and containers that are not function platforms.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from slpack import ziputil
from slpack.build.bundle import MANIFEST, MODEL
from slpack.render.context import Deployment
from slpack.render.templating import write
from slpack.resources import data_dir, handler_package


def render(d: Deployment, out_dir: Path) -> list[Path]:
    entries = ziputil.tree_entries(handler_package(), prefix="slpack_handler")
    entries[f"model/{MODEL}"] = d.model_file
    entries[f"model/{MANIFEST}"] = d.bundle_dir / MANIFEST
    entries["__main__.py"] = data_dir("templates") / "edge" / "__main__.py"
    app_dir = out_dir / "app"
    for name, source in entries.items():
        target = app_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    archive = out_dir / "edge.zip"
    ziputil.write_zip(archive, files=entries)
    readme = write("edge/README.md.j2", out_dir / "README.md", d=d)
    return [archive, readme, *sorted(app_dir.rglob("*"))]
