"""Charts for the report, drawn with matplotlib and embedded as base64 PNG data URIs.

The training curves, which ``lingalign serve`` draws too, are ``lingalign.charts``.
"""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lingalign.charts import to_data_uri  # noqa: E402


def file_data_uri(path: str) -> str:
    with open(path, "rb") as handle:
        return "data:image/png;base64," + base64.b64encode(handle.read()).decode("ascii")


def task_bars(task: str, metrics: list[str], models: list[str], values: dict, palette: list[str] | None = None) -> str:
    """Grouped bars: one group per metric of a task, one bar per model, value labels on top.

    ``palette`` is every model of the report, in order: a model keeps its colour in every chart
    even when some charts show only some of the models.
    """
    palette = palette or models
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(metrics) * max(1, len(models)) / 2, 3.2))
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(metrics))]
        ys = [values.get((model, task, metric), float("nan")) for metric in metrics]
        colour = f"C{palette.index(model) % 10}" if model in palette else None
        bars = ax.bar(xs, ys, width, label=model, color=colour)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set_ylabel("score (0-100)")
    ax.set_title(task)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)
