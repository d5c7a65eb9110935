"""The parity gate: the ONNX model must answer the sample the way scikit-learn does.

Labels are compared exactly (agreement rate), probabilities with an absolute tolerance, values and
embeddings with ``|got - expected| <= atol + rtol * |expected|`` (numpy's ``isclose``). The report
names the worst rows and columns so a failure says where to look, not only that it failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from slpack.bundler import introspect

if TYPE_CHECKING:
    from slpack_handler.contract import OutputSpec as ContractOutput

WORST_ROWS = 5


@dataclass
class OutputSpec:
    """Which ONNX outputs carry what (see the manifest's ``output`` section)."""

    task: str
    names: list[str]
    label: str | None = None
    probabilities: str | None = None
    value: str | None = None
    embedding: str | None = None
    classes: list[Any] | None = None
    score: str | None = None  # outlier: the decision function (negative: an outlier)
    targets: list[dict[str, Any]] | None = None  # multilabel: name and classes per label column

    def to_manifest(self) -> ContractOutput:
        entry: ContractOutput = {
            "label": self.label,
            "probabilities": self.probabilities,
            "classes": self.classes,
            "value": self.value,
            "embedding": self.embedding,
            "names": self.names,
        }
        if self.score is not None:
            entry["score"] = self.score
        if self.targets is not None:
            entry["targets"] = self.targets  # type: ignore[typeddict-item]
        return entry


def output_spec(onnx_model: Any, model: Any, task: str) -> OutputSpec:
    """Read the converted graph's outputs and say which one is which."""
    outputs = [(o.name, o.type.tensor_type.elem_type) for o in onnx_model.graph.output]
    floats = [name for name, elem in outputs if elem in (1, 11)]  # FLOAT, DOUBLE
    if task == introspect.CLASSIFIER:
        last = introspect.final_estimator(model)
        probabilities = (
            outputs[1][0] if introspect.has_predict_proba(model) and len(outputs) > 1 else None
        )
        names = [outputs[0][0]] + ([probabilities] if probabilities else [])
        classes = [json_value(c) for c in last.classes_]
        return OutputSpec(
            task, names, label=outputs[0][0], probabilities=probabilities, classes=classes
        )
    if task == introspect.MULTILABEL:
        last = introspect.final_estimator(model)
        probabilities = (
            outputs[1][0] if introspect.has_predict_proba(model) and len(outputs) > 1 else None
        )
        targets = [
            {"name": str(i), "classes": [json_value(c) for c in classes]}
            for i, classes in enumerate(last.classes_)
        ]
        names = [outputs[0][0]] + ([probabilities] if probabilities else [])
        return OutputSpec(
            task, names, label=outputs[0][0], probabilities=probabilities, targets=targets
        )
    if task == introspect.OUTLIER:
        return OutputSpec(task, [outputs[0][0], floats[0]], label=outputs[0][0], score=floats[0])
    if task == introspect.REGRESSOR:
        return OutputSpec(task, [floats[0]], value=floats[0])
    return OutputSpec(task, [floats[-1]], embedding=floats[-1])


def sklearn_output_spec(model: Any, task: str) -> OutputSpec:
    """The outputs the scikit-learn runtime hands over: the same shapes as a converted graph's,
    under fixed names (there is no graph to name them)."""
    proba = introspect.has_predict_proba(model)
    last = introspect.final_estimator(model)
    if task == introspect.CLASSIFIER:
        names = ["label", "probabilities"] if proba else ["label"]
        classes = [json_value(c) for c in last.classes_]
        return OutputSpec(
            task, names, label="label", probabilities=names[-1] if proba else None, classes=classes
        )
    if task == introspect.MULTILABEL:
        names = ["label", "probabilities"] if proba else ["label"]
        targets = [
            {"name": str(i), "classes": [json_value(c) for c in classes]}
            for i, classes in enumerate(last.classes_)
        ]
        return OutputSpec(
            task, names, label="label", probabilities=names[-1] if proba else None, targets=targets
        )
    if task == introspect.OUTLIER:
        return OutputSpec(task, ["label", "score"], label="label", score="score")
    if task == introspect.REGRESSOR:
        return OutputSpec(task, ["value"], value="value")
    return OutputSpec(task, ["embedding"], embedding="embedding")


def json_value(value: Any) -> Any:
    """A class label as the JSON value responses carry (numpy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Predictions:
    """What one implementation answered for a batch of rows."""

    labels: list[Any] | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None  # regressor values or embeddings, 2-D


def sklearn_predictions(model: Any, spec: OutputSpec, rows: Any) -> Predictions:
    if spec.task == introspect.CLASSIFIER:
        probabilities = (
            np.asarray(model.predict_proba(rows), dtype=np.float64) if spec.probabilities else None
        )
        return Predictions(
            labels=[json_value(v) for v in model.predict(rows)], probabilities=probabilities
        )
    if spec.task == introspect.MULTILABEL:
        labels = [[json_value(v) for v in row] for row in np.asarray(model.predict(rows))]
        probabilities = (
            np.hstack([np.asarray(p, dtype=np.float64) for p in model.predict_proba(rows)])
            if spec.probabilities
            else None
        )
        return Predictions(labels=labels, probabilities=probabilities)
    if spec.task == introspect.OUTLIER:
        scores = np.asarray(model.decision_function(rows), dtype=np.float64)
        return Predictions(
            labels=[json_value(v) for v in model.predict(rows)], values=scores.reshape(-1, 1)
        )
    out = model.predict(rows) if spec.task == introspect.REGRESSOR else model.transform(rows)
    if hasattr(out, "toarray"):
        out = out.toarray()
    out = np.asarray(out, dtype=np.float64)
    return Predictions(values=out.reshape(len(out), -1))


def runtime_predictions(outputs: list[Any], spec: OutputSpec) -> Predictions:
    """What a handler runtime answered (its outputs in ``spec.names`` order, as nested lists)."""
    results = dict(zip(spec.names, outputs))
    if spec.task == introspect.CLASSIFIER:
        labels = [label_value(v, spec.classes or []) for v in _flat(results[str(spec.label)])]
        return Predictions(labels=labels, probabilities=_floats(results, spec.probabilities))
    if spec.task == introspect.MULTILABEL:
        targets = spec.targets or []
        rows = np.array(results[str(spec.label)], dtype=np.object_).reshape(-1, len(targets))
        labels = [[label_value(v, t["classes"]) for v, t in zip(row, targets)] for row in rows]
        probabilities = (
            np.hstack([np.asarray(p, dtype=np.float64) for p in results[spec.probabilities]])
            if spec.probabilities
            else None
        )
        return Predictions(labels=labels, probabilities=probabilities)
    if spec.task == introspect.OUTLIER:
        scores = np.asarray(results[str(spec.score)], dtype=np.float64).reshape(-1, 1)
        return Predictions(
            labels=[json_value(v) for v in _flat(results[str(spec.label)])], values=scores
        )
    out = np.asarray(results[spec.names[0]], dtype=np.float64)
    return Predictions(values=out.reshape(len(out), -1))


def _flat(values: Any) -> list[Any]:
    flat: list[Any] = np.array(values, dtype=np.object_).reshape(-1).tolist()
    return flat


def _floats(results: dict[str, Any], name: str | None) -> np.ndarray | None:
    return None if name is None else np.asarray(results[name], dtype=np.float64)


def label_value(raw: Any, classes: list[Any]) -> Any:
    """An ONNX label as its class value (boolean classes come out of ONNX as 0/1)."""
    value = json_value(raw)
    if isinstance(value, bytes):
        value = value.decode()
    if classes and isinstance(classes[0], bool):
        return bool(value)
    return value


@dataclass
class ParityResult:
    rows: int
    atol: float
    rtol: float
    passed: bool = True
    allow_mismatch: bool = False
    label_agreement: float | None = None
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst: list[dict[str, Any]] = field(default_factory=list)
    probes: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_manifest(self) -> dict[str, Any]:
        data = asdict(self)
        if self.label_agreement is None:
            del data["label_agreement"]
        return data


Worst = list[tuple[float, dict[str, Any]]]  # (how far past the tolerance, the row) pairs


def compare(
    expected: Predictions,
    got: Predictions,
    spec: OutputSpec,
    atol: float,
    rtol: float,
    row_ids: list[Any] | None = None,
) -> ParityResult:
    """Compare two implementations' answers on the same rows: labels exactly (agreement rate),
    then each table of numbers within ``atol + rel * |expected|``; the worst rows are kept."""
    n = len(expected.labels) if expected.labels is not None else len(expected.values)  # type: ignore[arg-type]
    ids = row_ids if row_ids is not None else list(range(n))
    result = ParityResult(rows=n, atol=atol, rtol=rtol)
    worst: Worst = []
    if expected.labels is not None:
        worst += _compare_labels(expected, got, spec, result, ids)
    for exp, act, columns, rel in _number_tables(expected, got, spec, rtol):
        worst += _compare_numbers(exp, act, columns, rel, result, ids)
    worst.sort(key=lambda item: -item[0])
    result.worst = [_jsonable(w) for _, w in worst[:WORST_ROWS]]
    return result


def _compare_labels(
    expected: Predictions, got: Predictions, spec: OutputSpec, result: ParityResult, ids: list[Any]
) -> Worst:
    """Labels must agree, but where scikit-learn's own probabilities tie (see :func:`_tied`)."""
    labels, theirs = expected.labels or [], got.labels or []
    disagree = [
        i
        for i, (a, b) in enumerate(zip(labels, theirs))
        if a != b and not _tied(expected, spec, i, b, result.atol)
    ]
    result.label_agreement = 1.0 - len(disagree) / result.rows if result.rows else 1.0
    if disagree:
        result.passed = False
    return [
        (np.inf, {"row": ids[i], "column": "label", "expected": labels[i], "got": theirs[i]})
        for i in disagree[:WORST_ROWS]
    ]


def _number_tables(
    expected: Predictions, got: Predictions, spec: OutputSpec, rtol: float
) -> list[tuple[np.ndarray, np.ndarray, list[str], float]]:
    """(expected, got, column names, relative tolerance) for each table both sides answered."""
    tables = []
    if expected.probabilities is not None and got.probabilities is not None:
        tables.append((expected.probabilities, got.probabilities, _probability_columns(spec), 0.0))
    if expected.values is not None and got.values is not None:
        kind = _VALUE_KINDS.get(spec.task, "embedding")
        width = expected.values.shape[1]
        columns = [kind] if width == 1 else [f"{kind}[{j}]" for j in range(width)]
        tables.append((expected.values, got.values, columns, rtol))
    return tables


def _compare_numbers(
    exp: np.ndarray,
    act: np.ndarray,
    columns: list[str],
    rel: float,
    result: ParityResult,
    ids: list[Any],
) -> Worst:
    """Record the largest errors of one table in ``result``; return its rows past tolerance."""
    if exp.shape != act.shape:
        result.passed = False
        shapes = {"expected": list(exp.shape), "got": list(act.shape)}
        return [(np.inf, {"row": None, "column": columns[0], **shapes})]
    atol = result.atol
    abs_err = np.abs(exp - act)
    abs_err = np.where(np.isnan(exp) & np.isnan(act), 0.0, abs_err)
    abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
    # relative error only where the expected value is not itself within atol of zero
    rel_err = np.where(np.abs(exp) > atol, abs_err / np.maximum(np.abs(exp), atol), 0.0)
    excess = abs_err - (atol + rel * np.abs(exp))
    result.max_abs_error = max(result.max_abs_error, float(abs_err.max(initial=0.0)))
    result.max_rel_error = max(result.max_rel_error, float(rel_err.max(initial=0.0)))
    if (excess > 0).any():
        result.passed = False
    worst: Worst = []
    for flat in np.argsort(-excess, axis=None)[:WORST_ROWS]:
        i, j = np.unravel_index(flat, excess.shape)
        if excess[i, j] > 0:
            row = {"row": ids[i], "column": columns[j], "expected": float(exp[i, j])}
            worst.append((float(excess[i, j]), {**row, "got": float(act[i, j])}))
    return worst


def _tied(expected: Predictions, spec: OutputSpec, row: int, label: Any, atol: float) -> bool:
    """Whether scikit-learn's own probabilities tie, within ``atol``, between its label and
    ``label`` (a forest of an even number of trees votes 0.5 / 0.5): either label is right,
    and which one comes out depends on the last bit of a float."""
    if expected.probabilities is None or not spec.classes or label not in spec.classes:
        return False
    row_p = expected.probabilities[row]
    return bool(row_p[spec.classes.index(label)] >= row_p.max() - atol)


_VALUE_KINDS = {introspect.REGRESSOR: "value", introspect.OUTLIER: "score"}


def _probability_columns(spec: OutputSpec) -> list[str]:
    if spec.targets is not None:
        return [f"probabilities[{t['name']}][{c}]" for t in spec.targets for c in t["classes"]]
    return [f"probabilities[{c}]" for c in spec.classes or []]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: json_value(v) if not isinstance(v, float) or np.isfinite(v) else str(v)
        for k, v in row.items()
    }


def failure_message(result: ParityResult, model: Any, runtime: str) -> str:
    """One sentence: how badly the runtime disagrees, where worst, and what to do about it.

    Labels that differ are never a rounding matter, so that message never suggests loosening
    the tolerances.
    """
    worst = result.worst[0] if result.worst else {}
    where = (
        f" (worst: row {worst.get('row')}, {worst.get('column')}: expected "
        f"{worst.get('expected')}, got {worst.get('got')})"
        if worst
        else ""
    )
    agreement = (
        f"label agreement {result.label_agreement:.2%}, "
        if result.label_agreement is not None
        else ""
    )
    return (
        f"the {runtime} runtime disagrees with scikit-learn on the {result.rows} sample rows "
        f"({agreement}max abs error {result.max_abs_error:.3g}){where}; {_hint(result, model)}."
    )


def _hint(result: ParityResult, model: Any) -> str:
    sklearn = "build with --runtime sklearn to serve the pipeline as it is"
    if introspect.contains(model, introspect.TEXT_VECTORIZERS):
        return (
            "ONNX lowercases ASCII letters only and tokenizes with RE2, so this text is split "
            f"or cased differently than scikit-learn does; {sklearn}, or retrain with "
            "lowercase=False on text you lowercase yourself"
        )
    if result.label_agreement is not None and result.label_agreement < 1.0:
        return (
            f"labels differ, so this is not a rounding matter: {sklearn}, or report the estimator"
        )
    return (
        f"loosen --atol/--rtol if the differences are acceptable, or {sklearn}, or pass "
        "--allow-mismatch to build anyway"
    )
