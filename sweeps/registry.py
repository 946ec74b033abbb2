"""The MLflow model registry, in one place: champions in, wsvad checkpoints out.

A champion is logged with `mlflow.pytorch.log_model(name="model")` (so MLflow can serve and load
it) and carries our own checkpoint beside it as `extra_files/checkpoint.pt`. Scoring never
unpickles MLflow's pickled model: `fetch_checkpoint` downloads only that file, which
`wsvad.train.load_checkpoint` reads with `weights_only=True`.

    register_champion(uri, run_id, ckpt, "ucf-crime", "rtfm")  ->  "models:/wsvad-ucf-crime-rtfm/3"
    fetch_checkpoint("models:/wsvad-ucf-crime-rtfm@champion", uri, dst)  ->  dst/.../checkpoint.pt
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from wsvad.errors import CheckpointError, ConfigError

ALIAS = "champion"
ARTIFACT = "model"                    # the logged model's name inside its run
CHECKPOINT = "checkpoint.pt"          # our weights_only checkpoint, an extra file of the logged model
CHECKPOINT_PATH = f"extra_files/{CHECKPOINT}"
MODEL_URI_TAG = "wsvad.model_uri"     # on the run: its logged model (a re-run does not log it twice)
_URI = re.compile(r"^models:/(?P<name>[A-Za-z0-9][\w.-]*)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))/?$")


def model_name(dataset: str, method: str) -> str:
    """`wsvad-<dataset>-<method>`, the dataset reduced to lowercase letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.lower()).strip("-") or "features"
    return f"wsvad-{slug}-{method}"


def register_champion(tracking_uri: str, run_id: str, checkpoint_path, dataset: str, method: str,
                      tags: dict | None = None) -> str:
    """Log the checkpoint's model to `run_id`, register it as `wsvad-<dataset>-<method>`, alias `champion`.

    Idempotent per run: a run already registered under that name gets its version re-aliased, not
    a new one. `tags` (feature_set_hash, git sha, config, ...) go on the model version.
    Returns `models:/<name>/<version>`.
    """
    from mlflow.tracking import MlflowClient

    from wsvad.train import load_checkpoint

    payload = load_checkpoint(checkpoint_path)  # weights_only: refuses anything but our format
    if payload["method"] != method:
        raise CheckpointError(f"{checkpoint_path}: a {payload['method']} checkpoint, not {method}")
    name = model_name(dataset, method)
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if versions:
        version = str(max(int(v.version) for v in versions))
    else:
        model_uri = client.get_run(run_id).data.tags.get(MODEL_URI_TAG) or _log_model(
            tracking_uri, run_id, payload, checkpoint_path)
        with _mlflow_at(tracking_uri):
            import mlflow

            version = str(mlflow.register_model(model_uri, name).version)
    client.set_registered_model_alias(name, ALIAS, version)
    version_tags = {"wsvad.method": method, "wsvad.dataset": dataset,
                    "wsvad.feature_set_hash": payload.get("feature_set_hash", ""),
                    "wsvad.config": json.dumps(payload["config"], sort_keys=True), **(tags or {})}
    for key, value in version_tags.items():
        client.set_model_version_tag(name, version, key, str(value)[:5000])
    return f"models:/{name}/{version}"


def _log_model(tracking_uri: str, run_id: str, payload: dict, checkpoint_path) -> str:
    import mlflow
    import mlflow.pytorch
    import torch

    from wsvad.train import model_from_checkpoint

    model = model_from_checkpoint(payload)
    with tempfile.TemporaryDirectory() as d, _mlflow_at(tracking_uri):
        extra = Path(d) / CHECKPOINT
        shutil.copyfile(checkpoint_path, extra)
        with mlflow.start_run(run_id=run_id):
            # "pickle": the graph format (pt2) would trace forward on one input shape, and
            # methods score videos of any length. Our own checkpoint is the safe path (fetch_checkpoint).
            info = mlflow.pytorch.log_model(
                model, name=ARTIFACT, extra_files=[str(extra)], serialization_format="pickle",
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy"])
            mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
    return info.model_uri


def fetch_checkpoint(model_uri: str, tracking_uri: str, dst_dir) -> Path:
    """`models:/NAME@ALIAS` or `models:/NAME/VERSION` → the local path of its wsvad checkpoint.

    Downloads only `extra_files/checkpoint.pt`; the pickled MLflow model is never fetched or loaded.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from sweeps.tracking import check_reachable

    match = _URI.match(model_uri)
    if not match:
        raise ConfigError(f"{model_uri!r} is not a registered model URI (models:/NAME@ALIAS or models:/NAME/VERSION)")
    check_reachable(tracking_uri)
    name, alias = match["name"], match["alias"]
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    try:
        found = (client.get_model_version_by_alias(name, alias) if alias else
                 client.get_model_version(name, match["version"]))
    except MlflowException:
        raise CheckpointError(f"{model_uri}: no such registered model version at {tracking_uri}") from None
    version = found.version
    import mlflow.artifacts

    dst = Path(dst_dir) / f"{name}-v{version}"
    try:  # pinned to the version the alias named just now, even if the alias moves meanwhile
        # models:/ URIs are resolved through the *global* registry URI whatever is passed in, hence _mlflow_at.
        with _mlflow_at(tracking_uri):
            local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}/{CHECKPOINT_PATH}",
                                                        dst_path=str(dst), tracking_uri=tracking_uri)
    except (MlflowException, OSError) as exc:
        raise CheckpointError(f"{model_uri} (version {version}) has no wsvad checkpoint "
                              f"({CHECKPOINT_PATH}): {str(exc).splitlines()[0][:200]}") from None
    path = Path(local)
    if not path.is_file():
        raise CheckpointError(f"{model_uri} (version {version}): {CHECKPOINT_PATH} did not download")
    check_provenance(path, found.tags or {}, f"{model_uri} (version {version})")
    return path


def check_provenance(path: Path, version_tags: dict, what: str) -> None:
    """The checkpoint must be the one the version was registered with: same method, dataset,
    feature set and config as its tags say (a swapped artifact is refused before any scoring)."""
    from wsvad.train import load_checkpoint

    payload = load_checkpoint(path)
    recorded = {"wsvad.method": payload.get("method", ""), "wsvad.dataset": payload.get("dataset", ""),
                "wsvad.feature_set_hash": payload.get("feature_set_hash", ""),
                "wsvad.config": json.dumps(payload.get("config", {}), sort_keys=True)[:5000]}
    for key, value in recorded.items():
        if key in version_tags and str(version_tags[key]) != str(value):
            raise CheckpointError(f"{what}: its checkpoint's {key.removeprefix('wsvad.')} ({str(value)[:40]}) differs "
                                  f"from the registered version's ({str(version_tags[key])[:40]}); refusing to score "
                                  "with a model whose provenance does not match")


@contextlib.contextmanager
def _mlflow_at(tracking_uri: str):
    """The fluent API (start_run, log_model, register_model, models:/ downloads) pointed at `tracking_uri`,
    and put back exactly as it was afterwards.

    MLflow keeps the current URIs in module globals *and* in environment variables (which subprocesses
    inherit); `get_*_uri()` reports a resolved default even when nothing was set, so restoring through
    the public setters would pin that default for good. Hence the saved private state, here only.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    saved_tracking, saved_registry = tracking_state._tracking_uri, registry_state._registry_uri
    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield
    finally:
        tracking_state._tracking_uri, registry_state._registry_uri = saved_tracking, saved_registry
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
