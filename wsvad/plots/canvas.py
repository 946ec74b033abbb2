"""One place that creates figures and writes PNGs (atomically: a reader never sees half a file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DPI = 110


def new_figure(width: float = 6.0, height: float = 4.0, margins: dict | None = None):
    """Fixed margins, not constrained layout: that solver doubled the draw time of every plot, and
    the sweep driver draws a set per trial."""
    from matplotlib.figure import Figure  # imported here: only plotting callers pay for matplotlib

    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(**{"left": 0.14, "right": 0.96, "bottom": 0.13, "top": 0.9, **(margins or {})})
    return fig


def save_png(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
