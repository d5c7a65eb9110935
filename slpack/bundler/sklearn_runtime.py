"""The scikit-learn runtime as the build sees it: the saved pipeline and what it needs to run.

A pipeline with a step ONNX cannot express (a FunctionTransformer running the team's own code,
a categorical booster) still deserves a function with the same contract. This runtime ships the
original fitted pipeline, saved with skops (or joblib, only when the user says ``--trust-pickle``),
with the exact versions of every distribution it imports recorded in the manifest, so the image
that serves it installs what the parity gate ran here.
"""

from __future__ import annotations

import io
import sys
from importlib import metadata
from typing import Any

from packaging.requirements import Requirement

from slpack.bundler import introspect
from slpack.bundler.runtimes import Artifact
from slpack.errors import SlpackError
from slpack_handler.errors import first_line

SKOPS_FILE = "model.skops"
JOBLIB_FILE = "model.joblib"
# What the runtime itself imports besides the model's own libraries.
_RUNTIME_MODULES = ("sklearn", "numpy", "scipy")


def artifact(model: Any, trust_pickle: bool) -> tuple[Artifact, list[str]]:
    """The saved pipeline, and the skops types the handler may load from it.

    The handler loads only the file this build wrote (its sha256 is in the manifest), so the
    types skops does not trust by default are recorded as trusted for that file alone.
    """
    _check_importable_code(model)
    try:
        import skops.io as sio

        data = sio.dumps(model)
        trusted = sorted(sio.get_untrusted_types(data=data))
        sio.loads(data, trusted=trusted)  # what the handler will do: fail here, not there
        return Artifact("sklearn", SKOPS_FILE, "skops", data), trusted
    except ImportError:
        reason = "skops is not installed (pip install 'slpack[formats]')"
    except Exception as exc:
        reason = f"skops cannot save it ({first_line(exc, 160)})"
    if not trust_pickle:
        raise SlpackError(
            f"the sklearn runtime ships the pipeline as a skops file, but {reason}; pass "
            "--trust-pickle to ship it as a joblib pickle the function will load (only for a "
            "pipeline you trust)."
        )
    import joblib

    buffer = io.BytesIO()
    try:
        joblib.dump(model, buffer)
    except Exception as exc:  # pickling errors come in several types
        raise SlpackError(
            f"joblib cannot save the pipeline either ({first_line(exc, 160)}); "
            "replace the step it names with one defined in an installed module."
        ) from None
    return Artifact("sklearn", JOBLIB_FILE, "joblib", buffer.getvalue()), []


def _check_importable_code(model: Any) -> None:
    """Refuse functions a deployed function could not import (defined in a script or notebook)."""
    for est in introspect.deep_walk(model):
        for value in est.get_params(deep=False).values():
            module = getattr(value, "__module__", None)
            name = getattr(value, "__qualname__", None) or repr(value)
            if callable(value) and module is not None and _is_local(module, name):
                raise SlpackError(
                    f"{type(est).__name__} calls {name} from {module}, which a deployed function "
                    "cannot import; move it into a module installed as a package and rebuild."
                )


def _is_local(module: str, name: str) -> bool:
    """Code the function's image would not have: a script, a notebook, a loose module, or a
    function no module can name (a lambda, a closure)."""
    top = module.split(".")[0]
    if top == "__main__" or "<locals>" in name or "<lambda>" in name:
        return True
    if top in sys.stdlib_module_names:
        return False
    return top not in metadata.packages_distributions()


def requirements(model: Any, feed: str, model_format: str) -> dict[str, str]:
    """Exact versions of every distribution the runtime imports to answer with ``model``, and of
    everything those require in turn (name -> version), from this environment."""
    modules = set(_RUNTIME_MODULES)
    modules.add("skops" if model_format == "skops" else "joblib")
    if feed == "frame":
        modules.add("pandas")
    for est in introspect.deep_walk(model):
        modules.add(type(est).__module__.split(".")[0])
        modules.update(
            value.__module__.split(".")[0]
            for value in est.get_params(deep=False).values()
            if callable(value) and isinstance(getattr(value, "__module__", None), str)
        )
    owners = metadata.packages_distributions()
    roots = sorted({dist for module in modules for dist in owners.get(module, [])})
    return {name: version for name, version in sorted(closure(roots).items())}


def closure(roots: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = dist.metadata["Name"]
        if key in found:
            continue
        found[key] = dist.version
        for spec in dist.requires or ():
            requirement = Requirement(spec)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            todo.append(requirement.name)
    return found


def categories(frame: Any) -> dict[str, list[Any]]:
    """Columns the pipeline was fitted on as pandas categoricals, with their categories: the
    runtime rebuilds that dtype (native categorical boosters read the codes)."""
    import pandas as pd

    return {
        str(name): [c.item() if hasattr(c, "item") else c for c in frame[name].cat.categories]
        for name in frame.columns
        if isinstance(frame[name].dtype, pd.CategoricalDtype)
    }


def requirements_txt(requirements: dict[str, str]) -> str:
    """pip's requirements format, one exact pin a line."""
    return "".join(f"{name}=={version}\n" for name, version in requirements.items())
