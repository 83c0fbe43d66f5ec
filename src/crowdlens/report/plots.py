"""Report plots: matplotlib figures rendered to inline SVG data URIs.

SVG goes into ``<img src="data:...">``, never inline markup: text drawn by
matplotlib may come from labels in a manifest, and an image cannot run script.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from crowdlens import schema as S

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from matplotlib.figure import Figure

COLORS = {S.DECISION_ACCEPT: "#3a923a", S.DECISION_REVIEW: "#e0a020", S.DECISION_REJECT: "#c03030"}


def _figure(width: float, height: float) -> Figure:
    # The object API (not pyplot): no global state, no GUI backend, thread-safe enough
    # for a report written inside a server or a notebook.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def svg_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def png_uri(fig: Figure, dpi: int = 100) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def bar_chart(counts: Mapping[str, int], title: str, *, horizontal: bool = False) -> str:
    """A bar chart of ``counts`` (kept in the given order) as an SVG data URI."""
    names = [str(k) for k in counts]
    values = [int(v) for v in counts.values()]
    colors = [COLORS.get(n, "#4a6fa5") for n in names]
    if horizontal:
        fig = _figure(7, max(1.5, 0.3 * len(names) + 0.8))
        ax = fig.add_subplot()
        ax.barh(names[::-1], values[::-1], color=colors[::-1])
        ax.set_xlabel("photos")
    else:
        fig = _figure(max(3.5, 0.8 * len(names) + 1), 3)
        ax = fig.add_subplot()
        ax.bar(names, values, color=colors)
        ax.set_ylabel("photos")
    ax.set_title(title)
    return svg_uri(fig)


def histogram(
    values: np.ndarray, title: str, thresholds: Sequence[float] = (), bins: int = 40
) -> str:
    """A histogram with each threshold marked by a dashed red line."""
    fig = _figure(4.2, 2.6)
    ax = fig.add_subplot()
    ax.hist(values, bins=bins, color="#4a6fa5")
    for t in thresholds:
        ax.axvline(float(t), color="#c03030", linestyle="--", linewidth=1.5)
    ax.set_title(title)
    ax.set_ylabel("photos")
    return svg_uri(fig)


def confusion_matrix(matrix: np.ndarray, labels: Sequence[str], title: str) -> str:
    """A row-normalised confusion matrix (claimed label x predicted label), as PNG.

    PNG rather than SVG: a matrix of 80 x 80 cells is many thousands of SVG paths.
    """
    import numpy as np

    n = len(labels)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    side = min(max(4.0, 0.16 * n + 2.5), 16.0)
    fig = _figure(side, side)
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fs = max(4, min(9, int(420 / max(n, 1))))
    ax.set_xticks(range(n), labels, rotation=90, fontsize=fs)
    ax.set_yticks(range(n), labels, fontsize=fs)
    ax.set_xlabel("predicted")
    ax.set_ylabel("claimed")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.6)
    return png_uri(fig)
