"""The fit plot: measured points and each language's chosen curve with its 95% bootstrap band."""

from __future__ import annotations

import numpy as np

from lingalign.scaling.bootstrap import interval
from lingalign.scaling.predict import Law


def plot_law(law: Law, path, metric: str = "score") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    entries = law.data["languages"]
    all_sizes = np.concatenate([np.asarray(e["sizes"], float) for e in entries.values()])
    grid = np.geomspace(max(all_sizes.min() / 1.5, 1.0), all_sizes.max() * 1.5, 200)
    for i, (lang, curve) in enumerate(law.curves.items()):
        colour = f"C{i}"
        entry = entries[lang]
        if curve.draws:
            under = np.array([curve.form.value(grid, p) for p in curve.draws])
            lo, hi = interval(under)
            ax.fill_between(grid, lo, hi, color=colour, alpha=0.18, linewidth=0)
        label = f"{lang}: {curve.form.name}"
        ax.plot(grid, curve.value(grid), color=colour, linewidth=1.6, label=label)
        ax.scatter(entry["sizes"], entry["values"], color=colour, s=18, zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("translation pairs X (log scale)")
    ax.set_ylabel(metric)
    ax.set_title("Fitted scaling laws (bands: 95% residual-bootstrap interval of the curve)", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
