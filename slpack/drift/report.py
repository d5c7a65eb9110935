"""What ``slpack drift`` prints: per feature and for the predictions, the index and the bins
that moved most."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slpack.drift.psi import SHIFTED, WATCH, Verdict, observed, psi, term, verdict
from slpack.drift.sketches import Part, Tally

SHOWN_BINS = 2  # the most shifted bins named per row


@dataclass
class Shift:
    """One bin: its share in the baseline and in what was observed (plain, not smoothed)."""

    bin: str
    baseline: float
    observed: float


@dataclass
class Row:
    name: str
    kind: str
    rows: int
    psi: float
    verdict: Verdict
    shifts: list[Shift]  # the bins that contribute most to the index, largest first


@dataclass
class DriftReport:
    model: str
    version: str
    baseline: str  # where the baseline came from ("sample" or a file name)
    source: str  # what was compared: the logs or the data file, and how much of it
    features: list[Row]
    prediction: Row | None

    def rows(self) -> list[Row]:
        return [*self.features, *([self.prediction] if self.prediction else [])]

    def above(self, threshold: float) -> list[Row]:
        return [r for r in self.rows() if r.rows and r.psi > threshold]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["thresholds"] = {"watch": WATCH, "shifted": SHIFTED}
        return out


def report(tally: Tally, source: str) -> DriftReport:
    layout = tally.layout
    rows = [_row(part, counts) for part, counts in zip(layout.parts, tally.counts)]
    prediction = rows.pop() if layout.has_prediction else None
    return DriftReport(layout.name, layout.version, layout.source, source, rows, prediction)


def _row(part: Part, counts: list[int]) -> Row:
    total = sum(counts)
    value = psi(counts, part.shares)
    smoothed = observed(counts, part.shares)
    ranked = sorted(range(len(counts)), key=lambda i: -term(smoothed[i], part.shares[i]))
    shifts = [
        Shift(part.labels[i], part.shares[i], counts[i] / total if total else 0.0)
        for i in ranked[:SHOWN_BINS]
    ]
    rounded = round(value, 4)
    return Row(part.name, part.kind, total, rounded, verdict(rounded, total), shifts)


_STYLE = {"stable": "green", "watch": "yellow", "shifted": "bold red", "no data": "dim"}


def print_report(console: Console, found: DriftReport) -> None:
    table = Table(
        title=escape(
            f"drift of {found.model} {found.version} against its baseline ({found.baseline})"
        ),
        caption=escape(
            f"{found.source}; PSI above {WATCH} is worth watching, above {SHIFTED} a shift"
        ),
    )
    table.add_column("feature")
    table.add_column("kind")
    table.add_column("rows", justify="right")
    table.add_column("PSI", justify="right")
    table.add_column("")
    table.add_column("most shifted bins: baseline -> observed")
    for row in found.rows():
        moved = "; ".join(
            f"{escape(s.bin)}: {s.baseline:.1%} -> {s.observed:.1%}" for s in row.shifts if row.rows
        )
        style = _STYLE[row.verdict]
        table.add_row(
            escape(row.name),
            row.kind,
            str(row.rows),
            f"{row.psi:.3f}",
            f"[{style}]{row.verdict}[/]",
            moved,
            end_section=row is found.features[-1] and found.prediction is not None,
        )
    console.print(table)
