"""Drift sketches back into counts: the layout a bundle's baseline fixes, and their sum.

A sketch (the ``drift`` property of a metric record) is positional: one comma-separated token of
bin counts per feature, in ``input.features`` order, then one for the predictions when the
baseline has them (docs/drift.md). :class:`Layout` reads which bins each token holds from the
manifest, with the handler's own code (so the two cannot disagree on a bin), and :class:`Tally`
adds sketches up, refusing any whose shape does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slpack.drift.psi import bin_labels
from slpack.errors import SlpackError
from slpack_handler.drift import feature_bins, prediction_bins

PREDICTION = "prediction"  # the name the predictions' part is reported under


@dataclass(frozen=True)
class Part:
    """One feature, or the predictions: its bins' labels and baseline shares."""

    name: str
    kind: str
    labels: list[str]
    shares: list[float]


class Layout:
    """The parts of a bundle's sketches, in the order the handler writes them."""

    def __init__(self, name: str, version: str, baseline: Any, where: str) -> None:
        if not baseline:
            raise SlpackError(
                f"{where} has no drift baseline (it was built by an older slpack); rebuild it "
                "with slpack build."
            )
        self.name, self.version = name, version
        self.source = str(baseline.get("source", "sample"))
        self.rows = int(baseline.get("rows", 0))
        try:
            parts = [self._part(e["name"], e, feature_bins(e).size) for e in baseline["features"]]
            prediction = baseline.get("prediction")
            if prediction:
                parts.append(self._part(PREDICTION, prediction, prediction_bins(prediction).size))
        except (KeyError, TypeError, ValueError) as exc:
            raise SlpackError(
                f"the drift baseline of {where} cannot be read ({type(exc).__name__}: {exc}); "
                "rebuild the bundle with slpack build."
            ) from None
        self.parts = parts
        self.has_prediction = bool(prediction)

    @staticmethod
    def _part(name: str, entry: dict[str, Any], size: int) -> Part:
        labels, shares = bin_labels(entry), [float(s) for s in entry["shares"]]
        if not len(labels) == len(shares) == size:
            raise ValueError(f"{name} has {len(shares)} shares for {size} bins")
        return Part(name, str(entry["kind"]), labels, shares)

    @classmethod
    def of(cls, manifest: Any, where: str) -> Layout:
        """The layout of a bundle's manifest."""
        return cls(str(manifest["name"]), str(manifest["version"]), manifest.get("baseline"), where)

    @property
    def features(self) -> list[Part]:
        return self.parts[:-1] if self.has_prediction else self.parts

    @property
    def prediction(self) -> Part | None:
        return self.parts[-1] if self.has_prediction else None


@dataclass
class Tally:
    """The sum of many sketches of one layout."""

    layout: Layout
    counts: list[list[int]] = field(init=False)
    sketches: int = 0
    malformed: int = 0

    def __post_init__(self) -> None:
        self.counts = [[0] * len(p.shares) for p in self.layout.parts]

    def add(self, sketch: str) -> bool:
        """Add one sketch; False (and counted as malformed) when it does not fit the layout."""
        try:
            tokens = [[int(n) for n in token.split(",")] for token in sketch.split(" ")]
        except ValueError:
            tokens = []
        if len(tokens) != len(self.counts) or any(
            len(t) != len(c) or min(t) < 0 for t, c in zip(tokens, self.counts)
        ):
            self.malformed += 1
            return False
        for total, token in zip(self.counts, tokens):
            for i, n in enumerate(token):
                total[i] += n
        self.sketches += 1
        return True
