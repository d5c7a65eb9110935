"""Raw model outputs -> response predictions, chosen once per model by its task.

Every runtime hands over its outputs the same way: one nested list per output name of the
manifest (what ``numpy.ndarray.tolist()`` gives), so the response a caller sees does not depend
on the runtime that computed it. Shapes per task are in docs/handler.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Shaper = Callable[[list[Any]], list[dict[str, Any]]]


def shaper(task: str, output: dict[str, Any]) -> Shaper:
    """The function that turns ``output["names"]``-ordered outputs into predictions."""
    try:
        make = _SHAPERS[task]
    except KeyError:
        raise ValueError(f"this handler cannot answer for a {task!r} model") from None
    return make(output)


def _scalars(out: list[Any]) -> list[Any]:
    """An [N] or [N, 1] output as N values."""
    return [v[0] if type(v) is list else v for v in out]


def _labeler(classes: list[Any]) -> Callable[[Any], Any]:
    """How one raw label becomes the JSON label (bytes decoded, booleans as booleans)."""
    as_bool = bool(classes) and isinstance(classes[0], bool)

    def label(value: Any) -> Any:
        if isinstance(value, bytes):
            value = value.decode()
        return bool(value) if as_bool else value

    return label


def _classifier(output: dict[str, Any]) -> Shaper:
    classes = output.get("classes") or []
    keys = [str(c) for c in classes]
    label = _labeler(classes)
    with_proba = output.get("probabilities") is not None

    def classify(results: list[Any]) -> list[dict[str, Any]]:
        labels = [label(v) for v in _scalars(results[0])]
        if not with_proba:
            return [{"label": v} for v in labels]
        return [
            {"label": v, "probabilities": dict(zip(keys, p))} for v, p in zip(labels, results[1])
        ]

    return classify


def _regressor(output: dict[str, Any]) -> Shaper:
    def regress(results: list[Any]) -> list[dict[str, Any]]:
        out = results[0]
        if out and type(out[0]) is list and len(out[0]) != 1:
            return [{"value": row} for row in out]
        return [{"value": v} for v in _scalars(out)]

    return regress


def _transformer(output: dict[str, Any]) -> Shaper:
    def embed(results: list[Any]) -> list[dict[str, Any]]:
        return [{"embedding": row if type(row) is list else [row]} for row in results[0]]

    return embed


def _outlier(output: dict[str, Any]) -> Shaper:
    """``{"label": -1 | 1, "score": s}``: -1 an outlier; the score is the decision function,
    negative for outliers, lower the more abnormal."""

    def score(results: list[Any]) -> list[dict[str, Any]]:
        labels, scores = _scalars(results[0]), _scalars(results[1])
        return [{"label": int(v), "score": s} for v, s in zip(labels, scores)]

    return score


def _multilabel(output: dict[str, Any]) -> Shaper:
    """``{"label": [one per target], "probabilities": [{class: p} per target]}``."""
    targets = output.get("targets") or []
    labelers = [_labeler(t.get("classes") or []) for t in targets]
    keys = [[str(c) for c in t.get("classes") or []] for t in targets]
    with_proba = output.get("probabilities") is not None

    def classify(results: list[Any]) -> list[dict[str, Any]]:
        rows = [row if type(row) is list else [row] for row in results[0]]
        labels = [[f(v) for f, v in zip(labelers, row)] for row in rows]
        if not with_proba:
            return [{"label": row} for row in labels]
        per_target = results[1]  # one [N, n_classes] output per target
        return [
            {
                "label": row,
                "probabilities": [dict(zip(k, p[i])) for k, p in zip(keys, per_target)],
            }
            for i, row in enumerate(labels)
        ]

    return classify


_SHAPERS: dict[str, Callable[[dict[str, Any]], Shaper]] = {
    "classifier": _classifier,
    "regressor": _regressor,
    "transformer": _transformer,
    "outlier": _outlier,
    "multilabel": _multilabel,
}
