"""A file of new rows, sketched as the endpoint would sketch it, before any of it is served.

The bundle's own model and handler code answer the rows (validation, the runtime the manifest
names, the response shape, the sketch), so the counts are the ones the dashboard would show had
the rows been sent as requests. Rows the endpoint would refuse (a 400) are left out and counted,
as the endpoint records no sketch for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slpack.drift.sketches import Layout, Tally
from slpack.errors import SlpackError

CHUNK = 500  # rows per request: within the handler's batch limit, big enough to be quick


@dataclass
class Sketched:
    tally: Tally
    rows: int
    refused: int  # rows the endpoint would answer 400


def sketch_rows(bundle_dir: Path, manifest: dict[str, Any], path: Path, layout: Layout) -> Sketched:
    """Answer every row of ``path`` with the bundle and add up the sketches."""
    columns = _columns(manifest, path)
    model, sketch = _open(bundle_dir, manifest)
    tally = Tally(layout)
    names = [f["name"] for f in manifest["input"]["features"]]
    rows = len(columns[0]) if columns else 0
    refused = 0
    for start in range(0, rows, CHUNK):
        chunk = [col[start : start + CHUNK] for col in columns]
        refused += _answer(model, sketch, tally, names, chunk)
    return Sketched(tally, rows, refused)


def _answer(model: Any, sketch: Any, tally: Tally, names: list[str], chunk: list[list[Any]]) -> int:
    """Sketch one chunk as one request; when the request would be refused, row by row."""
    from slpack_handler.errors import RequestError
    from slpack_handler.metrics import MetricRecord

    def one(columns: list[list[Any]]) -> None:
        parsed = model.schema.parse({"inputs": dict(zip(names, columns))})
        record = MetricRecord()
        sketch.add(parsed.columns, model.predict(parsed), record)
        tally.add(record.properties["drift"])

    try:
        one(chunk)
        return 0
    except RequestError:
        pass
    refused = 0
    for row in range(len(chunk[0])):
        try:
            one([[col[row]] for col in chunk])
        except RequestError:
            refused += 1
    return refused


def _open(bundle_dir: Path, manifest: dict[str, Any]) -> tuple[Any, Any]:
    from slpack_handler.config import Settings
    from slpack_handler.drift import open_sketch
    from slpack_handler.errors import ModelUnavailable
    from slpack_handler.model import Model

    settings = Settings(model_dir=str(bundle_dir), metrics="none")
    try:
        model = Model(manifest, settings)
    except ModelUnavailable as exc:
        raise SlpackError(f"the bundle's model cannot be opened here: {exc}") from None
    return model, open_sketch(manifest)


def _columns(manifest: dict[str, Any], path: Path) -> list[list[Any]]:
    """The file's rows as a JSON request carries them, one list per feature."""
    try:
        import pandas as pd
    except ImportError:
        raise SlpackError(
            "--data reads CSV, Parquet, .npy or JSON records with pandas; install it with "
            "pip install 'slpack[build]'."
        ) from None
    from slpack.bundler.inputs import load_sample
    from slpack.bundler.schema import Feature, Schema, missing_as_nan

    path = Path(path)
    if not path.is_file():
        raise SlpackError(f"the --data file {path} does not exist; pass a file of new rows.")
    spec = manifest["input"]["features"]
    names = [f["name"] for f in spec]
    data = load_sample(path)
    if not isinstance(data, pd.DataFrame):
        if data.ndim != 2 or data.shape[1] != len(names):
            raise SlpackError(
                f"{path.name} holds an array of shape {data.shape}; the model reads "
                f"{len(names)} columns."
            )
        data = pd.DataFrame(data, columns=names)
    data.columns = [str(c) for c in data.columns]
    absent = [n for n in names if n not in data.columns]
    if absent:
        raise SlpackError(
            f"the --data file {path.name} lacks column(s) {', '.join(absent[:5])} the model reads; "
            "give rows with the sample's columns."
        )
    schema = Schema(manifest["input"]["layout"], [Feature(**f) for f in spec], "frame")
    return schema.request_columns(missing_as_nan(data[names]))
