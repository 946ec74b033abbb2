"""Atomic file writes: write beside the target, fsync, then rename.

A killed writer leaves at most a hidden `.tmp-*` file, never a half file under the real name,
so a resumed job can trust every `part-*.parquet` it finds.
"""

import json
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _tmp_beside(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    path = Path(path)
    tmp = _tmp_beside(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(obj, path: Path) -> None:
    path = Path(path)
    tmp = _tmp_beside(path)
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
