import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from services import MlflowServer, RayHead  # noqa: E402


@pytest.fixture()
def mlflow_server(tmp_path):
    server = MlflowServer(tmp_path / "mlflow")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture()
def ray_head():
    head = RayHead(num_cpus=2)
    try:
        yield head.start()
    finally:
        head.stop()


@pytest.fixture(scope="session")
def sweep_toy(tmp_path_factory):
    """24 toy videos, D=16: small enough for sweeps of many trials on 2 cores."""
    from wsvad.toy import make_toy_feature_set

    out = tmp_path_factory.mktemp("sweep-toy") / "features"
    make_toy_feature_set(out, videos=32, dim=16, snippets=16, crops=1, seed=1)
    return out
