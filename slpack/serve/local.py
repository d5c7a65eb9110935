"""A bundle running locally as Lambda runs it: the one entry point of serve, invoke and tests.

:func:`local_function` lays out the execution environment's file system in a scratch folder
(see :mod:`slpack.serve.sandbox`), starts a :class:`~slpack.serve.workers.WorkerPool` on it and
removes everything on exit. A bundle on the python runtime runs with no layer at all, as it does
on Lambda: its workers import the standard library and the bundle, nothing else. A bundle on
onnxruntime without an explicit layer uses the layer ``slpack layer --from-env`` builds from this
environment (cached by content), so the workers see numpy and onnxruntime and nothing else
installed here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from slpack.errors import SlpackError
from slpack.layer import build_layer
from slpack.serve.sandbox import layer_paths, requirements_dir, runtime_dir, unpack_bundle
from slpack.serve.workers import POOL, FunctionConfig, FunctionInitError, LogSink, WorkerPool


def host_layer(log: LogSink) -> Path:
    """The layer zip built from this environment's numpy and onnxruntime (cached by content)."""
    return build_layer(from_env=True, on_step=lambda step: log(POOL, step)).zip_path


@contextmanager
def local_function(
    bundle: Path,
    *,
    log: LogSink,
    layer: Path | None = None,
    workers: int = 1,
    queue_limit: int = 0,
    timeout_s: float = 30.0,
    environment: Mapping[str, str] | None = None,
) -> Iterator[WorkerPool]:
    """Run ``bundle`` (a ``dist/NAME`` folder) in ``workers`` local execution environments."""
    with tempfile.TemporaryDirectory(prefix="slpack-serve-") as scratch:
        root = Path(scratch)
        unpacked = unpack_bundle(bundle, root / "task")
        requirements = (unpacked.manifest.get("runtime") or {}).get("requirements")
        layers: tuple[Path, ...] = ()
        if requirements and layer is None:  # the sklearn runtime: what its image installs
            layers = (requirements_dir(requirements, root / "opt"),)
        elif layer is not None or unpacked.needs_layer:
            layers = layer_paths(layer or host_layer(log), root / "opt")
        config = FunctionConfig(
            name=unpacked.name,
            task_root=unpacked.task_root,
            runtime_dir=runtime_dir(root / "runtime"),
            layers=layers,
            timeout_s=timeout_s,
            environment=dict(environment or {}),
        )
        pool = WorkerPool(config, size=workers, queue_limit=queue_limit, log=log)
        try:
            pool.start()
        except FunctionInitError as exc:
            raise SlpackError(
                f"the function could not start: {exc}; fix the bundle or its layer."
            ) from None
        try:
            yield pool
        finally:
            pool.close()
