"""Segment pooling against the official loops (written here as plain loops) and hand values."""

import numpy as np
import pytest

from wsvad.segments import linear_resize, linspace_bounds, linspace_mean, pad_sample


def official_process_feat(feat, length):
    """RTFM utils.process_feat, restated as the loop it is (the reference for the vectorised one)."""
    new_feat = np.zeros((length, feat.shape[1]), np.float32)
    r = np.linspace(0, len(feat), length + 1).astype(int)
    for i in range(length):
        new_feat[i] = feat[r[i]:r[i + 1]].mean(0) if r[i] != r[i + 1] else feat[r[i]]
    return new_feat


@pytest.mark.parametrize("t", [1, 5, 31, 32, 33, 100, 1001])
def test_linspace_mean_matches_the_official_loop(t):
    rng = np.random.default_rng(t)
    video = rng.normal(size=(3, t, 6)).astype(np.float32)
    ours = linspace_mean(video, 32)
    for c in range(3):
        np.testing.assert_allclose(ours[c], official_process_feat(video[c], 32), rtol=1e-5, atol=1e-6)


def test_linspace_bounds_by_hand():
    # linspace(0, 5, 4) = 0, 1.667, 3.333, 5 → truncated 0, 1, 3, 5
    assert linspace_bounds(5, 3).tolist() == [0, 1, 3, 5]


def test_linear_resize_half_pixel_centres():
    # T=2 → S=4 with half-pixel centres: sources x = (i + .5)·2/4 − .5 = −.25, .25, .75, 1.25 → clamp
    video = np.array([[[0.0], [4.0]]], np.float32)  # (C=1, T=2, D=1)
    assert linear_resize(video, 4)[0, :, 0].tolist() == pytest.approx([0.0, 1.0, 3.0, 4.0])


def test_pad_sample_pads_short_and_samples_long():
    short = np.ones((1, 3, 2), np.float32)
    out, n = pad_sample(short, 5)
    assert n == 3 and out[0, :3].sum() == 6 and out[0, 3:].sum() == 0
    long = np.arange(10, dtype=np.float32).reshape(1, 10, 1)
    out, n = pad_sample(long, 4)
    # bounds int(linspace(0, 10, 5)) = 0, 2, 5, 7, 10 → means of [0,1], [2,3,4], [5,6], [7,8,9]
    assert n == 4 and out[0, :, 0].tolist() == [0.5, 3.0, 5.5, 8.0]
