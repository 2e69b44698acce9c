"""Charts more than one stage draws, as base64 PNG data URIs: the training-loss curves.

``lingalign report`` embeds them in its page and ``lingalign serve`` in its progress view; both
import them from here, so neither stage imports the other. matplotlib draws off-screen (Agg).
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def to_data_uri(fig) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def training_curves(curves: dict[str, list[dict]]) -> str:
    """Training loss against optimizer step, one line per model (``{model: train_log rows}``)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, rows in curves.items():
        ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label=name, linewidth=1.4)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (response tokens)")
    ax.set_title("Training curves")
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)
