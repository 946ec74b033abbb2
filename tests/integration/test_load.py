"""Load: a 200-trial sweep on 2 cores finishes, the driver's memory stays flat, MLflow still answers.

The driver's RSS is sampled while trials finish (by counting their runs in MLflow); the figures
at trial 20 and at trial 200 are printed (pytest -s) and bounded.
"""

import json
import time
import urllib.request

import psutil
import pytest

from services import MlflowServer
from sweeping import sweep_args, sweep_runs
from test_faults import Sweep

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = 200


def _count_trials(uri: str, name: str) -> int:
    return len(sweep_runs(uri, name)[1])


def test_two_hundred_trials_with_flat_driver_memory(tmp_path, sweep_toy):
    server = MlflowServer(tmp_path / "mlflow").start()
    sweep = None
    try:
        sweep = Sweep(sweep_args(sweep_toy, tmp_path / "runs", server.uri, "load", "--methods", "mil",
                                 "--trials", TRIALS, "--search", "random", "--scheduler", "none", "--max-steps", 3,
                                 "--evals-per-trial", 1, "--num-cpus", 2, "--max-concurrent", 2),
                      tmp_path / "sweep.log")
        driver = psutil.Process(sweep.proc.pid)
        samples = []                                              # (trials with a run, driver RSS bytes)
        deadline = time.time() + 1500
        while sweep.proc.poll() is None and time.time() < deadline:
            try:
                rss = driver.memory_info().rss
                samples.append((_count_trials(server.uri, "load"), rss))
            except (psutil.NoSuchProcess, OSError):
                break
            except Exception:                                     # MLflow busy for a moment: sample again
                pass
            time.sleep(2)
        assert sweep.wait(60) == 0, sweep.output()[-3000:]

        early = [rss for n, rss in samples if n >= 20]
        late = [rss for n, rss in samples if n >= TRIALS - 10]
        assert early and late, samples[-5:]
        at_20, at_200 = early[0], late[-1]
        print(f"\ndriver RSS: {at_20 / 2**20:.0f} MiB at trial 20, {at_200 / 2**20:.0f} MiB at trial 200 "
              f"({at_200 / at_20:.2f}x); samples={len(samples)}")
        assert at_200 < 1.25 * at_20, (at_20, at_200)

        # Every trial has exactly one finished run, and the tracking server (the MLflow UI's
        # backend) still answers a full search quickly.
        parents, children, _ = sweep_runs(server.uri, "load")
        assert len(children) == TRIALS and len({c.data.tags["wsvad.trial_id"] for c in children}) == TRIALS
        assert all(c.info.status == "FINISHED" for c in children)
        with urllib.request.urlopen(server.uri + "/", timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read(2000).lower()
        started = time.time()
        request = urllib.request.Request(server.uri + "/ajax-api/2.0/mlflow/runs/search", method="POST",
                                         data=json.dumps({"experiment_ids": [parents[0].info.experiment_id],
                                                          "max_results": 1000}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert len(json.loads(answer.read())["runs"]) == TRIALS + 1
        assert time.time() - started < 10
    finally:
        if sweep is not None:
            sweep.kill()
        server.stop()
