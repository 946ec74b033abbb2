"""Checkpoints: model state + config + provenance, loadable with `weights_only=True`.

Only tensors, numbers, strings, lists and dicts go in, so loading never unpickles arbitrary
objects (a checkpoint from a stranger cannot run code).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import torch

from wsvad.errors import CheckpointError

FORMAT = "wsvad-checkpoint/1"


def save_checkpoint(path, *, model, feature_set_hash: str, dataset: str = "", metrics: dict | None = None,
                    extra: dict | None = None, train_state: dict | None = None,
                    feature_set_provenance: dict | None = None) -> None:
    """`feature_set_provenance` is the training feature set's manifest provenance (backbone, weights
    checksum, crops, snippet sampling): what `wsvad score` needs to turn a raw video into the same
    features, and to refuse features made differently."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "method": model.name,
        "config": _plain(dataclasses.asdict(model.config)),
        "feature_dim": model.feature_dim,
        "class_names": [str(c) for c in model.class_names],
        "feature_set_hash": feature_set_hash,
        "dataset": dataset,
        "state_dict": model.state_dict(),
        "metrics": _scalars(metrics or {}),
        "extra": _plain(extra or {}),
        "feature_set_provenance": _plain(feature_set_provenance or {}),
    }
    if train_state is not None:
        payload["train_state"] = train_state
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        why = "it holds objects other than tensors and plain values" if "Weights only" in str(exc) else (
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise CheckpointError(f"{path}: not a loadable wsvad checkpoint ({why}); refusing to unpickle it") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} file (convert official checkpoints with `wsvad convert`)")
    return payload


def model_from_checkpoint(payload: dict):
    from wsvad.methods import get_method, make_config

    cls = get_method(payload["method"])
    model = cls(make_config(cls, payload["config"]), payload["feature_dim"], class_names=payload.get("class_names"))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint state does not fit method {cls.name}: {str(exc).splitlines()[0]}") from None
    model.eval()
    return model


def _scalars(metrics: dict) -> dict:
    """Metric values as builtin float/int/str (numpy scalars would break a weights_only load)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, (bool, int)) and not isinstance(v, float):
            out[k] = int(v)
        elif isinstance(v, float):
            out[k] = float(v)
    return out


def _plain(value):
    """Tuples → lists, recursively (what a weights_only load accepts in every torch)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return value.item()
    return value
