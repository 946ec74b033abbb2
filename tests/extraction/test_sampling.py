"""Snippets and crops: the frames and views a backbone sees (extraction/sampling.py)."""

import numpy as np
import pytest

from extraction.sampling import (
    add_flips,
    crop_corners,
    cut_crops,
    num_snippets,
    resize_short_side,
    resized_shape,
    snippet_positions,
    spatial_crops,
)


def test_snippets_drop_the_tail_and_pick_the_centre_frame():
    assert num_snippets(795, 16) == 49 and num_snippets(15, 16) == 0 and num_snippets(16, 16) == 1
    assert snippet_positions(16, 1).tolist() == [8]
    assert snippet_positions(16, 16).tolist() == list(range(16))
    assert snippet_positions(16, 8).tolist() == [0, 2, 4, 6, 9, 11, 13, 15]
    with pytest.raises(ValueError):
        snippet_positions(16, 17)


def test_resize_keeps_the_aspect_ratio_with_the_short_side_fixed():
    assert resized_shape(576, 768, 224) == (224, 299)        # vtest.avi
    assert resized_shape(720, 1280, 256) == (256, 455)
    assert resized_shape(400, 300, 224) == (299, 224)        # portrait
    assert resize_short_side(224, 1) == 224 and resize_short_side(224, 10) == 256


def test_crops_are_centre_first_then_corners_and_flips():
    h, w, s = 6, 8, 4
    frame = np.arange(h * w * 3, dtype=np.int64).reshape(h, w, 3)
    assert crop_corners(h, w, s, 1) == [(1, 2)]
    assert crop_corners(h, w, s, 5) == [(1, 2), (0, 0), (0, 4), (2, 0), (2, 4)]
    five = cut_crops(frame[None], s, 5)                     # (1, 5, s, s, 3)
    assert five.shape == (1, 5, s, s, 3)
    np.testing.assert_array_equal(five[0, 0], frame[1:5, 2:6])
    np.testing.assert_array_equal(five[0, 4], frame[2:6, 4:8])
    ten = add_flips(five, 10)
    assert ten.shape == (1, 10, s, s, 3)
    np.testing.assert_array_equal(ten[0, 5], five[0, 0][:, ::-1])
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(add_flips(torch.from_numpy(five), 10).numpy(), ten)
    assert add_flips(five, 5) is five and spatial_crops(10) == 5 and spatial_crops(1) == 1
    with pytest.raises(ValueError):
        spatial_crops(3)
