"""Planted-anomaly check: BN-WVAD trained on a toy feature set finds the planted events."""

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


def test_bnwvad_finds_planted_anomalies(tmp_path, one_thread):
    make_toy_feature_set(tmp_path / "toy", videos=128, dim=64, snippets=48, crops=2, seed=0)
    fs = load_feature_set(tmp_path / "toy")
    steps = 10
    result = train(fs, "bnwvad", {"batch_size": 8, "segments": 32},
                   TrainOptions(seed=0, max_steps=steps, eval_every=steps, select_on="last"))
    losses = {k.removeprefix("loss/"): v for k, v in result.metrics.items() if k.startswith("loss/")}
    assert {"normal", "mpp_1", "mpp_2", "total"} <= set(losses), losses
    assert all(math.isfinite(v) for v in losses.values()), losses
    # The distance to the BatchNorm means already ranks the toy's shifted snippets fairly well
    # untrained (AUC ~0.83 after one step at lr 1e-12), so ask for more than the usual 0.85.
    assert result.metrics["auc"] >= 0.9, result.metrics
