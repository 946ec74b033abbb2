"""Running sweeps as users do (a subprocess of sweeps/run.py) and reading back what MLflow holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services import service_env

ROOT = Path(__file__).resolve().parents[2]


def sweep_args(features, storage, tracking_uri, name, *extra) -> list[str]:
    return ["--features", str(features), "--storage", str(storage), "--tracking-uri", tracking_uri,
            "--name", name, "--max-steps", "12", "--evals-per-trial", "3", "--set", "batch_size=4", *map(str, extra)]


def run_sweep(args: list[str], timeout: float = 600, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "sweeps" / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=service_env(**env), cwd=ROOT)


def sweep_runs(tracking_uri: str, sweep: str):
    """(parent run, child runs) of a sweep, from MLflow."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string=f"tags.`wsvad.sweep` = '{sweep}'", max_results=1000)
    parents = [r for r in runs if r.data.tags.get("wsvad.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("wsvad.kind") == "trial"]
    return parents, children, client
