"""The edge target: the bundle as a self-contained folder and a single runnable zip.

``deploy/edge/app/`` holds ``__main__.py``, ``slpack_handler/`` and ``model/``;
``deploy/edge/edge.zip``
holds the same and runs with ``python edge.zip``, for devices and containers that are not
function platforms. A bundle on the python runtime needs nothing but Python 3.9 or later there;
one on onnxruntime needs numpy and onnxruntime installed.
"""

from __future__ import annotations

from pathlib import Path

from slpack import ziputil
from slpack.deployment import Deployment
from slpack.render.source import copy_entries, source_entries
from slpack.render.templating import write
from slpack.resources import data_dir


def render(d: Deployment, out_dir: Path) -> list[Path]:
    entries = source_entries(d)
    entries["__main__.py"] = data_dir("templates") / "edge" / "__main__.py"
    app_files = copy_entries(entries, out_dir / "app")
    archive = out_dir / "edge.zip"
    ziputil.write_zip(archive, files=entries)
    readme = write("edge/README.md.j2", out_dir / "README.md", d=d)
    return [archive, readme, *sorted(app_files)]
