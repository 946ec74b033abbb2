"""Sweeps end to end with real Ray and MLflow: what lands in MLflow, failures, packing, resume."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from sweeping import ROOT, run_sweep, sweep_args, sweep_runs
from services import service_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_local_sweep_records_one_parent_and_one_child_per_trial(tmp_path, sweep_toy):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = run_sweep(sweep_args(sweep_toy, tmp_path / "runs", uri, "two", "--methods", "mil,rtfm", "--trials", 3,
                                "--num-cpus", 2))
    assert proc.returncode == 0, proc.stderr[-3000:]
    parents, children, client = sweep_runs(uri, "two")
    assert len(parents) == 1 and len(children) == 6
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["wsvad.feature_set_hash"] and parent.data.tags["wsvad.git_sha"]
    assert parent.data.tags["version.torch"] == "2.14.1"
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED" and child.data.tags["wsvad.status"] == "finished"
        assert child.data.tags["wsvad.stopped_by"] in ("asha", "budget")
        history = client.get_metric_history(child.info.run_id, "test/auc")
        assert history and all(m.step > 0 for m in history)
        assert "config.lr" in child.data.params
        # Every finished trial shows its selected model at a glance: curves, class bars, timelines.
        plots = {a.path for a in client.list_artifacts(child.info.run_id, "plots")}
        assert {"plots/roc.png", "plots/pr.png", "plots/per_class_auc.png", "plots/timelines"} <= plots, plots
        assert len(client.list_artifacts(child.info.run_id, "plots/timelines")) == 3
    for method in ("mil", "rtfm"):
        best_run = parent.data.tags[f"best/{method}/run_id"]
        assert sorted(a.path for a in client.list_artifacts(best_run)) == ["checkpoint", "plots"]
        assert f"best/{method}/objective" in parent.data.metrics
    # trial 0 of each method is the official configuration
    official = [c for c in children if c.data.tags["wsvad.method"] == "rtfm" and c.data.params["config.lr"] == "0.001"
                and c.data.params["config.margin"] == "100.0"]
    assert official
    assert "mlflow ui" in proc.stdout


def test_diverging_trials_fail_with_reason_and_the_sweep_goes_on(tmp_path, sweep_toy):
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    (spaces / "mil.yaml").write_text(yaml.safe_dump({"lr": {"type": "loguniform", "low": 1e25, "high": 1e30}}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = run_sweep(sweep_args(sweep_toy, tmp_path / "runs", uri, "nan", "--methods", "mil", "--trials", 3,
                                "--spaces-dir", spaces, "--scheduler", "none", "--num-cpus", 2))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, children, _ = sweep_runs(uri, "nan")
    statuses = sorted(c.info.status for c in children)
    assert statuses == ["FAILED", "FAILED", "FINISHED"], statuses  # the official lr=0.01 trains; 1e25+ diverges
    for c in children:
        if c.info.status == "FAILED":
            assert "DivergedError" in c.data.tags["wsvad.failure_reason"] and "loss is" in c.data.tags["wsvad.failure_reason"]


def test_fractional_gpus_pack_four_trials_at_once(tmp_path, sweep_toy):
    """A declared (logical) GPU split 4 × 0.25: four trials run at the same time, on CPU here."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = run_sweep(sweep_args(sweep_toy, tmp_path / "runs", uri, "pack", "--methods", "mil", "--trials", 4,
                                "--scheduler", "none", "--search", "random", "--num-cpus", 4, "--num-gpus", 1,
                                "--gpus-per-trial", 0.25, "--cpus-per-trial", 0.5, "--max-steps", 60))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, children, _ = sweep_runs(uri, "pack")
    spans = [(c.info.start_time, c.info.end_time) for c in children]
    assert len(spans) == 4
    latest_start = max(s for s, _ in spans)
    earliest_end = min(e for _, e in spans)
    assert latest_start < earliest_end, "the four trials did not overlap"
    assert all(c.data.params["gpu_fraction"] == "0.25" for c in children)


def test_unreachable_tracking_server_fails_before_any_trial(tmp_path, sweep_toy):
    proc = run_sweep(sweep_args(sweep_toy, tmp_path / "runs", "http://127.0.0.1:9", "down", "--methods", "mil"))
    assert proc.returncode == 2
    assert "cannot reach the MLflow tracking server at http://127.0.0.1:9" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_bad_config_fails_before_cluster_work(tmp_path, sweep_toy):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for extra, message in ((["--methods", "mil,nope"], "unknown method 'nope'"),
                           (["--methods", "mil", "--set", "colour=red"], "no selected method has this option"),
                           (["--methods", "mil", "--gpus-per-trial", "lots"], "--gpus-per-trial")):
        started = time.time()
        proc = run_sweep(sweep_args(sweep_toy, tmp_path / "runs", uri, "bad", *extra))
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert time.time() - started < 30


def test_sigkill_then_resume_runs_every_trial_exactly_once(tmp_path, sweep_toy):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = sweep_args(sweep_toy, tmp_path / "runs", uri, "killed", "--methods", "mil,rtfm", "--trials", 3,
                      "--scheduler", "none", "--num-cpus", 2)
    driver = subprocess.Popen([sys.executable, str(ROOT / "sweeps" / "run.py"), *args], env=service_env(), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    # Kill once MIL is done and RTFM has started: both "finished before" and "in flight" exist.
    deadline = time.time() + 400
    lines = []
    while time.time() < deadline:
        line = driver.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("[rtfm] trial") and "finished" in line:
            break
    assert any(line.startswith("[mil] best trial") for line in lines), "".join(lines)[-3000:]
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started, nothing else
    driver.wait()

    proc = run_sweep(args + ["--resume"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[mil] already finished in this sweep; skipping" in proc.stdout
    parents, children, _ = sweep_runs(uri, "killed")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    ids = [c.data.tags["wsvad.trial_id"] for c in children]
    assert len(ids) == len(set(ids)) == 6, ids  # no duplicate runs
    assert all(c.info.status in ("FINISHED", "FAILED") for c in children), [c.info.status for c in children]


# Small versions of the heavy architectures so ten methods sweep on 2 CPU cores in minutes.
SMALL = ["--set", "segments=16", "--set", "text_layers=1", "--set", "task_dim=32", "--set", "dims=32,64",
         "--set", "depths=1,1", "--set", "dim_head=32", "--set", "mgfn_types=gb,fb"]


def test_sweep_over_all_ten_methods(tmp_path, sweep_toy):
    from wsvad.methods import list_methods

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = run_sweep(sweep_args(sweep_toy, tmp_path / "runs", uri, "all", "--methods", "all", "--trials", 2,
                                "--num-cpus", 2, "--max-steps", 6, "--evals-per-trial", 2, *SMALL), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    parents, children, _ = sweep_runs(uri, "all")
    methods = {c.data.tags["wsvad.method"] for c in children}
    assert methods == set(list_methods()) and len(methods) == 11  # the ten + temporal_mae
    assert len(children) == 22
    assert all(c.info.status == "FINISHED" for c in children), [(c.info.run_name, c.data.tags.get("wsvad.failure_reason"))
                                                                for c in children if c.info.status != "FINISHED"]
    for method in methods:
        assert f"best/{method}/objective" in parents[0].data.metrics
