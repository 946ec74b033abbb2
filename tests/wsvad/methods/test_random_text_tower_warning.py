"""VadCLIP and TPWNG without CLIP weights say so: their prompts are then random vectors."""

import warnings

import pytest

pytest.importorskip("open_clip")

from wsvad.methods.components.clip_text import CLIPTextTower, RandomTextTowerWarning  # noqa: E402


def test_a_tower_without_a_checkpoint_warns_once_built():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tower = CLIPTextTower("ViT-B-16", "", layers=1)
    found = [w for w in caught if issubclass(w.category, RandomTextTowerWarning)]
    assert len(found) == 1 and "clip_checkpoint" in str(found[0].message)
    assert tower.width == 512
