"""Planted-anomaly check: UR-DMU trained on a toy feature set finds the planted events."""

from __future__ import annotations

import math

import pytest
import torch

from wsvad.features import load_feature_set
from wsvad.toy import make_toy_feature_set
from wsvad.train import TrainOptions, train

pytestmark = pytest.mark.slow


@pytest.fixture
def one_thread():
    """One intra-op thread: the budget is for one core, and spinning threads crawl on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

PARTS = ("cls", "abn_in_amem", "abn_in_nmem", "nor_in_nmem", "nor_in_amem", "triplet", "kl", "distance")


def test_urdmu_finds_planted_anomalies(tmp_path, one_thread):
    make_toy_feature_set(tmp_path / "toy", videos=128, dim=64, snippets=48, crops=2, seed=0)
    fs = load_feature_set(tmp_path / "toy")
    # official batch 64 + 64 crops of 200 segments: far too much for a toy run
    steps = 10
    result = train(fs, "urdmu", {"batch_size": 8, "segments": 32},
                   TrainOptions(seed=0, max_steps=steps, eval_every=steps, select_on="last"))
    losses = {k.removeprefix("loss/"): v for k, v in result.metrics.items() if k.startswith("loss/")}
    assert set(PARTS) <= set(losses), losses
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert result.metrics["auc"] >= 0.85, result.metrics
