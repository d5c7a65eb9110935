"""Run this slpack bundle: ``python edge.zip [--port N]`` or ``python __main__.py`` in its folder.

Needs what the bundle's runtime needs (nothing but Python for the python runtime; numpy and
onnxruntime for the onnxruntime one). When run from the zip, the model folder is unpacked once
into SLPACK_MODEL_CACHE_DIR (default: ~/.cache/slpack/<manifest sha256>/): runtimes read files.
"""

import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _model_dir() -> str:
    if os.path.isdir(os.path.join(HERE, "model")):
        return os.path.join(HERE, "model")
    archive = HERE  # running from a zip: __file__ is <zip>/__main__.py
    with zipfile.ZipFile(archive) as zf:
        import hashlib
        import json

        raw = zf.read("model/slpack.json")
        manifest = json.loads(raw)
        base = os.environ.get("SLPACK_MODEL_CACHE_DIR") or os.path.join(
            os.path.expanduser("~"), ".cache", "slpack"
        )
        # Keyed by the manifest, which names the model's sha256: a rebuild is never served stale.
        target = os.path.join(base, hashlib.sha256(raw).hexdigest())
        if not os.path.isfile(os.path.join(target, "slpack.json")):
            os.makedirs(target, exist_ok=True)
            for name in (
                "model/slpack.json",
                "model/" + manifest["model"].get("file", "model.onnx"),
            ):
                tmp = os.path.join(target, os.path.basename(name) + ".tmp")
                with open(tmp, "wb") as fh:
                    fh.write(zf.read(name))
                os.replace(tmp, os.path.join(target, os.path.basename(name)))
        return target  # the handler verifies the model's sha256 before loading it


os.environ.setdefault("SLPACK_MODEL_DIR", _model_dir())
sys.path.insert(0, HERE)

from slpack_handler.edge import main  # noqa: E402

sys.exit(main())
