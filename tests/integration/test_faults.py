"""Faults clusters inflict, injected for real: a tracking server that restarts or vanishes mid-sweep,
a trial's worker process killed. Nothing finished is redone, no metric is lost, no run duplicated.

(The driver SIGKILL + --resume case is in test_sweep.py; the killed extraction in test_extract.py.)
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from services import MlflowServer, service_env
from sweeping import ROOT, run_sweep, sweep_args, sweep_runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVALS = 4


class Sweep:
    """sweeps/run.py in its own session (so it and the local Ray it starts can be killed together)."""

    def __init__(self, args: list[str], log: Path):
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "sweeps" / "run.py"), *args], env=service_env(),
                                     cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text()

    def wait(self, timeout: float = 600) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def wait_until(predicate, timeout: float, what: str, sweep: Sweep | None = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if sweep is not None and sweep.proc.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {sweep.output()[-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}" + (f": {sweep.output()[-3000:]}" if sweep else ""))


def long_trials(features, storage, uri, name, *extra):
    # Trials of several seconds, every evaluation reported, no early stopping: the count of
    # logged evaluations per trial is known exactly (EVALS).
    return sweep_args(features, storage, uri, name, "--methods", "mil", "--scheduler", "none", "--search", "random",
                      "--max-steps", 1500, "--evals-per-trial", EVALS, "--num-cpus", 2, *extra)


def assert_complete(uri: str, name: str, trials: int):
    parents, children, client = sweep_runs(uri, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED", [p.info.status for p in parents]
    ids = [c.data.tags["wsvad.trial_id"] for c in children]
    assert len(ids) == len(set(ids)) == trials, ids                       # no duplicate runs
    for child in children:
        assert child.info.status == "FINISHED", (child.info.run_name, child.data.tags.get("wsvad.failure_reason"))
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "test/auc")]
        assert sorted(steps) == sorted(set(steps)) and len(steps) == EVALS, (child.info.run_name, steps)
    return children, client


def test_tracking_server_restart_mid_sweep_loses_no_metric(tmp_path, sweep_toy):
    server = MlflowServer(tmp_path / "mlflow").start()
    sweep = None
    try:
        sweep = Sweep(long_trials(sweep_toy, tmp_path / "runs", server.uri, "restart", "--trials", 4,
                                  "--max-concurrent", 1), tmp_path / "sweep.log")
        wait_until(lambda: len(sweep_runs(server.uri, "restart")[1]) >= 1, 240, "the first trial run", sweep)
        server.stop()                                 # the tracking server goes away while trials train
        time.sleep(12)
        server.start()                                # and comes back on the same address and store
        assert sweep.wait(600) == 0, sweep.output()[-3000:]
        out = sweep.output()
        assert "is not answering" in out and "answers again" in out, out[-3000:]
        assert_complete(server.uri, "restart", 4)
    finally:
        if sweep is not None:
            sweep.kill()
        server.stop()


def test_an_outage_longer_than_the_patience_stops_the_sweep_and_resume_finishes_it(tmp_path, sweep_toy):
    server = MlflowServer(tmp_path / "mlflow").start()
    sweep = None
    try:
        args = long_trials(sweep_toy, tmp_path / "runs", server.uri, "outage", "--trials", 3, "--max-concurrent", 1,
                           "--tracking-patience", 6)
        sweep = Sweep(args, tmp_path / "sweep.log")
        wait_until(lambda: len(sweep_runs(server.uri, "outage")[1]) >= 1, 240, "the first trial run", sweep)
        server.stop()
        assert sweep.wait(300) == 2, sweep.output()[-3000:]
        out = sweep.output()
        last = [line for line in out.splitlines() if line.strip()][-1]   # (Tune logs its own traceback before)
        assert last.startswith("sweep: error: the MLflow tracking server") and "has not answered for" in last
        assert "--resume" in last and "unsent metric batch(es) saved for --resume" in out, out[-3000:]

        server.start()
        resumed = run_sweep(args + ["--resume"], timeout=600)
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        assert_complete(server.uri, "outage", 3)
    finally:
        if sweep is not None:
            sweep.kill()
        server.stop()


def _trial_workers(root_pid: int) -> list[psutil.Process]:
    """Tune's function-trainable actors started under this sweep's driver (never anyone else's)."""
    try:
        found = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    workers = []
    for p in found:
        try:
            if "ImplicitFunc" in " ".join(p.cmdline()):
                workers.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return workers


def test_a_killed_trial_worker_is_retried_from_its_checkpoint_in_the_same_run(tmp_path, sweep_toy):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = Sweep(long_trials(sweep_toy, tmp_path / "runs", uri, "workerkill", "--trials", 2, "--max-concurrent", 1,
                              "--max-steps", 3000, "--max-failures", 2), tmp_path / "sweep.log")
    try:
        # Wait for the first trial's first checkpoint, then kill the process training it.
        trial_dirs = tmp_path / "runs" / "workerkill" / "mil"
        wait_until(lambda: list(trial_dirs.glob("*/checkpoint_000000")), 300, "a trial checkpoint", sweep)
        workers = wait_until(lambda: _trial_workers(sweep.proc.pid), 60, "the trial's worker process", sweep)
        workers[0].send_signal(signal.SIGKILL)
        assert sweep.wait(600) == 0, sweep.output()[-3000:]
    finally:
        sweep.kill()
    children, _ = assert_complete(uri, "workerkill", 2)
    restored = [c for c in children if c.data.tags.get("wsvad.restores")]
    assert len(restored) == 1 and restored[0].data.tags["wsvad.restores"] == "1", [c.data.tags for c in children]
