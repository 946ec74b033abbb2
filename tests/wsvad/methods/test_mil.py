"""Sultani MIL: the loss of custom_objective on hand-made scores, and segment scoring at test time."""

import numpy as np
import pytest
import torch

from wsvad.methods import create
from wsvad.methods.base import Batch, Output
from wsvad.methods.mil import focal_loss, segment_of_snippet


def batch_of(n, a, t=4):
    return Batch(torch.zeros(n + a, 1, t, 3), torch.tensor([0.0] * n + [1.0] * a), n, a,
                 torch.tensor([0] * n + [1] * a), torch.zeros(n + a, dtype=torch.bool), torch.full((n + a,), t))


def test_sultani_loss_by_hand():
    model = create("mil", 3)
    for fc in (model.fc1, model.fc2, model.fc3):  # zero weights: the l2 term is 0
        torch.nn.init.zeros_(fc.weight)
    scores = torch.tensor([
        [0.1, 0.2, 0.1, 0.0],   # normal 1: max 0.2
        [0.3, 0.0, 0.0, 0.1],   # normal 2: max 0.3
        [0.9, 0.5, 0.2, 0.2],   # abnormal 1: max 0.9
        [0.1, 0.4, 0.6, 0.0],   # abnormal 2: max 0.6
    ])
    total, parts = model.loss(Output(scores), batch_of(2, 2))
    # hinge(n, a) = max(0, 1 − max_a + max_n):
    #   n1: (1 − .9 + .2) + (1 − .6 + .2) = .3 + .6 = .9 ;  n2: (1 − .9 + .3) + (1 − .6 + .3) = .4 + .7 = 1.1
    #   mean over normal bags = 1.0
    assert parts["ranking"].item() == pytest.approx(1.0)
    # sparsity: 8e-5 · Σ abnormal scores = 8e-5 · (1.8 + 1.1)
    assert parts["sparsity"].item() == pytest.approx(8e-5 * 2.9)
    # smoothness: 8e-5 · Σ (diffs)² = 8e-5 · ((.16 + .09 + 0) + (.09 + .04 + .36))
    assert parts["smooth"].item() == pytest.approx(8e-5 * 0.74)
    assert parts["l2"].item() == 0.0
    assert total.item() == pytest.approx(1.0 + 8e-5 * (2.9 + 0.74))


def test_l2_matches_keras_regulariser():
    model = create("mil", 3)
    expected = 1e-3 * sum(float((fc.weight.detach() ** 2).sum()) for fc in (model.fc1, model.fc2, model.fc3))
    _, parts = model.loss(Output(torch.zeros(2, 4)), batch_of(1, 1))
    assert parts["l2"].item() == pytest.approx(expected, rel=1e-6)


def test_focal_loss_by_hand():
    # p = .8 for a positive: −α (1 − .8)² log .8 = −.25 · .04 · (−.22314) = .0022314
    assert focal_loss(torch.tensor([0.8]), torch.tensor([1.0]), 2.0, 0.25).item() == pytest.approx(0.0022314, rel=1e-4)


def test_snippet_owner_segments():
    # T=5 into 3 segments: bounds 0,1,3,5 → snippets 0 | 1,2 | 3,4
    assert segment_of_snippet(np.array([0, 1, 3, 5]), 5).tolist() == [0, 1, 1, 2, 2]
    # T=2 into 4 segments: bounds 0,0,1,1,2 → snippet 0 in segment 1, snippet 1 in segment 3
    assert segment_of_snippet(np.array([0, 0, 1, 1, 2]), 2).tolist() == [1, 3]


def test_test_scores_are_segment_scores_copied_to_snippets():
    model = create("mil", 4, {"segments": 2}).eval()
    video = torch.randn(1, 6, 4)
    scores = model.score(video)
    assert scores[0] == scores[1] == scores[2] and scores[3] == scores[4] == scores[5]
    pooled = torch.stack([video[0, :3].mean(0), video[0, 3:].mean(0)])
    expected = model(pooled[None, None]).scores[0]
    torch.testing.assert_close(scores[[0, 3]], expected)
