"""A trial's checkpoint stores the selected weights once (in model.pt) and resumes exactly."""

from __future__ import annotations

import torch

from sweeps.trainable import EVALUATION, MODEL, TRAINER_STATE, read_trainer_state, write_trial_checkpoint
from wsvad.train import TrainOptions, Trainer


def _trainer(fs):
    return Trainer(fs, "mil", {"batch_size": 2, "segments": 8},
                   TrainOptions(seed=0, max_steps=8, eval_every=2, select_on="val"))


def _selected(trainer, fs):
    model = trainer.method_cls(trainer.config, fs.dim, class_names=trainer.class_names)
    model.load_state_dict(trainer.best_state)
    return model


def test_checkpoint_keeps_the_selected_weights_once_and_resumes_exactly(small_toy, tmp_path):
    fs = small_toy
    trainer = _trainer(fs)
    for _ in range(4):
        trainer.train_step()
        if trainer.step % 2 == 0:
            trainer._select(*trainer.evaluate())
    write_trial_checkpoint(tmp_path, trainer, _selected(trainer, fs), fs, "val")

    assert {p.name for p in tmp_path.iterdir()} == {TRAINER_STATE, MODEL, EVALUATION}
    raw = torch.load(tmp_path / TRAINER_STATE, weights_only=True)
    assert raw["best_state"] is None                       # not stored twice
    state = read_trainer_state(tmp_path)
    assert state["best_state"].keys() == trainer.best_state.keys()
    assert all(torch.equal(state["best_state"][k], trainer.best_state[k]) for k in trainer.best_state)

    # The uninterrupted run goes on first: both draw from torch's global generator, which the
    # checkpoint restores, so they must not interleave.
    expected = [trainer.train_step() for _ in range(2)]
    resumed = _trainer(fs)
    resumed.load_state_dict(state)
    assert resumed.step == 4 and resumed.best_step == trainer.best_step
    assert [resumed.train_step() for _ in range(2)] == expected   # the same batches and updates
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(),
                                                 trainer.model.state_dict().values()))


def test_older_checkpoints_with_best_state_inside_still_load(small_toy, tmp_path):
    trainer = _trainer(small_toy)
    trainer.train_step()
    trainer._select(*trainer.evaluate())
    torch.save(trainer.state_dict(), tmp_path / TRAINER_STATE)    # the previous layout: no model.pt needed
    state = read_trainer_state(tmp_path)
    assert all(torch.equal(state["best_state"][k], v) for k, v in trainer.best_state.items())
