"""One place that creates figures and writes PNGs (atomically: a reader never sees half a file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DPI = 110


def new_figure(width: float = 6.0, height: float = 4.0):
    from matplotlib.figure import Figure  # imported here: only plotting callers pay for matplotlib

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


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
