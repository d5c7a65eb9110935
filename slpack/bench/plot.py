"""``--plot out.png``: the cold-start and warm-latency distributions, side by side.

matplotlib is the optional ``plot`` extra; it is imported only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

from slpack.bench.measure import INTERPRETER, ONNXRUNTIME, PYTHON, SESSION, SKLEARN, BenchResult
from slpack.bench.workload import BATCH, SINGLE
from slpack.errors import SlpackError

COLORS = {
    PYTHON: "#2ca02c",
    ONNXRUNTIME: "#1f77b4",
    SKLEARN: "#d62728",
    INTERPRETER: "#bcbcbc",
    SESSION: "#7f7f7f",
}
LABELS = {
    PYTHON: "python",
    ONNXRUNTIME: "onnxruntime",
    SKLEARN: "scikit-learn",
    INTERPRETER: "interpreter",
    SESSION: "session",
}


def write_plot(result: BenchResult, out: Path) -> None:
    """Three log-scale box plots (cold start, warm 1 row, warm batch) with every sample dotted."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SlpackError("--plot needs matplotlib; install slpack[plot].") from None

    panels = [
        ("cold start (ms)", {t: [c.ms for c in result.cold[t]] for t in result.targets}),
        ("warm, 1 row (ms)", result.warm_ms[SINGLE]),
        (f"warm, {result.options.batch_size} rows (ms)", result.warm_ms[BATCH]),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4))
    for ax, (title, samples) in zip(axes, panels):
        targets = [t for t in result.targets if t in samples]
        data = [samples[t] for t in targets]
        ax.boxplot(data, showfliers=False, widths=0.5)
        for i, (target, values) in enumerate(zip(targets, data), start=1):
            jitter = [i + 0.18 * ((k * 0.618) % 1 - 0.5) for k in range(len(values))]
            ax.scatter(jitter, values, s=4, alpha=0.35, color=COLORS[target])
        labels = ["session.run" if t == SESSION and "warm" in title else LABELS[t] for t in targets]
        ax.set_xticks(range(1, len(targets) + 1), labels, rotation=20)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.grid(axis="y", which="both", alpha=0.3)
    figure.suptitle(f"slpack bench: {result.bundle['name']}")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)
