"""The sweep's own small state file beside Ray's results: `<storage>/<name>/sweep.json`.

It holds what a resumed driver must reuse (the MLflow parent run, the feature-set hash) and which
methods are finished, so `--resume` after a SIGKILL neither re-runs them nor opens new runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyarrow.fs as pafs

STATE = "sweep.json"


def _fs(uri: str):
    filesystem, path = pafs.FileSystem.from_uri(uri if "://" in uri else os.path.abspath(uri))
    return filesystem, path


def sweep_dir(storage: str, name: str) -> str:
    return f"{storage.rstrip('/')}/{name}" if "://" in storage else str(Path(storage).resolve() / name)


def load_state(storage: str, name: str) -> dict | None:
    filesystem, base = _fs(sweep_dir(storage, name))
    info = filesystem.get_file_info(f"{base}/{STATE}")
    if info.type == pafs.FileType.NotFound:
        return None
    with filesystem.open_input_stream(f"{base}/{STATE}") as f:
        return json.loads(f.read().decode())


def save_state(storage: str, name: str, state: dict) -> None:
    filesystem, base = _fs(sweep_dir(storage, name))
    filesystem.create_dir(base, recursive=True)
    data = json.dumps(state, indent=2, sort_keys=True).encode()
    if isinstance(filesystem, pafs.LocalFileSystem):  # atomic on a local/shared filesystem
        fd, tmp = tempfile.mkstemp(prefix=".sweep.", dir=base)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, f"{base}/{STATE}")
    else:  # object stores replace whole objects on write
        with filesystem.open_output_stream(f"{base}/{STATE}") as f:
            f.write(data)


PENDING = "pending-metrics.json"


def save_pending(storage: str, name: str, pending: list) -> None:
    """Metrics the tracking server never received before the driver stopped (replayed on --resume)."""
    filesystem, base = _fs(sweep_dir(storage, name))
    filesystem.create_dir(base, recursive=True)
    with filesystem.open_output_stream(f"{base}/{PENDING}") as f:
        f.write(json.dumps(pending).encode())


def load_pending(storage: str, name: str) -> list:
    filesystem, base = _fs(sweep_dir(storage, name))
    path = f"{base}/{PENDING}"
    if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
        return []
    with filesystem.open_input_stream(path) as f:
        return json.loads(f.read().decode())


def clear_pending(storage: str, name: str) -> None:
    """Called once the saved metrics have reached the tracking server."""
    filesystem, base = _fs(sweep_dir(storage, name))
    if filesystem.get_file_info(f"{base}/{PENDING}").type != pafs.FileType.NotFound:
        filesystem.delete_file(f"{base}/{PENDING}")


def exists(storage: str, name: str) -> bool:
    filesystem, base = _fs(sweep_dir(storage, name))
    return filesystem.get_file_info(base).type != pafs.FileType.NotFound
