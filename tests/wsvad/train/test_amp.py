"""`--amp`: every method trains under bf16 autocast on the CPU with its loss in fp32, the first
step's loss stays close to fp32's, fp16 scales its loss and resumes with its scaler, and a
bf16-trained model still finds the planted anomalies."""

from __future__ import annotations

import math

import pytest
import torch

from wsvad.errors import ConfigError
from wsvad.methods import list_methods
from wsvad.methods.base import Output
from wsvad.train import TrainOptions, Trainer, train
from wsvad.train.amp import autocast, to_fp32


def test_amp_choices_are_checked():
    with pytest.raises(ConfigError, match="--amp must be one of off, bf16, fp16"):
        TrainOptions(amp="fp8")


def test_to_fp32_converts_outputs_nested_in_dataclasses_dicts_and_tuples():
    half = torch.ones(2, 3, dtype=torch.bfloat16)
    out = to_fp32(Output(half, {"feat": (half, [half]), "idx": torch.arange(3), "k": 4}))
    assert out.scores.dtype == torch.float32
    assert out.extras["feat"][0].dtype == torch.float32 and out.extras["feat"][1][0].dtype == torch.float32
    assert out.extras["idx"].dtype == torch.int64 and out.extras["k"] == 4   # integers and plain values untouched


def test_autocast_runs_matmuls_in_bf16_on_cpu():
    a = torch.randn(4, 8)
    with autocast("bf16", "cpu"):
        assert (a @ a.T).dtype == torch.bfloat16
    with autocast("off", "cpu"):
        assert (a @ a.T).dtype == torch.float32


def _first_losses(fs, name: str, amp: str) -> dict:
    trainer = Trainer(fs, name, {"batch_size": 2, "segments": 8}, TrainOptions(seed=0, max_steps=2, select_on="last",
                                                                              amp=amp))
    return trainer.train_step()


@pytest.mark.parametrize("name", list_methods())
def test_every_method_trains_under_bf16_with_a_loss_close_to_fp32(small_toy, name):
    fp32 = _first_losses(small_toy, name, "off")
    bf16 = _first_losses(small_toy, name, "bf16")
    assert set(bf16) == set(fp32)
    assert all(math.isfinite(v) for v in bf16.values()), bf16
    # Same seed, same batch, same initial weights: only the forward's precision differs. bf16 keeps
    # 8 bits of mantissa (~0.4 % per rounding); a few percent after a forward pass is expected.
    assert bf16["loss/total"] == pytest.approx(fp32["loss/total"], rel=0.1, abs=0.02), (bf16, fp32)


def test_fp16_scales_the_loss_and_its_scaler_resumes(small_toy):
    options = TrainOptions(seed=0, max_steps=4, select_on="last", amp="fp16")
    trainer = Trainer(small_toy, "mil", {"batch_size": 2, "segments": 8}, options)
    assert trainer.scaler is not None
    before = [p.detach().clone() for p in trainer.model.parameters()]
    for _ in range(2):
        losses = trainer.train_step()
    assert math.isfinite(losses["loss/total"])
    state = trainer.state_dict()
    assert state["grad_scaler"]["scale"] > 0
    moved = any(not torch.equal(a, b.detach()) for a, b in zip(before, trainer.model.parameters()))
    skipped = state["grad_scaler"]["scale"] < 65536.0   # overflowing steps are skipped and lower the scale
    assert moved or skipped
    again = Trainer(small_toy, "mil", {"batch_size": 2, "segments": 8}, options)
    again.load_state_dict(state)
    assert again.scaler.get_scale() == trainer.scaler.get_scale()


def test_off_keeps_no_scaler_and_saves_none(small_toy):
    trainer = Trainer(small_toy, "mil", {"batch_size": 2, "segments": 8}, TrainOptions(seed=0, max_steps=2))
    assert trainer.scaler is None and trainer.state_dict()["grad_scaler"] is None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mil", "rtfm"])
def test_bf16_training_still_finds_the_planted_anomalies(toy, name):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(toy, name, {"batch_size": 16, "segments": 32},
                       TrainOptions(seed=0, max_steps=60, eval_every=60, select_on="last", amp="bf16"))
    finally:
        torch.set_num_threads(before)
    assert result.metrics["auc"] >= 0.85, result.metrics


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_the_cli_offers_exactly_the_trainers_amp_choices(command):
    # The argument modules spell the choices out (importing wsvad.train.amp would load torch at
    # `--help`); this keeps them equal to what the trainer accepts.
    from wsvad.cli.main import build_parser
    from wsvad.train.amp import AMP_CHOICES

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    amp = next(a for a in sub._actions if a.dest == "amp")
    assert tuple(amp.choices) == AMP_CHOICES and amp.default == "off"
