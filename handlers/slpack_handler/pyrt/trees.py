"""TreeEnsembleRegressor and TreeEnsembleClassifier, as onnxruntime evaluates them.

The compiler turns every tree into nested tuples ``(feature, threshold, if_less, otherwise)``
ending in leaves (a float weight, or a list of ``(target, weight)`` pairs). Every comparison mode
and missing-value route is reduced at build time to that one ``<`` (see
``slpack.pycompile.trees``): a feature index at or past ``width`` (the number of features the
trees read) reads the negated feature.

At load, a forest of at most :data:`NODE_BUDGET` split nodes (gradient boosting's shallow trees)
is compiled into one conditional expression per tree (``(A if x[3]<0.5 else B)``), generated from
the verified tuples (ints and finite floats only; the program file stays plain data): a level
then costs one subscript and one compare, and a row a third of the tuple walk's instructions
(measured). compile() costs ~100k instructions a node at load, so a larger forest (a random
forest of 60 depth-8 trees has ~14,000 nodes) is walked as tuples: one unpack and one ``<`` a
level. Compiling only its top levels was measured too: the top five of such a forest save a
quarter of a row's work for ~130M instructions at every cold start, which ~1,500 requests repay.

Scores accumulate in float32 (an ``array('f')`` rounds on every store), tree by tree in graph
order, exactly as onnxruntime sums ``ScoreValue<float>`` on one thread; a batch of one-score
trees accumulates tree by tree over all rows at once (one ``map`` per tree). Base values,
averaging, the binary-classifier conventions and the post transforms follow
tree_ensemble_aggregator.h.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from itertools import chain
from operator import add
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Tensor, f32
from slpack_handler.pyrt.transforms import VECTOR, probit, second_class

NODE_BUDGET = 1000
"""A forest of at most this many split nodes is compiled to expressions at load. compile()
costs ~100k instructions a node (~30 µs here: 30 ms at most, kept within the cold-start aim of
0.15x onnxruntime's); a larger forest is walked as tuples."""
_MAX_DEPTH = 40  # nesting the parser takes on every supported Python, with room to spare
_CHUNK = 8_000  # characters of source per compile(): its peak memory grows with the source


def _rows(x: Tensor, width: int, negate: bool) -> list[list[float]]:
    """Rows of the input, extended with their negations when some node compares ``-x``."""
    data, shape = x
    cols = shape[-1] if len(shape) > 1 else len(data)
    if cols < width:
        raise ValueError(f"the trees read {width} features but the input has {cols}")
    if len(data) == cols and not negate:
        return [data]  # one row, as the trees read it
    rows = [data[i : i + cols] for i in range(0, len(data), cols)] if cols else []
    if negate:
        return [row[:width] + [-v for v in row[:width]] for row in rows]
    return rows


class _Source:
    """Python source of trees as conditional expressions; a constant that is not a finite
    literal (an infinite or NaN weight or threshold) is referenced as ``s[i]``."""

    def __init__(self) -> None:
        self.refs: list[Any] = []

    def ref(self, value: Any) -> str:
        self.refs.append(value)
        return f"s[{len(self.refs) - 1}]"

    def leaf(self, value: Any) -> str:
        if type(value) is float:
            return repr(value) if math.isfinite(value) else self.ref(value)
        if type(value) is not list or not all(
            type(p) is tuple and len(p) == 2 and type(p[0]) is int and type(p[1]) is float
            for p in value
        ):
            raise ValueError("a tree leaf is not a weight or a list of (target, weight)")
        if not all(math.isfinite(w) for _, w in value):
            return self.ref(value)
        return repr(tuple(value))

    def tree(self, node: Any) -> str:
        if type(node) is not tuple:
            return self.leaf(node)
        feature, threshold, yes, no = node
        if type(feature) is not int or type(threshold) is not float or feature < 0:
            raise ValueError("a tree node is not (feature, threshold, less, otherwise)")
        if threshold != threshold:  # x < NaN is false for every x
            return self.tree(no)
        limit = repr(threshold) if math.isfinite(threshold) else self.ref(threshold)
        return f"({self.tree(yes)} if x[{feature}]<{limit} else {self.tree(no)})"


def _fits(trees: list[Any], budget: int) -> bool:
    """Whether the trees have at most ``budget`` split nodes and :data:`_MAX_DEPTH` levels."""
    frontier = [n for n in trees if type(n) is tuple]
    used = levels = 0
    while frontier:
        used += len(frontier)
        levels += 1
        if used > budget or levels > _MAX_DEPTH:
            return False
        frontier = [c for n in frontier for c in (n[2], n[3]) if type(c) is tuple]
    return True


def compile_trees(
    trees: list[Any], budget: int | None = None
) -> Callable[[list[float]], Sequence[Any]] | None:
    """A function of a row giving every tree's leaf, the trees compiled to expressions; None
    when the forest has more than ``budget`` split nodes (:data:`NODE_BUDGET`)."""
    if not _fits(trees, NODE_BUDGET if budget is None else budget):
        return None
    source = _Source()
    groups: list[list[str]] = [[]]
    size = 0
    for tree in trees:
        if size > _CHUNK:
            groups.append([])
            size = 0
        groups[-1].append(source.tree(tree))
        size += len(groups[-1][-1])
    scope = {"__builtins__": {}, "s": source.refs}
    chunks = [eval(compile(f"lambda x:({','.join(g)},)", "<trees>", "eval"), scope) for g in groups]
    if len(chunks) == 1:
        return chunks[0]  # type: ignore[no-any-return]
    return lambda xs: list(chain.from_iterable([chunk(xs) for chunk in chunks]))


def _leaves(trees: list[Any]) -> Callable[[list[float]], Sequence[Any]]:
    """Every tree's leaf for a row: compiled when the forest fits :data:`NODE_BUDGET`, else
    walked."""
    return compile_trees(trees) or _walker(trees)


def _walker(trees: list[Any]) -> Callable[[list[float]], list[Any]]:
    """Every tree's leaf for a row by one tuple walk per tree (one unpack and one ``<`` a
    level)."""

    def walk(xs: list[float]) -> list[Any]:
        out = []
        for n in trees:
            while type(n) is tuple:
                v, c, a, b = n
                n = a if xs[v] < c else b
            out.append(n)
        return out

    return walk


Scores = Callable[[list[list[float]]], list[tuple[list[float], list[bool]]]]


def _totals(params: dict[str, Any], trees: list[Any]) -> Callable[..., list[float]]:
    """Per-row sums of one-weight leaves, in float32 (double for double forests), tree order.

    One row adds its leaves in one loop (a walked forest walks and adds in the same loop); a
    batch adds tree by tree over all rows with one ``map`` per tree: the same roundings in the
    same order, at C speed.
    """
    code = "d" if params["double"] else "f"
    compiled = compile_trees(trees)
    leaves = compiled or _walker(trees)

    def one(xs: list[float]) -> list[float]:
        acc = array(code, (0.0,))
        if compiled is not None:
            for n in compiled(xs):
                acc[0] += n
            return acc.tolist()
        for n in trees:
            while type(n) is tuple:
                v, c, a, b = n
                n = a if xs[v] < c else b
            acc[0] += n
        return acc.tolist()

    def totals(rows: list[list[float]]) -> list[float]:
        if len(rows) == 1:
            return one(rows[0])
        column = array(code, (0.0,)) * len(rows)
        for weights in zip(*map(leaves, rows)):
            column = array(code, list(map(add, column, weights)))
        return column.tolist()

    return totals


def _single_sums(params: dict[str, Any], trees: list[Any]) -> Scores:
    """Raw scores of one-weight leaves (SUM/AVERAGE), the first of ``n_outputs`` columns."""
    totals = _totals(params, trees)
    count = params["n_outputs"]
    has = [True] + [False] * (count - 1)
    pad = [0.0] * (count - 1)
    return lambda rows: [([s, *pad], has) for s in totals(rows)]


def _pair_sums(params: dict[str, Any], leaves: Callable[..., Any]) -> Scores:
    """Raw scores of leaves with (target, weight) pairs (SUM/AVERAGE)."""
    code = "d" if params["double"] else "f"
    count = params["n_outputs"]
    static: list[bool] | None = params.get("has_score")
    zeros = [0.0] * count

    def row(xs: list[float]) -> tuple[list[float], list[bool]]:
        acc = array(code, zeros)
        if static is not None:
            for n in leaves(xs):
                for k, w in n:
                    acc[k] += w
            return acc.tolist(), static
        has = [False] * count
        for n in leaves(xs):
            for k, w in n:
                acc[k] += w
                has[k] = True
        return acc.tolist(), has

    return lambda rows: list(map(row, rows))


def _extremes(params: dict[str, Any], leaves: Callable[..., Any]) -> Scores:
    """Raw scores of the MIN/MAX aggregations."""
    count = params["n_outputs"]
    lower = params["aggregate"] == "MIN"
    single = params["single"]

    def row(xs: list[float]) -> tuple[list[float], list[bool]]:
        best = [0.0] * count
        has = [False] * count
        for n in leaves(xs):
            for k, w in ((0, n),) if single else n:
                if not has[k] or (w < best[k] if lower else w > best[k]):
                    best[k] = w
                has[k] = True
        return best, has

    return lambda rows: list(map(row, rows))


def _scorer(params: dict[str, Any]) -> Scores:
    """Per-row raw scores and has-score flags for the aggregation ``params`` name."""
    trees = params["trees"]
    single = params["single"]
    if params["aggregate"] in ("MIN", "MAX"):
        return _extremes(params, _leaves(trees))
    if single or params.get("one_weight"):  # bare weights: one column of sums
        return _single_sums(params, trees)
    return _pair_sums(params, _leaves(trees))


def _regression_finish(params: dict[str, Any]) -> Callable[[list[float], list[bool]], list[float]]:
    """FinalizeScores of the regressor aggregators (one target, or several)."""
    base = params["base_values"]
    count = params["n_outputs"]
    n_trees = params["n_trees"]
    aggregate = params["aggregate"]
    transform = params["post_transform"]
    rnd = (lambda v: v) if params["double"] else (lambda v: f32(v))
    origin = base[0] if len(base) == 1 else 0.0
    use_base = len(base) == count

    def one(scores: list[float], has: list[bool]) -> list[float]:
        s = scores[0]
        if aggregate == "AVERAGE":
            s = rnd([rnd([s / n_trees])[0] + origin])[0]
        elif aggregate == "SUM":
            s = rnd([s + origin])[0]
        else:
            s = rnd([s + origin])[0] if has[0] else origin
        return [probit(s)] if transform == "PROBIT" else [s]

    def many(scores: list[float], has: list[bool]) -> list[float]:
        if aggregate == "AVERAGE":
            scores = rnd([s / n_trees for s in scores])
        if use_base:
            scores = rnd([s + b for s, b in zip(scores, base)])
        values = [s if h else 0.0 for s, h in zip(scores, has)]
        return VECTOR[transform](values)

    return one if params["single"] else many


def _plain_sum(params: dict[str, Any]) -> Callable[[Tensor], Tensor] | None:
    """The kernel of a one-target SUM regressor without a post transform (forests and boosting,
    the common case): the batch's sums plus the base value, in two C-speed passes. None for the
    other aggregations."""
    if not params["single"] or params["aggregate"] != "SUM" or params["post_transform"] != "NONE":
        return None
    base = params["base_values"]
    origin = base[0] if len(base) == 1 else 0.0
    totals = _totals(params, params["trees"])
    width, negate = params["width"], params["negate"]

    def kernel(x: Tensor) -> Tensor:
        sums = f32([s + origin for s in totals(_rows(x, width, negate))])
        return sums, (len(sums), 1)

    return kernel


def tree_regressor(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """TreeEnsembleRegressor: [N, n_targets] float32."""
    plain = _plain_sum(params)
    if plain is not None:
        return plain
    scores = _scorer(params)
    finish = _regression_finish(params)
    width, negate = params["width"], params["negate"]
    count = params["n_outputs"]

    def kernel(x: Tensor) -> Tensor:
        out = [v for s, h in scores(_rows(x, width, negate)) for v in finish(s, h)]
        return f32(out), (len(out) // count, count)

    return kernel


class _Binary:
    """The two-class conventions of onnxruntime's TreeAggregatorClassifier."""

    def __init__(self, params: dict[str, Any]) -> None:
        labels = params["labels"]
        self.labels = labels
        # Outside the binary case onnxruntime answers the literal labels 1 and 0 (for string
        # labels, the indices 1 and 0), whatever the class labels are.
        self.literal = not params["binary_case"] and not isinstance(labels[0], str)
        self.base = params["base_values"]
        self.binary_case = params["binary_case"]
        self.all_positive = params["all_positive"]
        self.transform = params["post_transform"]
        self.rnd = (lambda v: v) if params["double"] else (lambda v: f32(v))

    def finish(self, scores: list[float], has: list[bool]) -> tuple[Any, list[float]]:
        base, rnd = self.base, self.rnd
        second = -1
        keep = 2
        if len(base) == 2:
            if has[1]:
                scores[1] = rnd([base[1] + scores[0]])[0]
                scores[0] = -scores[1]
            else:
                scores = rnd([scores[0] + base[0], scores[1] + base[1]])
            has = [has[0], True] if has[1] else has
        elif len(base) == 1:
            scores[0] = rnd([scores[0] + base[0]])[0]
            keep = 2 if has[1] else 1
        elif not base:
            second = 3
            keep = 2 if has[1] else 1
        pos = scores[1] if keep == 2 and has[1] else scores[0] if has[0] else 0.0
        if self.binary_case:
            if self.all_positive:
                second, label = (0, 1) if pos > 0.5 else (1, 0)
            else:
                second, label = (2, 1) if pos > 0 else (3, 0)
        else:
            label = 1 if pos > 0 else 0
        if not self.literal:
            label = self.labels[label]
        if keep == 2:
            return label, VECTOR[self.transform]([s if h else 0.0 for s, h in zip(scores, has)])
        if self.transform == "PROBIT":
            return label, [probit(scores[0]), 0.0]
        if second >= 0:
            return label, second_class(scores[0], second, self.transform)
        return label, [scores[0], 0.0]


def tree_classifier(op: str, params: dict[str, Any]) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """TreeEnsembleClassifier: labels [N] and scores [N, n_classes] (float32)."""
    scorer = _scorer(params)
    labels = params["labels"]
    count = len(labels)
    base = params["base_values"]
    transform = params["post_transform"]
    width, negate = params["width"], params["negate"]
    binary = _Binary(params)
    rnd = (lambda v: v) if params["double"] else (lambda v: f32(v))

    def many(scores: list[float], has: list[bool]) -> tuple[Any, list[float]]:
        has = list(has)
        for k, b in enumerate(base):
            scores[k] = b if not has[k] else scores[k] + b
            has[k] = True
        scores = rnd(scores)
        best, top = -1, 0.0
        for k, (s, h) in enumerate(zip(scores, has)):
            if h and (best == -1 or s > top):
                best, top = k, s
        return labels[best], VECTOR[transform]([s if h else 0.0 for s, h in zip(scores, has)])

    finish = binary.finish if count == 2 else many

    def kernel(x: Tensor) -> tuple[Tensor, Tensor]:
        out_labels: list[Any] = []
        out_scores: list[float] = []
        for scores, has in scorer(_rows(x, width, negate)):
            label, probabilities = finish(scores, has)
            out_labels.append(label)
            out_scores.extend(probabilities)
        n = len(out_labels)
        return (out_labels, (n,)), (f32(out_scores), (n, count))

    return kernel
