"""Lambda SnapStart: load and prime the model before the snapshot, refresh what must not be shared
after each restore.

With SnapStart (Python 3.12 and later) Lambda initialises the function once when a version is
published, snapshots the memory of that environment and resumes every new environment from the
snapshot. Whatever the init phase did not do, every restored copy pays for on its first request,
so the before-snapshot hook loads the model and runs one real inference (the manifest's example
row, see :meth:`slpack_handler.app.App.warm`): onnxruntime's first-run allocations and lazy
kernels end up in the snapshot. Whatever the snapshot holds is shared by every copy restored from
it, so the after-restore hook resets the per-environment state (:meth:`App.restored`).

Imported only when ``AWS_LAMBDA_INITIALIZATION_TYPE`` is ``snap-start``: ``snapshot_restore_py``
ships with Lambda's Python runtimes, not anywhere else, and no other cold start pays for it.
"""

from __future__ import annotations


def before_snapshot() -> None:
    """Load the model and prime it with one inference, so the snapshot holds a warm session."""
    from slpack_handler.app import get_app

    get_app().warm()


def after_restore() -> None:
    """Give this restored copy its own state: random seeds, cold-start flag, cache, timers."""
    from slpack_handler.app import get_app

    get_app().restored()


def register() -> None:
    """Register both hooks with the runtime's ``snapshot_restore_py``."""
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
