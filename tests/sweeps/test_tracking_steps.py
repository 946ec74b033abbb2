"""A trial retried or resumed from an older checkpoint reports some steps again: the tracker keeps
each (metric, step) once in the run's history, while summary metrics still update at one step."""

import pytest

pytest.importorskip("mlflow")

from sweeps.tracking import Tracker  # noqa: E402


@pytest.fixture
def tracker(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_TELEMETRY", "false")
    return Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "steps")


def _steps(tracker, run_id, key):
    return [(m.step, m.value) for m in tracker.client.get_metric_history(run_id, key)]


def test_a_replayed_step_is_logged_once(tracker):
    run = tracker.create_run("trial", {}, {})
    for step, auc in [(10, 0.5), (20, 0.6), (30, 0.7)]:
        tracker.log_metrics(run, {"test/auc": auc}, step, once_per_step=True)
    # the worker died after step 30, its last checkpoint was step 20: steps 30 and 40 come next
    tracker.log_metrics(run, {"test/auc": 0.71, "loss": 1.0}, 30, once_per_step=True)
    tracker.log_metrics(run, {"test/auc": 0.8}, 40, once_per_step=True)
    assert _steps(tracker, run, "test/auc") == [(10, 0.5), (20, 0.6), (30, 0.7), (40, 0.8)]
    assert _steps(tracker, run, "loss") == [(30, 1.0)]   # a key new at that step is kept


def test_a_resumed_driver_reads_the_steps_the_run_holds(tracker, tmp_path):
    run = tracker.create_run("trial", {}, {})
    tracker.log_metrics(run, {"test/auc": 0.5}, 10, once_per_step=True)
    tracker.log_metrics(run, {"test/auc": 0.6}, 20, once_per_step=True)
    resumed = Tracker(tracker.uri, "steps")          # a new driver process after --resume
    resumed.reopen(run)
    resumed.log_metrics(run, {"test/auc": 0.61}, 20, once_per_step=True)
    resumed.log_metrics(run, {"test/auc": 0.7}, 30, once_per_step=True)
    assert _steps(resumed, run, "test/auc") == [(10, 0.5), (20, 0.6), (30, 0.7)]


def test_saved_pending_metrics_count_as_held(tracker):
    run = tracker.create_run("trial", {}, {})
    resumed = Tracker(tracker.uri, "steps")
    resumed.import_pending([[run, {"test/auc": 0.9}, 50, 1]])   # the stopped driver's unsent batch
    resumed.reopen(run)
    resumed.log_metrics(run, {"test/auc": 0.91}, 50, once_per_step=True)
    resumed.flush_all()
    assert _steps(resumed, run, "test/auc") == [(50, 0.9)]


def test_summary_metrics_still_update_at_one_step(tracker):
    run = tracker.create_run("parent", {}, {})
    tracker.log_metrics(run, {"methods_finished": 1}, 0)
    tracker.log_metrics(run, {"methods_finished": 2}, 0)
    assert tracker.client.get_run(run).data.metrics["methods_finished"] == 2
