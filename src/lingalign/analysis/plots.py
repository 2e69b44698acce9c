"""Pictures of the analysis: layer curves for alignment, stacked bars for answer languages.

Conventions that make the curves readable at a glance: layers on the x-axis (0 = embeddings), one
colour per model, one line style per language, the chance level drawn as a grey dotted line for
retrieval, and the best layer of each curve marked with a dot.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lingalign.analysis.alignment import LABELS  # noqa: E402
from lingalign.artifacts import atomic_open  # noqa: E402

STYLES = ("-", "--", ":", "-.")
COLORS = plt.get_cmap("tab10").colors


def _curves(ax, report: dict, metric: str) -> None:
    """Draw one metric for every model x language on ``ax``."""
    langs = [lang for lang in report["langs"] if lang != report["pivot"]]
    for m, entry in enumerate(report["models"]):
        for l, lang in enumerate(langs):
            values = entry["results"][lang][metric]
            layers = range(len(values))
            ax.plot(layers, values, STYLES[l % len(STYLES)], color=COLORS[m % len(COLORS)], linewidth=1.8,
                    label=f"{entry['label']}  en-{lang}")
            best = max(layers, key=values.__getitem__)
            if metric != "cos_mismatched":
                ax.plot([best], [values[best]], "o", color=COLORS[m % len(COLORS)], markersize=5)
    if metric.startswith("retrieval"):
        ax.axhline(report["chance_retrieval"], color="grey", linestyle=":", linewidth=1, label="chance (1/n)")
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(LABELS[metric])
    ax.grid(alpha=0.3)


def plot_alignment(report: dict, out_dir: Path) -> list[Path]:
    """One PNG per metric (``<metric>.png``) plus ``overview.png`` with every metric side by side."""
    out_dir = Path(out_dir)
    subtitle = f"{report['n_sentences']} parallel sentences, template {report['template']}"
    if report.get("center"):
        subtitle += ", vectors centred per language"
    written = []
    for metric in report["metrics"]:
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        _curves(ax, report, metric)
        ax.set_title(f"{LABELS[metric]} by layer\n{subtitle}", fontsize=11)
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        written.append(_save(fig, out_dir / f"{metric}.png"))
    columns = 3
    rows = -(-len(report["metrics"]) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, report["metrics"]):
        _curves(ax, report, metric)
        ax.set_title(LABELS[metric], fontsize=11)
    for ax in list(axes.flat)[len(report["metrics"]):]:
        ax.axis("off")
    legend = {}  # label -> handle, over all panels (only retrieval panels draw the chance line)
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.suptitle(f"Cross-lingual alignment by layer ({subtitle})", fontsize=13)
    fig.tight_layout(rect=(0, 0.04 + 0.02 * (len(labels) // 4), 1, 0.97))
    written.append(_save(fig, out_dir / "overview.png"))
    return written


def plot_responses(rows: list[dict], path: Path, top: int = 6) -> Path:
    """Stacked bars: for each model and task, the share of answers detected in each language.

    Bars of the same task stand side by side, so models are compared task by task.
    """
    rows = sorted(rows, key=lambda row: (row["task"], row["model"]))
    totals: dict[str, int] = {}
    for row in rows:
        for lang, count in row["detected"].items():
            totals[lang] = totals.get(lang, 0) + count
    shown = sorted(totals, key=totals.get, reverse=True)[:top]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.7 * len(rows) + 2.5), 4.8))
    bottoms = [0.0] * len(rows)
    for k, lang in enumerate([*shown, "other"]):
        shares = [(row["detected"].get(lang, 0) if lang != "other" else
                   sum(c for code, c in row["detected"].items() if code not in shown)) / row["n"] for row in rows]
        if not any(shares):
            continue
        color = COLORS[k % len(COLORS)] if lang != "other" else "lightgrey"
        ax.bar(range(len(rows)), shares, bottom=bottoms, color=color, label=lang, edgecolor="white", linewidth=0.5)
        bottoms = [b + s for b, s in zip(bottoms, shares)]
    for x, row in enumerate(rows):
        if row["share_expected"] is not None:
            ax.text(x, 1.02, f"{row['share_expected']:.0%} {row['expected']}", ha="center", fontsize=8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{row['model']}\n{row['task']}\n(expect {row['expected'] or '?'})" for row in rows],
                       fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share of answers")
    ax.set_title("Detected answer language per task and model\n(number above a bar: share in the expected language)",
                 fontsize=11)
    ax.legend(title="detected", fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Write a PNG atomically and free the figure."""
    with atomic_open(path, "wb", encoding=None) as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
    return path
