"""Shared fixtures: small toy feature sets written once per session."""

import os

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory):
    """128 videos, D=64, 2 crops, planted anomalies (wsvad.toy)."""
    from wsvad.toy import make_toy_feature_set

    out = tmp_path_factory.mktemp("toy") / "features"
    make_toy_feature_set(out, videos=128, dim=64, snippets=48, crops=2, seed=0)
    return out


@pytest.fixture(scope="session")
def toy(toy_dir):
    from wsvad.features import load_feature_set

    return load_feature_set(toy_dir)


@pytest.fixture(scope="session")
def small_toy(tmp_path_factory):
    """A tiny set (24 videos, D=16, 1 crop) for fast plumbing tests."""
    from wsvad.features import load_feature_set
    from wsvad.toy import make_toy_feature_set

    out = tmp_path_factory.mktemp("small") / "features"
    make_toy_feature_set(out, videos=24, dim=16, snippets=12, crops=1, seed=3)
    return load_feature_set(out)
