"""MLflow tracking server write rate: logged metrics per second into a real `mlflow server` on
127.0.0.1 with a SQLite backend store (the set-up of mlflow/server.sh, on this machine).

Scenarios, each for about `--seconds` of wall time:
- one client, `log_batch` of 1 metric per request (the worst case: a request per value);
- one client, `log_batch` of 60 metrics (about what a sweep's driver sends per trial report:
  losses, test/val metrics, the selected model's metrics);
- one client, `log_batch` of 1000 metrics (MLflow's per-request cap);
- `--clients` concurrent clients (threads, one run each), `log_batch` of 60: many writers;
- the same 60-metric batches through the local SQLite store without a server (what an embedded
  `sqlite:///` sweep does).

The server is started here in its own process group and stopped by that PID (SIGTERM), never by name.

    python benchmarks/mlflow_rate.py [--seconds 8] [--clients 4] [--workers 1,2] [--report FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`mlflow server` with a SQLite store, in its own session so that only it is signalled."""

    def __init__(self, root: Path, workers: int):
        self.root, self.workers, self.port = root, workers, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        mlflow_bin = Path(sys.executable).parent / "mlflow"
        cmd = [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
               "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1",
               "--port", str(self.port), "--workers", str(self.workers)]
        self.log = open(self.root / "server.log", "wb")
        env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
        started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"mlflow server did not come up; see {self.root / 'server.log'}")
            time.sleep(0.3)
        self.start_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)   # the group we created: the server and its workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def log_for(client, run_id: str, per_request: int, seconds: float, prefix: str = "m") -> tuple[int, int, float]:
    """log_batch requests of `per_request` metrics for `seconds`: (metrics, requests, elapsed)."""
    from mlflow.entities import Metric

    names = [f"{prefix}/{i}" for i in range(per_request)]
    step, metrics, requests = 0, 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        ts = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(n, 0.5 + 1e-3 * step, ts, step) for n in names])
        step += 1
        metrics += per_request
        requests += 1
    return metrics, requests, time.perf_counter() - started


def scenario_single(uri: str, experiment_id: str, per_request: int, seconds: float) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    run = client.create_run(experiment_id, run_name=f"single-{per_request}")
    log_for(client, run.info.run_id, per_request, min(1.0, seconds / 4))    # warm-up: connections, first rows
    m, r, s = log_for(client, run.info.run_id, per_request, seconds)
    client.set_terminated(run.info.run_id)
    return {"clients": 1, "per_request": per_request, "metrics": m, "requests": r, "seconds": s,
            "metrics_per_s": m / s, "requests_per_s": r / s, "latency_ms": 1e3 * s / r}


def scenario_concurrent(uri: str, experiment_id: str, clients: int, per_request: int, seconds: float) -> dict:
    from mlflow.tracking import MlflowClient

    results: list[tuple[int, int, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def worker(i: int) -> None:
        client = MlflowClient(uri)
        run = client.create_run(experiment_id, run_name=f"client-{i}")
        log_for(client, run.info.run_id, per_request, 0.5)
        barrier.wait()
        out = log_for(client, run.info.run_id, per_request, seconds)
        with lock:
            results.append(out)
        client.set_terminated(run.info.run_id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m, r = sum(x[0] for x in results), sum(x[1] for x in results)
    s = max(x[2] for x in results)
    return {"clients": clients, "per_request": per_request, "metrics": m, "requests": r, "seconds": s,
            "metrics_per_s": m / s, "requests_per_s": r / s, "latency_ms": 1e3 * s * clients / r}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=8.0, help="per scenario")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", default="1,2", help="mlflow server --workers values to measure (mlflow/server.sh: 2)")
    p.add_argument("--report", help="also write the markdown section here")
    p.add_argument("--json", help="also write the figures as JSON here")
    args = p.parse_args()

    from mlflow.tracking import MlflowClient

    rows = []
    workers = [int(w) for w in str(args.workers).split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for w in workers:
            root = tmp / f"server{w}"
            root.mkdir()
            with Server(root, w) as server:
                print(f"mlflow server (SQLite, --workers {w}) healthy after {server.start_seconds:.1f} s on "
                      f"{server.uri}; load average {os.getloadavg()[0]:.1f}", flush=True)
                experiment = MlflowClient(server.uri).create_experiment("rate")
                for per in (1, 60, 1000):
                    r = scenario_single(server.uri, experiment, per, args.seconds)
                    rows.append((f"server (--workers {w}), 1 client", r))
                    print(f"  server, 1 client, {per:>4} metrics/request: {r['metrics_per_s']:>8.0f} metrics/s, "
                          f"{r['requests_per_s']:6.1f} requests/s, {r['latency_ms']:.1f} ms/request", flush=True)
                r = scenario_concurrent(server.uri, experiment, args.clients, 60, args.seconds)
                rows.append((f"server (--workers {w}), {args.clients} concurrent clients", r))
                print(f"  server, {args.clients} clients,  60 metrics/request: {r['metrics_per_s']:>8.0f} metrics/s, "
                      f"{r['requests_per_s']:6.1f} requests/s, {r['latency_ms']:.1f} ms/request", flush=True)
        local = f"sqlite:///{tmp / 'local.db'}"
        experiment = MlflowClient(local).create_experiment("rate")
        r = scenario_single(local, experiment, 60, args.seconds)
        rows.append(("embedded SQLite (no server), 1 client", r))
        print(f"  embedded sqlite, 1 client, 60 metrics/request: {r['metrics_per_s']:>8.0f} metrics/s, "
              f"{r['requests_per_s']:6.1f} requests/s", flush=True)

    md = [f"Measured here: `mlflow server` (MLflow {__import__('mlflow').__version__}, SQLite backend, "
          f"`--workers` {args.workers}) on 127.0.0.1, clients on the same 2-core box (they compete with the server "
          f"for the CPU); {args.seconds:g} s per scenario; load average {os.getloadavg()[0]:.1f} at the end.",
          "", "| writer | metrics / request | metrics/s | requests/s | ms / request |", "|---|---|---|---|---|"]
    md += [f"| {w} | {r['per_request']} | {r['metrics_per_s']:.0f} | {r['requests_per_s']:.1f} | {r['latency_ms']:.1f} |"
           for w, r in rows]
    text = "\n".join(md)
    print("\n" + text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    figures = {"rows": [{"writer": w, **r} for w, r in rows], "workers": workers}
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
