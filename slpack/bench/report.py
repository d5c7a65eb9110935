"""The benchmark's figures, ratios and aims, as JSON, rich tables and markdown tables.

Everything is derived here from the raw measurements of
:class:`~slpack.bench.measure.BenchResult`, once, in :func:`to_json`; the tables render that JSON
document, so the outputs cannot disagree. ``figures`` holds the one number per metric and target
that every ratio and aim is computed from; a ratio ``"a/b"`` is ``figures[a] / figures[b]``
(lower is better for every metric, so ``sklearn/python`` reads "times faster" and
``onnxruntime/session`` "times the floor"). A ratio is ``null`` when either side has no figure:
a runtime that is not applicable, the interpreter floor's warm latency (it answers nothing) or
size (it ships nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from slpack.bench.measure import (
    INTERPRETER,
    ONNXRUNTIME,
    PYTHON,
    SESSION,
    SKLEARN,
    TARGETS,
    BenchResult,
)
from slpack.bench.sizes import Size
from slpack.bench.stats import Summary, sig
from slpack.bench.workload import BATCH, SINGLE

FORMAT = 2
PHASES = ("startup", "driver", "import", "session", "first_call")  # as the driver marks them
# (numerator, denominator): each runtime against scikit-learn, each runtime against its floor,
# and the Python runtime against onnxruntime.
PAIRS = (
    (SKLEARN, PYTHON),
    (SKLEARN, ONNXRUNTIME),
    (PYTHON, INTERPRETER),
    (ONNXRUNTIME, SESSION),
    (PYTHON, ONNXRUNTIME),
)
# metric -> label, unit
METRICS = {
    "cold_start": ("cold start", "ms"),
    "warm_single_p50": ("warm 1 row p50", "ms"),
    "warm_single_p99": ("warm 1 row p99", "ms"),
    "warm_batch_p50": ("warm {batch} rows p50", "ms"),
    "warm_batch_p99": ("warm {batch} rows p99", "ms"),
    "size_zipped": ("size zipped", "MB"),
    "size_unzipped": ("size unzipped", "MB"),
    "peak_rss": ("peak RSS", "MiB"),
}


@dataclass(frozen=True)
class Aim:
    """A product claim checked against this run: a ratio (``pair``) or a runtime's own figure
    (``pair`` None) must be >= (``at_least``) or <= ``target``."""

    name: str
    runtime: str
    metric: str
    pair: str | None
    target: float
    at_least: bool
    unit: str = "x"
    scope: str = ""  # the models the claim is made for, when not all

    def check(self, report: dict[str, Any]) -> dict[str, Any]:
        source = report["ratios"] if self.pair else report["figures"]
        measured = source[self.metric][self.pair or self.runtime]
        met = None
        if measured is not None:
            met = measured >= self.target if self.at_least else measured <= self.target
        checked = {
            "name": self.name,
            "runtime": self.runtime,
            "metric": self.metric,
            "pair": self.pair,
            "measured": measured,
            "target": self.target,
            "at_least": self.at_least,
            "unit": self.unit,
            "scope": self.scope,
            "met": met,
        }
        if measured is None:
            checked["reason"] = report["targets"][self.runtime]["reason"]
        return checked


AIMS = (
    Aim(
        "python: cold start / onnxruntime's",
        PYTHON,
        "cold_start",
        "python/onnxruntime",
        0.15,
        False,
    ),
    Aim(
        "python: cold start, scikit-learn / python",
        PYTHON,
        "cold_start",
        "sklearn/python",
        50,
        True,
    ),
    Aim("python: peak RSS", PYTHON, "peak_rss", None, 16, False, "MiB"),
    Aim(
        "python: function.zip",
        PYTHON,
        "size_zipped",
        None,
        1,
        False,
        "MB",
        "linear models and forests up to 100 trees",
    ),
    Aim(
        "python: warm 1 row p50 / onnxruntime's",
        PYTHON,
        "warm_single_p50",
        "python/onnxruntime",
        1,
        False,
        scope="up to 100 trees",
    ),
    Aim(
        "python: warm 100 rows p50 / onnxruntime's",
        PYTHON,
        "warm_batch_p50",
        "python/onnxruntime",
        3,
        False,
    ),
    Aim(
        "onnxruntime: cold start / its floor",
        ONNXRUNTIME,
        "cold_start",
        "onnxruntime/session",
        1.1,
        False,
    ),
    Aim(
        "onnxruntime: cold start, scikit-learn / onnxruntime",
        ONNXRUNTIME,
        "cold_start",
        "sklearn/onnxruntime",
        9,
        True,
    ),
    Aim(
        "onnxruntime: warm 1 row p50 / session.run",
        ONNXRUNTIME,
        "warm_single_p50",
        "onnxruntime/session",
        1.5,
        False,
    ),
)


def to_json(result: BenchResult) -> dict[str, Any]:
    """The whole report as one JSON-able document."""
    measured = result.targets
    cold = {t: Summary.of([c.ms for c in result.cold[t]]) for t in measured}
    rss = {t: Summary.of([c.peak_rss_mib for c in result.cold[t]]) for t in measured}
    warm = {
        name: {t: Summary.of(samples) for t, samples in per.items()}
        for name, per in result.warm_ms.items()
    }
    sizes = {
        t: {**parts, "total": sum(parts.values(), start=Size(0, 0))}
        for t, parts in result.sizes.items()
    }
    figures = _figures(cold, rss, warm, sizes)
    options = result.options
    report: dict[str, Any] = {
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
        "targets": {
            t: {"applicable": t in measured, "reason": result.not_applicable.get(t)}
            for t in TARGETS
        },
        "cold_start_ms": {
            t: {**cold[t].to_json(), "samples": [sig(c.ms) for c in result.cold[t]]}
            for t in measured
        },
        "cold_start_phases_ms": {t: _median_phases(result, t) for t in measured},
        "peak_rss_mib": {t: rss[t].to_json() for t in measured},
        "modules_loaded": {t: max(c.modules for c in result.cold[t]) for t in measured},
        "warm_ms": {name: {t: s.to_json() for t, s in per.items()} for name, per in warm.items()},
        "size_bytes": {
            t: {part: s.to_json() for part, s in parts.items()} for t, parts in sizes.items()
        },
        "agreement": result.agreement,
        "figures": figures,
        "ratios": {
            metric: {f"{a}/{b}": _ratio(values.get(a), values.get(b)) for a, b in PAIRS}
            for metric, values in figures.items()
        },
    }
    report["aims"] = [aim.check(report) for aim in AIMS]
    return report


def _figures(
    cold: dict[str, Summary],
    rss: dict[str, Summary],
    warm: dict[str, dict[str, Summary]],
    sizes: dict[str, dict[str, Size]],
) -> dict[str, dict[str, float | None]]:
    """metric -> target -> the one figure ratios use (None: the target has none)."""
    figures: dict[str, dict[str, float | None]] = {
        "cold_start": {t: sig(s.median) for t, s in cold.items()},
        **{
            f"warm_{name}_{q}": {t: sig(getattr(s, q)) for t, s in warm.get(name, {}).items()}
            for name in (SINGLE, BATCH)
            for q in ("p50", "p99")
        },
        "size_zipped": {t: sig(s["total"].zipped / 1e6) for t, s in sizes.items()},
        "size_unzipped": {t: sig(s["total"].unzipped / 1e6) for t, s in sizes.items()},
        "peak_rss": {t: sig(s.median) for t, s in rss.items()},
    }
    return {m: {t: figures[m].get(t) for t in TARGETS} for m in METRICS}


def _ratio(a: float | None, b: float | None) -> float | None:
    return sig(a / b) if a is not None and b else None


def print_report(console: Console, report: dict[str, Any]) -> None:
    """The figures, the ratios, the aims and where the cold start goes, as rich tables."""
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
    for line in _notes(report):
        console.print(line)


def to_markdown(report: dict[str, Any]) -> str:
    """The same tables in GitHub markdown, for a README or an issue."""
    bundle, env, settings = report["bundle"], report["environment"], report["settings"]
    lines = [
        f"`slpack bench` on **{bundle['name']}** ({bundle['estimator']}; the bundle ships "
        f"{bundle['runtime']}); Python {env['python']}, {env['machine']}, {env['cpus']} CPUs; "
        f"{settings['runs']} cold starts and {settings['requests']} warm requests per function "
        "and input, taking turns.",
    ]
    for title, headers, rows in _tables(report):
        lines += ["", f"**{title.format(**bundle)}**", "", *_markdown_table(headers, rows)]
        if title in _CAPTIONS:
            lines += ["", _CAPTIONS[title].format(**settings)]
    notes = _notes(report)
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"


_FIGURES = "slpack bench: {name}"
_RATIOS = "ratios"
_AIMS = "aims"
_PHASES = "where the cold start goes (median ms)"
_CAPTIONS = {
    _FIGURES: "cold start: median (p25-p75) of {runs} runs, process start to first response; "
    "warm: in-process, event in, response out (session: a bare session.run); size: function.zip "
    "(python), + the layer (onnxruntime), function + scikit-learn stack (scikit-learn), layer + "
    "model.onnx (session)",
    _RATIOS: "a / b of the figures above: scikit-learn / a runtime reads times faster (or "
    "smaller), a runtime / its floor times the floor",
}
_MET_STYLE = {"met": "[green]met[/]", "missed": "[red]missed[/]"}
_NA = "n/a"


def _tables(report: dict[str, Any]) -> list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
    phases = report["cold_start_phases_ms"]
    names = [name for name in PHASES if any(name in p for p in phases.values())]
    return [
        (_FIGURES, ("", *TARGETS), _figure_rows(report)),
        (_RATIOS, ("", *(f"{a} /\n{b}" for a, b in PAIRS)), _ratio_rows(report)),
        (_AIMS, ("aim", "measured", "target", "applies to", ""), _aim_rows(report)),
        (
            _PHASES,
            ("", *names),
            [(t, *(number(p[n]) if n in p else "" for n in names)) for t, p in phases.items()],
        ),
    ]


def _label(metric: str, report: dict[str, Any]) -> str:
    label, unit = METRICS[metric]
    return f"{label.format(batch=report['settings']['batch_size'])}, {unit}"


def _figure_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    applicable = {t for t, v in report["targets"].items() if v["applicable"]}
    cold = report["cold_start_ms"]
    rows = []
    for metric, values in report["figures"].items():
        cells = []
        for t in TARGETS:
            value = values[t]
            if t not in applicable:
                cells.append(_NA)
            elif value is None:
                cells.append("")
            elif metric == "cold_start":
                cells.append(f"{number(value)} ({number(cold[t]['p25'])}-{number(cold[t]['p75'])})")
            else:
                cells.append(number(value))
        rows.append((_label(metric, report), *cells))
    return rows


def _ratio_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    """A ratio, or n/a when a side was not applicable (blank: a floor without that figure)."""
    missing = {t for t, v in report["targets"].items() if not v["applicable"]}
    return [
        (
            _label(metric, report).rsplit(",", 1)[0],
            *(_NA if {a, b} & missing else times(ratios[f"{a}/{b}"]) for a, b in PAIRS),
        )
        for metric, ratios in report["ratios"].items()
    ]


def _aim_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for a in report["aims"]:
        unit = a["unit"]
        measured = _NA if a["measured"] is None else _in_unit(a["measured"], unit)
        target = f"{'>=' if a['at_least'] else '<='} {_in_unit(a['target'], unit)}"
        verdict = _NA if a["met"] is None else ("met" if a["met"] else "missed")
        rows.append((a["name"], measured, target, a["scope"] or "all", verdict))
    return rows


def _in_unit(value: float, unit: str) -> str:
    return times(value) if unit == "x" else f"{number(value)} {unit}"


def _notes(report: dict[str, Any]) -> list[str]:
    """Why a target was not measured, and which runtime the bench made from the bundle."""
    notes = [
        f"{t}: not applicable, {v['reason']}"
        for t, v in report["targets"].items()
        if not v["applicable"]
    ]
    made = report["bundle"].get("made") or []
    if made:
        notes.append(
            f"the bundle ships {report['bundle']['runtime']}; {', '.join(made)} measured on a "
            "function.zip made from the bundle's model.onnx"
        )
    return notes


def _markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(h.replace("\n", " ") for h in headers) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def times(ratio: float | None) -> str:
    """A ratio as ``12.1x``; blank for none."""
    return "" if ratio is None else f"{number(ratio)}x"


def number(value: float) -> str:
    """Three significant digits, without exponents: 0.0741, 37.1, 175, 1,570."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _median_phases(result: BenchResult, target: str) -> dict[str, float]:
    runs = result.cold[target]
    return {
        phase: sig(Summary.of([c.phases_ms[phase] for c in runs]).median)
        for phase in runs[0].phases_ms
    }
