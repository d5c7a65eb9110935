"""The benchmark's figures, ratios and aims, as JSON, a rich table and a markdown table.

Every figure is derived here from the raw measurements of
:class:`~slpack.bench.measure.BenchResult`,
once, in :func:`to_json`; the tables render that JSON document, so the three outputs cannot
disagree. Ratios read "how many times better": baseline / slpack, and slpack / floor for the gap
to the floor (1.0 means on the floor).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from slpack.bench.measure import BASELINE, FLOOR, SLPACK, TARGETS, BenchResult
from slpack.bench.sizes import Size
from slpack.bench.stats import Summary, sig
from slpack.bench.workload import BATCH, SINGLE

FORMAT = 1
SESSION_RUN = "session_run"  # the floor's name in the warm figures: a bare session.run
PHASES = (
    "startup",
    "driver",
    "import",
    "session",
    "first_call",
)  # as the driver marks them, in order


@dataclass(frozen=True)
class Aim:
    """A product claim checked against this run: ``measured`` must be >= (or <=) ``target``."""

    name: str
    measured: float
    target: float
    at_least: bool  # True: measured >= target is met; False: measured <= target

    @property
    def met(self) -> bool:
        return self.measured >= self.target if self.at_least else self.measured <= self.target

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "measured": sig(self.measured), "met": self.met}


def to_json(result: BenchResult) -> dict[str, Any]:
    """The whole report as one JSON-able document."""
    cold = {t: Summary.of([c.ms for c in result.cold[t]]) for t in TARGETS}
    rss = {t: Summary.of([c.peak_rss_mib for c in result.cold[t]]) for t in TARGETS}
    warm = {
        name: {
            (SESSION_RUN if t == FLOOR else t): Summary.of(result.warm_ms[name][t]) for t in TARGETS
        }
        for name in (SINGLE, BATCH)
    }
    sizes = {
        side: {**parts, "total": sum(parts.values(), start=Size(0, 0))}
        for side, parts in result.sizes.items()
    }
    ours, theirs = sizes[SLPACK]["total"], sizes[BASELINE]["total"]
    ratios = {
        "cold_start": _pair(cold[BASELINE].median, cold[SLPACK].median, cold[FLOOR].median),
        **{
            f"warm_{name}_{q}": _pair(
                getattr(warm[name][BASELINE], q),
                getattr(warm[name][SLPACK], q),
                getattr(warm[name][SESSION_RUN], q),
            )
            for name in (SINGLE, BATCH)
            for q in ("p50", "p99")
        },
        "size_unzipped": {"baseline_over_slpack": sig(theirs.unzipped / ours.unzipped)},
        "size_zipped": {"baseline_over_slpack": sig(theirs.zipped / ours.zipped)},
        "peak_rss": _pair(rss[BASELINE].median, rss[SLPACK].median, rss[FLOOR].median),
    }
    aims = [
        Aim(
            "cold start: scikit-learn / slpack",
            ratios["cold_start"]["baseline_over_slpack"],
            9.0,
            True,
        ),
        Aim("cold start: slpack / floor", ratios["cold_start"]["slpack_over_floor"], 1.1, False),
        Aim(
            "warm 1-row p50: scikit-learn / slpack",
            ratios["warm_single_p50"]["baseline_over_slpack"],
            50.0,
            True,
        ),
        Aim(
            "warm 1-row p50: slpack / session.run",
            ratios["warm_single_p50"]["slpack_over_floor"],
            1.5,
            False,
        ),
        Aim(
            "size unzipped: scikit-learn / slpack",
            ratios["size_unzipped"]["baseline_over_slpack"],
            3.0,
            True,
        ),
        Aim(
            "size zipped: scikit-learn / slpack",
            ratios["size_zipped"]["baseline_over_slpack"],
            3.0,
            True,
        ),
        Aim(
            "peak RSS: scikit-learn / slpack", ratios["peak_rss"]["baseline_over_slpack"], 2.0, True
        ),
    ]
    options = result.options
    return {
        "format": FORMAT,
        "bundle": result.bundle,
        "environment": result.environment,
        "settings": {
            "runs": options.runs,
            "requests": options.requests,
            "batch_size": options.batch_size,
            "round_size": options.round_size,
            "warmup_requests": options.warmup_requests,
            "layer": str(options.layer) if options.layer else None,
            "sample": str(options.sample) if options.sample else None,
        },
        "cold_start_ms": {
            t: {**cold[t].to_json(), "samples": [sig(c.ms) for c in result.cold[t]]}
            for t in TARGETS
        },
        "cold_start_phases_ms": {t: _median_phases(result, t) for t in TARGETS},
        "peak_rss_mib": {t: rss[t].to_json() for t in TARGETS},
        "modules_loaded": {t: max(c.modules for c in result.cold[t]) for t in TARGETS},
        "warm_ms": {name: {t: s.to_json() for t, s in per.items()} for name, per in warm.items()},
        "size_bytes": {
            side: {part: s.to_json() for part, s in parts.items()} for side, parts in sizes.items()
        },
        "agreement": result.agreement,
        "ratios": ratios,
        "aims": [a.to_json() for a in aims],
    }


def print_report(console: Console, report: dict[str, Any]) -> None:
    """The figures, the aims and where the cold start goes, as rich tables."""
    bundle = report["bundle"]
    for title, headers, rows in _tables(report):
        table = Table(
            title=title.format(**bundle),
            caption=_CAPTIONS.get(title, "").format(**report["settings"]),
        )
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*(_MET_STYLE.get(cell, cell) for cell in row))
        console.print(table)


def to_markdown(report: dict[str, Any]) -> str:
    """The same tables in GitHub markdown, for a README or an issue."""
    bundle, env, settings = report["bundle"], report["environment"], report["settings"]
    lines = [
        f"`slpack bench` on **{bundle['name']}** ({bundle['estimator']}); Python {env['python']}, "
        f"{env['machine']}, {env['cpus']} CPUs; {settings['runs']} cold starts and "
        f"{settings['requests']} "
        "warm requests per function, interleaved.",
    ]
    for title, headers, rows in _tables(report):
        lines += ["", f"**{title.format(**bundle)}**", "", *_markdown_table(headers, rows)]
        if title in _CAPTIONS:
            lines += ["", _CAPTIONS[title].format(**settings)]
    return "\n".join(lines) + "\n"


_FIGURES = "slpack bench: {name}"
_AIMS = "aims"
_PHASES = "where the cold start goes (median ms)"
_CAPTIONS = {
    _FIGURES: "cold start: median (p25-p75) of {runs} runs, process start to first response; warm: "
    "in-process, event in, response out; size: function + layer (slpack), function + "
    "scikit-learn stack (baseline)",
}
_MET_STYLE = {"met": "[green]met[/]", "missed": "[red]missed[/]"}


def _tables(report: dict[str, Any]) -> list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
    phases = report["cold_start_phases_ms"]
    names = [name for name in PHASES if any(name in phases[t] for t in TARGETS)]
    return [
        (
            _FIGURES,
            ("", "slpack", "sklearn", "floor", "sklearn / slpack", "slpack / floor"),
            _figure_rows(report),
        ),
        (_AIMS, ("aim", "measured", "target", ""), _aim_rows(report)),
        (
            _PHASES,
            ("", *names),
            [
                (t, *(f"{phases[t][n]:.3g}" if n in phases[t] else "" for n in names))
                for t in TARGETS
            ],
        ),
    ]


def _figure_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    cold, rss, warm, ratios = (
        report["cold_start_ms"],
        report["peak_rss_mib"],
        report["warm_ms"],
        report["ratios"],
    )
    rows = [
        (
            "cold start, ms",
            *(_spread(cold[t]) for t in TARGETS),
            *_ratio_cells(ratios["cold_start"]),
        ),
        (
            "peak RSS, MiB",
            *(f"{rss[t]['median']:.3g}" for t in TARGETS),
            *_ratio_cells(ratios["peak_rss"]),
        ),
    ]
    for name, label in ((SINGLE, "1 row"), (BATCH, f"{report['settings']['batch_size']} rows")):
        for q, key in (("p50", "median"), ("p99", "p99")):
            cells = (f"{warm[name][t][key]:.3g}" for t in (SLPACK, BASELINE, SESSION_RUN))
            rows.append(
                (f"warm {label} {q}, ms", *cells, *_ratio_cells(ratios[f"warm_{name}_{q}"]))
            )
    size = report["size_bytes"]
    for kind in ("unzipped", "zipped"):
        ours, theirs = size[SLPACK]["total"][kind], size[BASELINE]["total"][kind]
        ratio = _times(ratios[f"size_{kind}"]["baseline_over_slpack"])
        rows.append((f"size {kind}, MB", f"{ours / 1e6:.3g}", f"{theirs / 1e6:.3g}", "", ratio, ""))
    return rows


def _aim_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            a["name"],
            _times(a["measured"]),
            f"{'>=' if a['at_least'] else '<='} {a['target']:g}x",
            "met" if a["met"] else "missed",
        )
        for a in report["aims"]
    ]


def _markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _spread(summary: dict[str, float]) -> str:
    return f"{summary['median']:.3g} ({summary['p25']:.3g}-{summary['p75']:.3g})"


def _ratio_cells(ratio: dict[str, float]) -> tuple[str, str]:
    return _times(ratio["baseline_over_slpack"]), _times(ratio["slpack_over_floor"])


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def _pair(baseline: float, slpack: float, floor: float) -> dict[str, float]:
    return {
        "baseline_over_slpack": sig(baseline / slpack),
        "slpack_over_floor": sig(slpack / floor),
    }


def _median_phases(result: BenchResult, target: str) -> dict[str, float]:
    runs = result.cold[target]
    return {
        phase: sig(Summary.of([c.phases_ms[phase] for c in runs]).median)
        for phase in runs[0].phases_ms
    }
