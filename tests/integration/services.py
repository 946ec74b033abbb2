"""Real services for integration tests: an `mlflow server` on 127.0.0.1 and a local Ray head.

Both are started here and stopped by the PIDs we started (for Ray: the processes whose command
line names this test's own temp dir), never with `ray stop`, which would end other Ray sessions.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
ENV_DEFAULTS = {"RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1"}


def service_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(ENV_DEFAULTS)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `python` in Ray job entrypoints = this venv
    env.update({k: str(v) for k, v in extra.items()})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, any_status: bool = False) -> None:
    """Until `url` answers 200 (or, with any_status, answers at all: Ray's token auth gives 401)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except urllib.error.HTTPError:
            if any_status:
                return
            time.sleep(0.5)
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


class MlflowServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "MlflowServer":
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
               "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", "1"]
        self.log = open(self.root / "server.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=service_env(),
                                     start_new_session=True)
        wait_http(f"{self.uri}/health", timeout=90)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and its workers only
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class RayHead:
    def __init__(self, num_cpus: int = 2):
        self.temp_dir = tempfile.mkdtemp(prefix="rayt-", dir="/tmp")  # short: unix socket paths are limited
        self.port = free_port()
        self.dashboard_port = free_port()
        self.num_cpus = num_cpus
        self.address = f"127.0.0.1:{self.port}"
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}"

    def start(self) -> "RayHead":
        cmd = [str(BIN / "ray"), "start", "--head", f"--port={self.port}", f"--num-cpus={self.num_cpus}",
               f"--temp-dir={self.temp_dir}", "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1",
               f"--dashboard-port={self.dashboard_port}", "--disable-usage-stats"]
        subprocess.run(cmd, check=True, capture_output=True, env=service_env(), timeout=180)
        wait_http(f"{self.dashboard}/api/version", timeout=180, any_status=True)
        return self

    def pids(self) -> list[int]:
        out = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                if self.temp_dir.encode() in (proc / "cmdline").read_bytes():
                    out.append(int(proc.name))
            except OSError:
                continue
        return out

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + 10
            while self.pids() and time.time() < deadline:
                time.sleep(0.5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
