"""Linear and kernel models: LinearClassifier, LinearRegressor, SVMClassifier, SVMRegressor.

Scores follow onnxruntime: inputs cast to float32, products in a float32 GEMM (here double,
rounded once), pairwise SVM decisions summed in double, labels chosen from the raw scores and
the post transform applied after, with the binary conventions of each kernel.
"""

from __future__ import annotations

import math
from operator import mul
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Tensor, f32, size
from slpack_handler.pyrt.transforms import VECTOR, logistic, probit, second_class


def _float_rows(x: Tensor, exact: bool = False) -> list[list[float]]:
    """The input as float32 rows (onnxruntime casts every input type to float first). ``exact``:
    the input is a float32 tensor, whose values are float32 already; one row is the data."""
    data, shape = x
    values = data if exact else f32(list(map(float, data)))
    width = shape[-1] if shape else 1
    rows = shape[0] if len(shape) == 2 else size(shape[:-1]) if len(shape) > 1 else 1
    if rows == 1:
        return [values]
    return [values[i * width : (i + 1) * width] for i in range(rows)]


def _finish(scores: list[float], width: int, transform: str, second: int) -> list[float]:
    """onnxruntime's batched_update_scores_inplace for one row of ``width`` scores."""
    if width > 1:
        return VECTOR[transform](scores)
    if transform == "PROBIT":
        return [probit(scores[0])]
    if second >= 0:
        return second_class(scores[0], second, transform)
    return scores


def linear_classifier(op: str, params: dict[str, Any]) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """LinearClassifier: labels and scores of X W' + b."""
    coefs, intercepts = params["coefficients"], params["intercepts"]
    labels, transform = params["labels"], params["post_transform"]
    exact = params.get("dtype") == "float32"
    count = len(intercepts)
    numeric = not labels or not isinstance(labels[0], str)
    second = 1 if count == 1 and len(labels) == 2 else -1
    width = 2 if second >= 0 else count
    if count == 1:
        pos = labels[1] if len(labels) == 2 else (1 if numeric else "1")
        neg = labels[0] if len(labels) == 2 else (0 if numeric else "0")

    def kernel(x: Tensor) -> tuple[Tensor, Tensor]:
        rows = _float_rows(x, exact)
        n = len(rows)
        flat = f32([sum(map(mul, row, w)) + b for row in rows for w, b in zip(coefs, intercepts)])
        if count == 1:
            out_labels = [pos if s > 0 else neg for s in flat]
            per = [[s] for s in flat]
        else:
            per = [flat] if n == 1 else [flat[r * count : (r + 1) * count] for r in range(n)]
            out_labels = [labels[s.index(max(s))] for s in per]
        if transform != "NONE" or second >= 0:
            flat = f32([v for s in per for v in _finish(s, count, transform, second)])
        return (out_labels, (n,)), (flat, (n, width))

    return kernel


def linear_regressor(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """LinearRegressor: X W' + b, float32, one column per target."""
    coefs, intercepts = params["coefficients"], params["intercepts"]
    targets = len(coefs)
    exact = params.get("dtype") == "float32"

    def kernel(x: Tensor) -> Tensor:
        rows = _float_rows(x, exact)
        out = [sum(map(mul, row, w)) + b for row in rows for w, b in zip(coefs, intercepts)]
        return f32(out), (len(rows), targets)

    return kernel


def _kernel_dot(
    params: dict[str, Any],
) -> Callable[[list[float], list[list[float]], float], list[float]]:
    """onnxruntime's SVM batched_kernel_dot for one row against every vector."""
    kind = params["kernel_type"]
    gamma, coef0, degree = params["gamma"], params["coef0"], params["degree"]

    def dot(row: list[float], vectors: list[list[float]], bias: float) -> list[float]:
        if kind == "RBF":
            out = [
                math.exp(-gamma * sum((a - b) * (a - b) for a, b in zip(row, v))) for v in vectors
            ]
            return f32(out)
        if kind == "LINEAR":
            return f32([sum(map(mul, row, v)) + bias for v in vectors])
        raw = f32([gamma * sum(map(mul, row, v)) + coef0 for v in vectors])
        if kind == "POLY":
            return f32([v**degree for v in raw])
        return f32([math.tanh(v) for v in raw])

    return dot


def svm_classifier(op: str, params: dict[str, Any]) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """SVMClassifier: one-vs-one votes (SVC) or per-class scores (linear mode)."""
    dot = _kernel_dot(params)
    labels, transform = params["labels"], params["post_transform"]
    per_class, vectors = params["vectors_per_class"], params["support_vectors"]
    coefs, rho = params["coefficients"], params["rho"]
    prob_a, prob_b = params["prob_a"], params["prob_b"]
    classes = len(labels)
    svc = bool(vectors)
    pairs = classes * (classes - 1) // 2
    starts = [sum(per_class[:i]) for i in range(len(per_class))]
    all_positive = all(c >= 0 for c in params["all_coefficients"])
    has_proba = bool(prob_a)
    second = -1
    width = classes
    if svc and not has_proba:
        width = pairs if classes > 2 else 2
        second = (2 if transform == "NONE" else 0) if classes <= 2 else -1
    scored = pairs if svc and not has_proba else classes
    numeric = not isinstance(labels[0], str)

    def one_vs_one(kernels: list[float]) -> tuple[list[float], list[int]]:
        scores, votes = [], [0] * classes
        index = 0
        for i in range(classes - 1):
            si, ni = starts[i], per_class[i]
            for j in range(i + 1, classes):
                sj, nj = starts[j], per_class[j]
                total = sum(map(mul, coefs[j - 1][si : si + ni], kernels[si : si + ni]))
                total += sum(map(mul, coefs[i][sj : sj + nj], kernels[sj : sj + nj]))
                total += rho[index]
                index += 1
                scores.append(total)
                votes[i if total > 0 else j] += 1
        return f32(scores), votes

    def label(maxclass: int, max_weight: float) -> Any:
        if pairs != 1:
            return labels[maxclass]
        if len(labels) == 2:
            if not has_proba and (
                (all_positive and max_weight >= 0.5) or (max_weight > 0 and not all_positive)
            ):
                return labels[1]
            return labels[maxclass]
        return (1 if numeric else "1") if max_weight > 0 else (0 if numeric else "0")

    def row_scores(row: list[float]) -> tuple[Any, list[float]]:
        if not svc:
            scores = dot(row, coefs, rho[0])
            best = max(scores)
            return label(scores.index(best), best), _finish(scores, scored, transform, second)
        scores, votes = one_vs_one(dot(row, vectors, 0.0))
        maxclass = votes.index(max(votes))
        if has_proba:
            scores = _coupled(scores, prob_a, prob_b, classes)
        return label(maxclass, 0.0), _finish(scores, scored, transform, second)

    def kernel(x: Tensor) -> tuple[Tensor, Tensor]:
        out_labels: list[Any] = []
        out_scores: list[float] = []
        for row in _float_rows(x):
            lab, scores = row_scores(row)
            out_labels.append(lab)
            out_scores.extend(scores)
        n = len(out_labels)
        return (out_labels, (n,)), (f32(out_scores), (n, width))

    return kernel


def _coupled(scores: list[float], prob_a: list[float], prob_b: list[float], k: int) -> list[float]:
    """Pairwise Platt probabilities coupled into class probabilities (libsvm's method, as
    onnxruntime's multiclass_probability, 100 iterations at most)."""
    r = [0.0] * (k * k)
    index = 0
    for i in range(k - 1):
        for j in range(i + 1, k):
            pair = 1.0 - logistic(scores[index] * prob_a[index] + prob_b[index])
            pair = min(max(pair, 1e-7), 1 - 1e-7)
            r[i * k + j], r[j * k + i] = pair, 1 - pair
            index += 1
    q = [0.0] * (k * k)
    for i in range(k):
        for j in range(i):
            q[i * k + i] += r[j * k + i] * r[j * k + i]
            q[i * k + j] = q[j * k + i]
        for j in range(i + 1, k):
            q[i * k + i] += r[j * k + i] * r[j * k + i]
            q[i * k + j] = -r[j * k + i] * r[i * k + j]
    p = [1.0 / k] * k
    eps = 0.005 / k
    for _ in range(100):
        qp = [sum(q[i * k + j] * p[j] for j in range(k)) for i in range(k)]
        pqp = sum(p[i] * qp[i] for i in range(k))
        worst = 0.0  # as onnxruntime's loop: a NaN error never raises the maximum
        for i in range(k):
            error = abs(qp[i] - pqp)
            if error > worst:
                worst = error
        if worst < eps:
            break
        for i in range(k):
            diff = (-qp[i] + pqp) / q[i * k + i]
            p[i] += diff
            pqp = (pqp + diff * (diff * q[i * k + i] + 2 * qp[i])) / (1 + diff) / (1 + diff)
            for j in range(k):
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1 + diff)
                p[j] /= 1 + diff
    return p


def svm_regressor(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """SVMRegressor: sum of coefficient x kernel + rho (or +-1 for a one-class SVM)."""
    dot = _kernel_dot(params)
    vectors, coefs, rho = params["support_vectors"], params["coefficients"], params["rho"][0]
    one_class = params["one_class"]

    def kernel(x: Tensor) -> Tensor:
        out = []
        for row in _float_rows(x):
            if vectors:
                total = sum(map(mul, coefs, dot(row, vectors, 0.0))) + rho
            else:
                total = sum(map(mul, row, coefs)) + rho
            out.append((1.0 if total > 0 else -1.0) if one_class else total)
        return f32(out), (len(out), 1)

    return kernel
