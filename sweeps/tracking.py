"""MLflow, in one place: experiments per feature set, a parent run per sweep, a child run per trial.

Only the driver writes to MLflow (through the Tune callback in `sweeps/callback.py`): one writer,
so the embedded SQLite store is safe, and a tracking server sees one client per sweep. Writes are
retried with back-off; metrics that still cannot be sent are buffered and flushed on the next
write (a tracking server that restarts mid-sweep loses nothing).
"""

from __future__ import annotations

import collections
import math
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from wsvad.errors import WsvadError

TRIAL_TAG = "wsvad.trial_id"
SWEEP_TAG = "wsvad.sweep"
METHOD_TAG = "wsvad.method"
PARENT_TAG = "mlflow.parentRunId"


class TrackingError(WsvadError):
    """The tracking store cannot be reached or refuses a write."""


def default_tracking_uri() -> str:
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail at once, before any trial runs, when the tracking server does not answer."""
    if uri.startswith(("http://", "https://")):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                if response.status != 200:
                    raise TrackingError(f"MLflow at {uri} answered {response.status} on /health")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingError(f"cannot reach the MLflow tracking server at {uri} ({reason}); "
                                "start it with mlflow/server.sh or pass another --tracking-uri") from None
    elif uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.parent.is_dir() or not os.access(db.parent, os.W_OK):
            raise TrackingError(f"cannot write the MLflow SQLite store {db}: its folder is missing or read-only")


def experiment_name(dataset: str, feature_set_hash: str) -> str:
    """One experiment per dataset and feature set, so a table never mixes feature sets."""
    return f"wsvad/{dataset or 'features'}/{feature_set_hash[:12]}"


def _retry(fn, attempts: int = 6, first_delay: float = 0.5):
    delay = first_delay
    for attempt in range(attempts):
        try:
            return fn()
        except Exception:  # MLflow raises MlflowException, requests errors, sqlite OperationalError...
            if attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 8.0)


class Tracker:
    def __init__(self, uri: str, experiment: str):
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        found = _retry(lambda: self.client.get_experiment_by_name(experiment))
        self.experiment_id = found.experiment_id if found else _retry(lambda: self.client.create_experiment(experiment))
        self._pending: collections.deque = collections.deque()  # (run_id, metrics) not yet written

    # --- runs ---------------------------------------------------------------------------
    def start_parent(self, sweep: str, params: dict, tags: dict) -> str:
        run = _retry(lambda: self.client.create_run(self.experiment_id, run_name=sweep,
                                                    tags={SWEEP_TAG: sweep, "wsvad.kind": "sweep", **tags}))
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def find_run(self, **tags) -> str | None:
        query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        runs = _retry(lambda: self.client.search_runs([self.experiment_id], filter_string=query, max_results=2))
        return runs[0].info.run_id if runs else None

    def child_for_trial(self, parent_id: str, sweep: str, trial_id: str, method: str, params: dict, tags: dict) -> str:
        """The trial's run: reopened if the trial ran before (retry, resume), never duplicated."""
        existing = self.find_run(**{PARENT_TAG: parent_id, TRIAL_TAG: trial_id})
        if existing:
            _retry(lambda: self.client.update_run(existing, status="RUNNING"))
            return existing
        run = _retry(lambda: self.client.create_run(
            self.experiment_id, run_name=f"{method}-{trial_id}",
            tags={PARENT_TAG: parent_id, SWEEP_TAG: sweep, TRIAL_TAG: trial_id, METHOD_TAG: method,
                  "wsvad.kind": "trial", **tags}))
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def reopen(self, run_id: str) -> None:
        _retry(lambda: self.client.update_run(run_id, status="RUNNING"))

    def end(self, run_id: str, status: str = "FINISHED", reason: str | None = None) -> None:
        self.flush()
        if reason:
            self.set_tags(run_id, {"wsvad.failure_reason": reason[:4000]})
        self.set_tags(run_id, {"wsvad.status": status.lower()})
        _retry(lambda: self.client.set_terminated(run_id, status=status))

    # --- values -------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):  # MLflow caps a batch at 100 params
            chunk = items[i:i + 100]
            _retry(lambda: self.client.log_batch(run_id, params=chunk))

    def set_tags(self, run_id: str, tags: dict) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(str(k), str(v)) for k, v in tags.items()]
        _retry(lambda: self.client.log_batch(run_id, tags=items))

    def log_metrics(self, run_id: str, metrics: dict, step: int) -> None:
        """Numeric, finite values only; buffered if the store is unreachable right now."""
        clean = {k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
        if clean:
            self._pending.append((run_id, clean, int(step), int(time.time() * 1000)))
        self.flush(attempts=2)

    def flush(self, attempts: int = 6) -> bool:
        """Send buffered metrics; True when nothing is left pending."""
        from mlflow.entities import Metric

        while self._pending:
            run_id, values, step, ts = self._pending[0]
            batch = [Metric(k, v, ts, step) for k, v in values.items()]
            try:
                for i in range(0, len(batch), 1000):
                    chunk = batch[i:i + 1000]
                    _retry(lambda: self.client.log_batch(run_id, metrics=chunk), attempts=attempts)
            except Exception:
                return False
            self._pending.popleft()
        return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        _retry(lambda: self.client.log_artifact(run_id, str(path), artifact_path))

    def log_artifacts(self, run_id: str, folder: Path, artifact_path: str | None = None) -> None:
        _retry(lambda: self.client.log_artifacts(run_id, str(folder), artifact_path))

    # --- retraining ---------------------------------------------------------------------
    def create_run(self, run_name: str, tags: dict, params: dict) -> str:
        """A new run with `tags` and `params` (callers look up an existing one first: no duplicates)."""
        run = _retry(lambda: self.client.create_run(self.experiment_id, run_name=run_name,
                                                    tags={str(k): str(v) for k, v in tags.items()}))
        self.log_params(run.info.run_id, params)
        return run.info.run_id


def search_runs(client, experiment_ids: list[str] | None = None, **tags) -> list:
    """Every run carrying all `tags` (in `experiment_ids`, default: every experiment), paged, newest first."""
    if experiment_ids is None:
        experiment_ids = [e.experiment_id for e in _retry(lambda: client.search_experiments())]
    if not experiment_ids:
        return []
    query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    runs, token = [], None
    while True:
        page = _retry(lambda: client.search_runs(experiment_ids, filter_string=query, max_results=1000,
                                                 order_by=["attributes.start_time DESC"], page_token=token))
        runs.extend(page)
        token = page.token
        if not token:
            return runs
