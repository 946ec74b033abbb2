"""Every registered method passes the same contract tests (timm-style, over list_methods())."""

import dataclasses
import math
import typing

import numpy as np
import pytest
import torch

from wsvad.errors import CheckpointError
from wsvad.methods import get_method, list_methods
from wsvad.train import TrainOptions, Trainer, load_checkpoint, model_from_checkpoint, save_checkpoint

METHODS = list_methods()


def test_the_ten_methods_of_the_field_are_registered_by_name():
    assert {"mil", "rtfm"} <= set(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_declarations(name):
    cls = get_method(name)
    assert cls.paper and cls.official_code is not None
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    hints = typing.get_type_hints(cls.Config)
    assert cls.search_space, f"{name} declares no search space"
    for key, spec in cls.search_space.items():
        assert key in fields, f"{name}: search space key {key!r} is not a Config field"
        if spec["type"] == "choice":
            assert spec["values"], key
        else:
            assert spec["low"] < spec["high"], key
            if spec["type"] == "loguniform":
                assert spec["low"] > 0, key
        assert hints[key] in (int, float, str, bool) or typing.get_origin(hints[key]) is typing.Literal
    cfg = cls.Config()
    assert cfg.max_steps > 0 or cfg.max_epochs > 0
    assert cfg.batch_size > 0 and cfg.segments > 0


@pytest.fixture(scope="module")
def trainers(small_toy):
    cache = {}

    def make(name):
        if name not in cache:
            trainer = Trainer(small_toy, name, {"batch_size": 2, "segments": 8},
                              TrainOptions(seed=0, max_steps=2, select_on="last"))
            cache[name] = trainer
        return cache[name]

    return make


@pytest.mark.parametrize("name", METHODS)
def test_train_step_loss_parts_are_named_finite_and_sum_to_total(trainers, name):
    trainer = trainers(name)
    before = [p.detach().clone() for p in trainer.model.parameters() if p.requires_grad]
    for _ in range(2):
        losses = trainer.train_step()
    parts = {k: v for k, v in losses.items() if k != "loss/total"}
    assert parts, f"{name} names no loss terms"
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert sum(parts.values()) == pytest.approx(losses["loss/total"], rel=1e-5, abs=1e-6)
    after = [p.detach() for p in trainer.model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), f"{name}: no parameter moved"


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("t", [1, 2, 5, 40])
def test_score_gives_one_finite_score_per_snippet(trainers, name, t):
    model = trainers(name).model.eval()
    crops = 2
    video = torch.randn(crops, t, model.feature_dim)
    with torch.no_grad():
        scores = model.score(video)
    assert scores.shape == (t,), (name, t, scores.shape)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", METHODS)
def test_checkpoint_round_trip_and_official_key_check(trainers, name, tmp_path):
    trainer = trainers(name)
    model = trainer.model.eval()
    save_checkpoint(tmp_path / "c.pt", model=model, feature_set_hash="abc", dataset="toy", metrics={"auc": 0.5})
    payload = load_checkpoint(tmp_path / "c.pt")
    assert payload["feature_set_hash"] == "abc" and payload["method"] == name
    restored = model_from_checkpoint(payload)
    video = torch.from_numpy(trainer.fs.video(0)).float()
    with torch.no_grad():
        torch.manual_seed(0)
        a = model.score(video)
        torch.manual_seed(0)
        b = restored.score(video)
    torch.testing.assert_close(a, b)

    state = {k: v for k, v in model.state_dict().items()}
    fresh = get_method(name)(model.config, model.feature_dim, class_names=model.class_names)
    fresh.load_official(state)  # our own keys are a valid "official" checkpoint for the identity mapping
    dropped = dict(state)
    dropped.pop(next(n for n, _ in model.named_parameters() if n in state))  # a learned weight, not a buffer
    with pytest.raises(CheckpointError, match="missing keys"):
        fresh.load_official(dropped)
