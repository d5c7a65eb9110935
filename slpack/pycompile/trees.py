"""Lowering of TreeEnsembleRegressor / TreeEnsembleClassifier into nested tuples.

Each split ``x CMP t`` (BRANCH_LEQ, LT, GTE, GT), with NaN sent to the false branch or, where
``nodes_missing_value_tracks_true`` says so, to the true branch, becomes one strict comparison
``v < c`` whose true branch is ``a``, by choosing the sign of the feature and the threshold
(``x <= t`` is ``x < nextafter(t)`` for every double ``x``, both float32 and float64 inputs
compare exactly as doubles, and NaN fails every ``<``):

=========  ==============  =====================  =======  =======
mode       NaN goes        v < c                  a        b
=========  ==============  =====================  =======  =======
LEQ        false           x < next(t)            true     false
LEQ        true            -x < -t                false    true
LT         false           x < t                  true     false
LT         true            -x < next(-t)          false    true
GTE        false           -x < next(-t)          true     false
GTE        true            x < t                  false    true
GT         false           -x < -t                true     false
GT         true            x < next(t)            false    true
=========  ==============  =====================  =======  =======

The runtime then walks every node with the same two lines (pyrt/trees.py). Leaves keep
onnxruntime's weights in its order (sorted by tree, node, then attribute position).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from onnx import NodeProto

from slpack.pycompile.lowering import FLOATS, Context, Lowered, Unsupported, attributes, op_key


def _nxt(t: float) -> float:
    return math.nextafter(t, math.inf)


# mode, missing-tracks-true -> (negate x, threshold transform, true branch is the "less" one)
_SPLITS = {
    ("BRANCH_LEQ", False): (False, _nxt, True),
    ("BRANCH_LEQ", True): (True, lambda t: -t, False),
    ("BRANCH_LT", False): (False, lambda t: t, True),
    ("BRANCH_LT", True): (True, lambda t: _nxt(-t), False),
    ("BRANCH_GTE", False): (True, lambda t: _nxt(-t), True),
    ("BRANCH_GTE", True): (False, lambda t: t, False),
    ("BRANCH_GT", False): (True, lambda t: -t, True),
    ("BRANCH_GT", True): (False, _nxt, False),
}


def _pick(attrs: dict[str, Any], name: str) -> list[Any]:
    return list(attrs.get(name) or attrs.get(name + "_as_tensor") or [])


class _Forest:
    """The ensemble's nodes indexed by (tree, node), its leaves' weights and its roots."""

    def __init__(self, node: NodeProto, prefix: str) -> None:
        attrs = attributes(node)
        self.key = op_key(node)
        self.attrs = attrs
        self.double = any(k.endswith("_as_tensor") for k in attrs)
        self.trees = list(attrs["nodes_treeids"])
        self.ids = list(attrs["nodes_nodeids"])
        self.features = list(attrs["nodes_featureids"])
        self.modes = list(attrs["nodes_modes"])
        self.values = _pick(attrs, "nodes_values")
        self.true = list(attrs["nodes_truenodeids"])
        self.false = list(attrs["nodes_falsenodeids"])
        tracks = list(attrs.get("nodes_missing_value_tracks_true", []))
        self.tracks = tracks + [0] * (len(self.ids) - len(tracks))
        self.position = {(t, n): i for i, (t, n) in enumerate(zip(self.trees, self.ids))}
        if len(self.position) != len(self.ids):
            raise Unsupported(f"{self.key} with duplicate node ids")
        self.roots = [
            i for i in range(len(self.trees)) if i == 0 or self.trees[i] != self.trees[i - 1]
        ]
        weights = _pick(attrs, prefix + "_weights")
        entries = sorted(
            zip(
                attrs[prefix + "_treeids"],
                attrs[prefix + "_nodeids"],
                range(len(weights)),
                attrs[prefix + "_ids"],
                weights,
            )
        )
        self.leaves: dict[int, list[tuple[int, float]]] = {}
        for tree, nid, _, target, weight in entries:
            where = self.position.get((tree, nid))
            if where is None:
                raise Unsupported(f"{self.key} weight for a missing node")
            if self.modes[where] == "LEAF":
                self.leaves.setdefault(where, []).append((int(target), float(weight)))
        self.negate = False

    def child(self, i: int, side: list[int]) -> int:
        found = self.position.get((self.trees[i], side[i]))
        if found is None or found == i:
            raise Unsupported(f"{self.key} with a broken child link")
        return found

    def build(self, i: int, single: bool, depth: int = 0) -> Any:
        if depth > sys.getrecursionlimit() // 2:
            raise Unsupported(f"{self.key} deeper than {depth} levels")
        if self.modes[i] == "LEAF":
            weights = self.leaves.get(i)
            if not weights:
                raise Unsupported(f"{self.key} leaf without weights")
            return weights[0][1] if single else weights
        negate, threshold, less_is_true = _SPLITS[(self.modes[i], bool(self.tracks[i]))]
        self.negate = self.negate or negate
        yes = self.build(self.child(i, self.true), single, depth + 1)
        no = self.build(self.child(i, self.false), single, depth + 1)
        feature = self.features[i] + (self.width if negate else 0)
        a, b = (yes, no) if less_is_true else (no, yes)
        return (feature, threshold(float(self.values[i])), a, b)

    @property
    def width(self) -> int:
        return max(self.features) + 1 if self.features else 0


def _has_score(forest: _Forest, count: int) -> list[bool] | None:
    """Which outputs receive a score on every row, when that does not depend on the row."""
    ever: set[int] = set()
    always: set[int] = set()
    by_tree: dict[int, set[int]] = {}
    for where, weights in forest.leaves.items():
        ks = {k for k, _ in weights}
        ever |= ks
        tree = forest.trees[where]
        seen = by_tree.get(tree)
        by_tree[tree] = ks if seen is None else seen & ks
    for common in by_tree.values():
        always |= common
    if all(k in always or k not in ever for k in range(count)):
        return [k in always for k in range(count)]
    return None


def lower_tree(node: NodeProto, ctx: Context) -> Lowered:
    dtype = ctx.dtype(node.input[0])
    key = op_key(node)
    if dtype not in FLOATS:
        raise Unsupported(f"{key} on {dtype}")
    classifier = node.op_type == "TreeEnsembleClassifier"
    forest = _Forest(node, "class" if classifier else "target")
    attrs = forest.attrs
    labels = list(attrs.get("classlabels_strings") or attrs.get("classlabels_int64s") or [])
    count = len(labels) if classifier else int(attrs.get("n_targets", 1))
    if classifier and count < 2:
        raise Unsupported(f"{key} with fewer than two classes")
    single = not classifier and count == 1
    # A classifier whose every leaf scores class 0 alone (binary boosting, binary forests) keeps
    # bare weights too: the runtime sums them as one column.
    one_weight = classifier and all(len(w) == 1 and w[0][0] == 0 for w in forest.leaves.values())
    trees = [forest.build(root, single or one_weight) for root in forest.roots]
    params: dict[str, Any] = {
        "trees": trees,
        "width": forest.width,
        "negate": forest.negate,
        "single": single,
        "one_weight": one_weight,
        "n_outputs": count,
        "n_trees": len(trees),
        "double": forest.double,
        "aggregate": attrs.get("aggregate_function", "SUM"),
        "post_transform": attrs.get("post_transform", "NONE"),
        "base_values": [float(v) for v in _pick(attrs, "base_values")],
        "has_score": None if single else _has_score(forest, count),
    }
    if not classifier:
        return Lowered(params, ["float32"])
    weights = _pick(attrs, "class_weights")
    if count == 2 and params["post_transform"] == "PROBIT" and len(set(attrs["class_ids"])) == 1:
        # one score column: onnxruntime leaves the second probability unwritten (undefined)
        raise Unsupported(f"{key} post_transform=PROBIT with one score column")
    params.update(
        labels=labels,
        binary_case=count == 2 and len(set(attrs["class_ids"])) == 1,
        all_positive=all(w >= 0 for w in weights),
    )
    return Lowered(params, ["string" if isinstance(labels[0], str) else "int64", "float32"])
