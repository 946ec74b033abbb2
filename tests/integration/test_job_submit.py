"""The cluster path on one machine: a `ray start --head`, an `mlflow server` on 127.0.0.1, and a
tiny sweep submitted with `ray job submit` (token auth on, as Ray 2.60 ships)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from services import BIN, service_env
from sweeping import ROOT, sweep_runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_sweep_submitted_as_a_ray_job_lands_in_the_tracking_server(tmp_path, sweep_toy, ray_head, mlflow_server):
    cmd = [str(BIN / "ray"), "job", "submit", "--address", ray_head.dashboard, "--working-dir", str(ROOT), "--",
           "python", "sweeps/run.py", "--features", str(Path(sweep_toy).resolve()), "--methods", "mil",
           "--trials", "2", "--max-steps", "10", "--evals-per-trial", "2", "--set", "batch_size=4",
           "--name", "job", "--storage", str(tmp_path / "runs"), "--tracking-uri", mlflow_server.uri]
    # The head's job agent registers a while after its dashboard answers; on a loaded 2-core
    # machine that has taken minutes. Retry that one refusal until a deadline.
    deadline = time.time() + 480
    while True:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT,
                              env=service_env(RAY_AUTH_MODE="token"))
        if "No available agent to submit job" not in proc.stderr + proc.stdout or time.time() > deadline:
            break
        time.sleep(5)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "succeeded" in proc.stdout + proc.stderr
    parents, children, client = sweep_runs(mlflow_server.uri, "job")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 2 and all(c.info.status == "FINISHED" for c in children)
    assert all(client.get_metric_history(c.info.run_id, "test/auc") for c in children)
    best = parents[0].data.tags["best/mil/run_id"]
    # artifacts served by the server: the best trial's weights and the plots every trial gets
    assert sorted(a.path for a in client.list_artifacts(best)) == ["checkpoint", "plots"]
    pngs = [a.path for a in client.list_artifacts(best, "plots") if a.path.endswith(".png")]
    assert "plots/roc.png" in pngs, pngs


def test_unreachable_ray_head_is_a_clear_error(tmp_path, sweep_toy):
    proc = subprocess.run([sys.executable, str(ROOT / "sweeps" / "run.py"), "--features", str(sweep_toy),
                           "--methods", "mil", "--name", "nohead", "--storage", str(tmp_path / "runs"),
                           "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--address", "127.0.0.1:9"],
                          capture_output=True, text=True, timeout=120, env=service_env(), cwd=ROOT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in proc.stderr


def test_mlflow_server_script_binds_loopback(tmp_path):
    from services import free_port, wait_http
    import os
    import signal

    port = free_port()
    proc = subprocess.Popen(["bash", str(ROOT / "mlflow" / "server.sh"), "--port", str(port), "--workers", "1"],
                            cwd=tmp_path, env=service_env(MLFLOW_BIN=str(BIN / "mlflow")),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=90)
        assert (tmp_path / "mlruns" / "mlflow.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
