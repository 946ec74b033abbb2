"""Resuming into an existing ``--out``: the same extraction config, and only the missing videos.

``extraction.json`` beside the parts records what makes features comparable (backbone and
weights checksum, snippet length, frames per input, crops, sizes, decoder, precision, dtype,
dataset). A run into an ``--out`` that holds parts of another config is refused, naming the
differences: one feature set never mixes two extraction configs. (An ``--out`` with no part
yet — a first run that failed early — simply takes the new config.) Options that do not change
the numbers' meaning (batch size, workers, GPUs, Ray address) may change between runs.

A video is done when its ``part-<key>.parquet`` exists (parts are written atomically, so an
existing one is whole); a done video whose recorded split/label/class/source differ from this
run's plan is an error rather than a silent mix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from extraction.errors import ExtractionError
from extraction.parts import PART_PREFIX, part_path
from extraction.plan import VideoEntry
from wsvad.features.atomic import write_json_atomic
from wsvad.features.schema import MANIFEST

IDENTITY = "extraction.json"
LOCK = ".lock"
FORMAT = "wsvad-extraction/1"


def check_out(out: Path, identity: dict) -> None:
    """Refuse an ``--out`` that is not new, empty, or an extraction of this very config (reads only)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExtractionError(f"--out {out} exists and is not a directory")
    record = out / IDENTITY
    if record.exists():
        try:
            stored = json.loads(record.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ExtractionError(f"{record}: unreadable ({error}); delete {out} to start over") from None
        wanted = {"format": FORMAT, **identity}
        differences = [f"{k}: {stored.get(k)!r} -> {wanted.get(k)!r}"
                       for k in sorted(set(stored) | set(wanted)) if stored.get(k) != wanted.get(k)]
        if differences and done_keys(out):   # no part yet: nothing to mix, the new config takes over
            raise ExtractionError(f"--out {out} holds features extracted with another config "
                                  f"({'; '.join(differences)}); use a new --out, or delete {out} to start over")
    elif out.is_dir() and any(p.name != LOCK for p in out.iterdir()):
        raise ExtractionError(f"--out {out} is not empty and holds no {IDENTITY} (not an extraction output); "
                              "give a new or empty directory")


def init_out(out: Path, identity: dict) -> None:
    """Record this config in a checked ``--out`` and drop temp files a killed run left."""
    out = Path(out)
    _remove_temporaries(out)
    record = out / IDENTITY
    wanted = {"format": FORMAT, **identity}
    if not record.exists() or json.loads(record.read_text()) != wanted:
        write_json_atomic(wanted, record)


def done_keys(out: Path) -> set[str]:
    return {p.name[len(PART_PREFIX):-len(".parquet")] for p in Path(out).glob(f"{PART_PREFIX}*.parquet")}


def check_done(out: Path, entries: list[VideoEntry]) -> list[VideoEntry]:
    """The planned videos already extracted; each must agree with its part's metadata."""
    keys = done_keys(out)
    done = [e for e in entries if e.key in keys]
    for entry in done:
        path = part_path(out, entry.key)
        row = pq.read_table(path, columns=["video_id", "split", "label", "class_name", "source"]).slice(0, 1)
        stored = {k: v[0] for k, v in row.to_pydict().items()}
        planned = {"video_id": entry.video_id, "split": entry.split, "label": entry.label,
                   "class_name": entry.class_name, "source": entry.source}
        differences = [f"{k} {stored[k]!r} (now {planned[k]!r})" for k in planned if stored[k] != planned[k]]
        if differences:
            raise ExtractionError(f"{entry.where or entry.path}: video {entry.video_id!r} was extracted into "
                                  f"{path.name} with {', '.join(differences)}; fix the input, or delete that part "
                                  "to re-extract it")
    return done


def mark_incomplete(out: Path) -> None:
    """Remove the manifest before adding parts: a set being extended must not look finished."""
    (Path(out) / MANIFEST).unlink(missing_ok=True)


def _remove_temporaries(out: Path) -> None:
    """Hidden temp files of writes a killed run did not finish (wsvad.features.atomic names them)."""
    for tmp in out.glob(".tmp-*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
