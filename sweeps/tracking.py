"""MLflow, in one place: experiments per feature set, a parent run per sweep, a child run per trial.

Only the driver writes to MLflow (through the Tune callback in `sweeps/callback.py`): one writer,
so the embedded SQLite store is safe, and a tracking server sees one client per sweep.

When the tracking server goes away mid-sweep (restart, network cut), nothing is lost:
- metrics are buffered in the driver and sent, in order, once the server answers again;
- run writes (create, tags, status) wait for it, retrying with back-off for up to `patience`
  seconds (default 10 minutes). Trials keep training meanwhile; their reports queue in Ray.
- If it stays away longer, the sweep stops with a TrackingError that says so; `--resume`
  continues it (finished trials are not re-run, their runs are not duplicated).
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


def artifact_location(uri: str) -> str | None:
    """Artifacts of a SQLite store go beside the database (MLflow's default is ./mlruns in whatever
    folder the sweep was started from); a tracking server decides for itself (None)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return None


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


PATIENCE_S = 600.0


def _raise(exc: Exception):
    raise exc


class Tracker:
    def __init__(self, uri: str, experiment: str, patience: float = PATIENCE_S):
        from mlflow.tracking import MlflowClient

        # The client's own HTTP retries (7, with back-off up to minutes) would hide an outage inside
        # one blocking call; this class owns the retry policy: fail fast, buffer, retry on our terms.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        self.uri = uri
        self.patience = float(patience)
        self.client = MlflowClient(tracking_uri=uri)
        found = _retry(lambda: self.client.get_experiment_by_name(experiment))
        self.experiment_id = found.experiment_id if found else _retry(
            lambda: self.client.create_experiment(experiment, artifact_location=artifact_location(uri)))
        self._pending: collections.deque = collections.deque()  # (run_id, metrics) not yet written
        self._outage_since: float | None = None
        # The highest step of each metric each run holds (sent or buffered). A trial retried or resumed
        # from its last checkpoint reports again the steps after that checkpoint that already reached
        # MLflow before the fault; those are dropped so a run's history never holds a step twice.
        self._high: dict[str, dict[str, int]] = {}
        self._reopened: set[str] = set()    # runs whose steps are read from MLflow before the next write

    def _note_outage(self, exc: Exception) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            print(f"[mlflow] {self.uri} is not answering ({type(exc).__name__}); metrics are buffered and run "
                  f"writes retried for up to {self.patience:.0f} s while trials keep training", flush=True)

    def _note_answer(self) -> None:
        if self._outage_since is not None:
            print(f"[mlflow] {self.uri} answers again after {time.monotonic() - self._outage_since:.0f} s; "
                  f"sending {len(self._pending)} buffered metric batch(es)", flush=True)
            self._outage_since = None

    def _write(self, fn):
        """A run write that must happen: retried with back-off for up to `patience` seconds."""
        delay, started = 0.5, time.monotonic()
        while True:
            try:
                result = fn()
            except Exception as exc:  # MlflowException, requests' ConnectionError, sqlite OperationalError...
                self._note_outage(exc)
                waited = time.monotonic() - started
                if waited + delay > self.patience:
                    raise TrackingError(
                        f"the MLflow tracking server at {self.uri} has not answered for {waited:.0f} s "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); the sweep "
                        "stops here: bring the server back and re-run with --resume") from None
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._note_answer()
            return result

    # --- runs ---------------------------------------------------------------------------
    def start_parent(self, sweep: str, params: dict, tags: dict) -> str:
        run = self._write(lambda: self.client.create_run(self.experiment_id, run_name=sweep,
                                                    tags={SWEEP_TAG: sweep, "wsvad.kind": "sweep", **tags}))
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def find_run(self, **tags) -> str | None:
        query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        runs = self._write(lambda: self.client.search_runs([self.experiment_id], filter_string=query, max_results=2))
        return runs[0].info.run_id if runs else None

    def child_for_trial(self, parent_id: str, sweep: str, trial_id: str, method: str, params: dict, tags: dict) -> str:
        """The trial's run: reopened if the trial ran before (retry, resume), never duplicated."""
        existing = self.find_run(**{PARENT_TAG: parent_id, TRIAL_TAG: trial_id})
        if existing:
            self.reopen(existing)
            return existing
        run = self._write(lambda: self.client.create_run(
            self.experiment_id, run_name=f"{method}-{trial_id}",
            tags={PARENT_TAG: parent_id, SWEEP_TAG: sweep, TRIAL_TAG: trial_id, METHOD_TAG: method,
                  "wsvad.kind": "trial", **tags}))
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def reopen(self, run_id: str) -> None:
        self._write(lambda: self.client.update_run(run_id, status="RUNNING"))
        self._reopened.add(run_id)

    def _learn_steps(self, run_id: str) -> None:
        """Read which steps a reopened run already holds (one history call per metric key)."""
        self._reopened.discard(run_id)
        keys = list(self._write(lambda: self.client.get_run(run_id)).data.metrics)
        for key in keys:
            history = self._write(lambda: self.client.get_metric_history(run_id, key))
            if history:
                self._hold(run_id, [key], max(m.step for m in history))

    def _hold(self, run_id: str, keys, step: int) -> None:
        """Record that `run_id` holds (sent or buffered) `keys` at `step`."""
        high = self._high.setdefault(run_id, {})
        for key in keys:
            high[key] = max(high.get(key, -1), int(step))

    def end(self, run_id: str, status: str = "FINISHED", reason: str | None = None) -> None:
        self.flush_all()  # a run is closed only after every metric it logged has landed
        if reason:
            self.set_tags(run_id, {"wsvad.failure_reason": reason[:4000]})
        self.set_tags(run_id, {"wsvad.status": status.lower()})
        self._write(lambda: self.client.set_terminated(run_id, status=status))

    # --- values -------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):  # MLflow caps a batch at 100 params
            chunk = items[i:i + 100]
            self._write(lambda: self.client.log_batch(run_id, params=chunk))

    def set_tags(self, run_id: str, tags: dict) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(str(k), str(v)) for k, v in tags.items()]
        self._write(lambda: self.client.log_batch(run_id, tags=items))

    def log_metrics(self, run_id: str, metrics: dict, step: int, once_per_step: bool = False) -> None:
        """Numeric, finite values only; buffered if the store is unreachable right now.

        `once_per_step`: a trial's history, where a step the run already holds is a replay (a retry or
        resume from a checkpoint older than the run's last report) and is dropped. Summary metrics
        logged again at one step to update them (a parent's `methods_finished`) leave it off.
        """
        clean = {k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
        if once_per_step:
            if run_id in self._reopened:
                self._learn_steps(run_id)
            high = self._high.get(run_id, {})
            clean = {k: v for k, v in clean.items() if int(step) > high.get(k, -1)}
            self._hold(run_id, clean, step)
        if clean:
            self._pending.append((run_id, clean, int(step), int(time.time() * 1000)))
        self.flush(attempts=1)  # never blocks the driver: what fails now stays buffered

    def flush_all(self) -> None:
        """Every buffered metric sent, waiting (up to `patience`) for the server if need be."""
        self._write(lambda: self.flush(attempts=1) or _raise(TrackingError("buffered metrics not sent yet")))

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
            except Exception as exc:
                self._note_outage(exc)
                return False
            self._note_answer()
            self._pending.popleft()
        return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    def export_pending(self) -> list:
        """The unsent metrics as JSON-able rows (the driver saves them when it has to stop)."""
        return [list(item) for item in self._pending]

    def import_pending(self, rows: list) -> None:
        """Put saved rows back in front of the buffer, in their order; sent with the next flush."""
        self._pending.extendleft(reversed([(r, dict(v), int(step), int(ts)) for r, v, step, ts in rows]))
        for run_id, values, step, _ in rows:
            self._hold(run_id, values, step)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self._write(lambda: self.client.log_artifact(run_id, str(path), artifact_path))

    def log_artifacts(self, run_id: str, folder: Path, artifact_path: str | None = None) -> None:
        self._write(lambda: self.client.log_artifacts(run_id, str(folder), artifact_path))

    # --- retraining ---------------------------------------------------------------------
    def create_run(self, run_name: str, tags: dict, params: dict) -> str:
        """A new run with `tags` and `params` (callers look up an existing one first: no duplicates)."""
        run = self._write(lambda: self.client.create_run(self.experiment_id, run_name=run_name,
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
