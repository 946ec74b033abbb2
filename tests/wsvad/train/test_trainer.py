"""The trainer: determinism, honest selection, explicit bags, and learning on planted anomalies."""

import numpy as np
import pytest
import torch

from wsvad.errors import ConfigError
from wsvad.methods.base import InputSpec
from wsvad.train import TrainOptions, Trainer, train
from wsvad.train.bags import BagSampler, build_bags
from wsvad.train.splits import carve_validation


def test_same_seed_same_metrics_different_seed_different_run(small_toy):
    opts = dict(max_steps=30, eval_every=10)
    a = train(small_toy, "mil", {"batch_size": 4}, TrainOptions(seed=7, **opts))
    b = train(small_toy, "mil", {"batch_size": 4}, TrainOptions(seed=7, **opts))
    c = train(small_toy, "mil", {"batch_size": 4}, TrainOptions(seed=8, **opts))
    drop = {"train_seconds"}
    assert {k: v for k, v in a.metrics.items() if k not in drop} == {k: v for k, v in b.metrics.items() if k not in drop}
    assert [h["loss/total"] for h in a.history] == [h["loss/total"] for h in b.history]
    assert [h["loss/total"] for h in a.history] != [h["loss/total"] for h in c.history]


def test_validation_is_carved_from_training_videos_stratified(toy):
    train_idx, val_idx = carve_validation(toy, 0.1, split_seed=0)
    assert set(val_idx).isdisjoint(train_idx)
    assert set(val_idx) | set(train_idx) == set(toy.select("train"))
    assert (toy.splits[val_idx] == "train").all()  # never a test video
    assert set(toy.labels[val_idx]) == {0, 1}
    again, val_again = carve_validation(toy, 0.1, split_seed=0)
    assert np.array_equal(val_idx, val_again)


def test_selection_modes_are_recorded(small_toy):
    for on, metric in (("val", "video_auc"), ("test", "auc"), ("last", "auc")):
        r = train(small_toy, "mil", {"batch_size": 4}, TrainOptions(max_steps=20, eval_every=5, select_on=on))
        assert r.metrics["selected_on"] == on and r.metrics["select_metric"] == metric
        if on == "last":
            assert r.metrics["selected_step"] == 20
        if on == "test":  # the chosen evaluation is the best test AUC seen: the papers' optimism
            assert r.metrics["auc"] == max(h["test/auc"] for h in r.history)


def test_select_on_val_never_looks_at_test(small_toy):
    """Scrambling test labels must not change which step is selected on val."""
    r1 = train(small_toy, "mil", {"batch_size": 4}, TrainOptions(max_steps=20, eval_every=5, seed=1))
    scrambled = small_toy.__class__(**{**small_toy.__dict__, "ground_truth": {
        k: np.zeros((0, 2), np.int64) if len(v) else np.array([[0, 10]]) for k, v in small_toy.ground_truth.items()}})
    r2 = train(scrambled, "mil", {"batch_size": 4}, TrainOptions(max_steps=20, eval_every=5, seed=1))
    assert r1.metrics["selected_step"] == r2.metrics["selected_step"]


def test_bags_are_explicit_and_balanced(toy):
    spec = InputSpec(pooling="linspace_mean", train_crops="random")
    idx = toy.select("train")
    bags = build_bags(toy, idx, 32, spec, {"Normal": 0, "Arson": 1, "Fighting": 2, "Robbery": 3})
    assert bags.pooled.shape == (idx.size, 2, 32, 64)
    sampler = BagSampler(bags, 5, "random", torch.Generator().manual_seed(0))
    for _ in range(sampler.steps_per_epoch):
        batch = sampler.next_batch()
        assert batch.features.shape == (10, 1, 32, 64)
        assert batch.n_normal == batch.n_abnormal == 5
        assert batch.labels[:5].sum() == 0 and batch.labels[5:].sum() == 5
        assert (batch.class_ids[:5] == 0).all() and (batch.class_ids[5:] > 0).all()


def test_each_crop_becomes_its_own_bag(toy):
    spec = InputSpec(pooling="linspace_mean", train_crops="each")
    bags = build_bags(toy, toy.select("train")[:6], 16, spec, {})
    assert bags.pooled.shape == (12, 1, 16, 64)
    assert np.array_equal(bags.video_index, np.repeat(toy.select("train")[:6], 2))


def test_epoch_samples_each_side_without_replacement(toy):
    spec = InputSpec(pooling="linspace_mean", train_crops="all")
    bags = build_bags(toy, toy.select("train"), 8, spec, {})
    sampler = BagSampler(bags, 4, "all", torch.Generator().manual_seed(1))
    normal_rows = []
    n_normal = int((bags.labels == 0).sum())
    for _ in range(n_normal // 4):
        b = sampler.next_batch()
        normal_rows.append(b.features[:4, 0, 0, 0].numpy())
    rows = np.concatenate(normal_rows)
    assert np.unique(rows).size == rows.size  # no video twice within an epoch


def test_bad_options_fail_before_training(small_toy):
    with pytest.raises(ConfigError, match="select-on"):
        TrainOptions(select_on="best")
    with pytest.raises(ConfigError, match="not both"):
        TrainOptions(max_steps=3, max_epochs=3)
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        Trainer(small_toy, "nope")
    with pytest.raises(ConfigError, match="rtfm.k must be int"):
        Trainer(small_toy, "rtfm", {"k": "three"})
    with pytest.raises(ConfigError, match="select-metric"):
        train(small_toy, "mil", None, TrainOptions(max_steps=2, select_metric="accuracy_of_vibes"))


@pytest.mark.slow
@pytest.mark.parametrize("name, steps, overrides", [
    ("mil", 150, {"batch_size": 8}),
    ("rtfm", 40, {"batch_size": 8}),
])
def test_methods_find_planted_anomalies(toy, name, steps, overrides):
    untrained = train(toy, name, overrides, TrainOptions(seed=0, max_steps=1, select_on="last"))
    r = train(toy, name, overrides, TrainOptions(seed=0, max_steps=steps, select_on="val"))
    assert r.metrics["auc"] >= 0.85, r.metrics
    assert r.metrics["auc"] > untrained.metrics["auc"] + 0.1
    assert r.metrics["selected_on"] == "val"


def test_resume_from_state_dict_continues_exactly(small_toy, tmp_path):
    """A run stopped at step 10 and resumed from its saved state ends where an unbroken run ends."""
    opts = dict(max_steps=20, eval_every=5, seed=3)
    whole = train(small_toy, "rtfm", {"batch_size": 4}, TrainOptions(**opts))

    first = Trainer(small_toy, "rtfm", {"batch_size": 4}, TrainOptions(**opts))
    first.fit(lambda step, record, t: step >= 10)
    torch.save(first.state_dict(), tmp_path / "state.pt")
    second = Trainer(small_toy, "rtfm", {"batch_size": 4}, TrainOptions(**opts))
    second.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    resumed = second.fit()
    assert [h["loss/total"] for h in resumed.history] == pytest.approx([h["loss/total"] for h in whole.history])
    assert resumed.metrics["auc"] == pytest.approx(whole.metrics["auc"])


def test_diverging_loss_fails_with_its_reason(small_toy):
    from wsvad.train.trainer import DivergedError

    with pytest.raises(DivergedError, match=r"loss is (nan|inf) at step \d+"):
        train(small_toy, "mil", {"batch_size": 4, "lr": 1e30}, TrainOptions(max_steps=50, select_on="last"))


def test_gv_vad_synthetic_loss_scaling_in_training(tmp_path):
    from wsvad.features import load_feature_set
    from wsvad.toy import make_toy_feature_set

    make_toy_feature_set(tmp_path / "fs", videos=32, dim=8, snippets=10, seed=5, synthetic_fraction=0.5)
    fs = load_feature_set(tmp_path / "fs")
    assert set(fs.sources[fs.splits == "train"]) == {"real", "synthetic"}
    assert set(fs.sources[fs.splits == "test"]) == {"real"}
    trainer = Trainer(fs, "mil", {"batch_size": 4}, TrainOptions(max_steps=3, select_on="last", vlr=0.25))
    batch_synthetic = []
    original = trainer.sampler.next_batch

    def spy():
        batch = original()
        batch_synthetic.append(batch.synthetic.float().mean().item())
        return batch

    trainer.sampler.next_batch = spy
    out = trainer.train_step()
    frac = batch_synthetic[0]
    assert out["train/objective"] == pytest.approx(out["loss/total"] * ((1 - frac) + frac * 0.25), rel=1e-5)
    learn = Trainer(fs, "mil", {"batch_size": 4}, TrainOptions(max_steps=3, select_on="last", vlr=0.5, learnable_vlr=True))
    for _ in range(3):
        out = learn.train_step()
    assert out["train/vlr"] != 0.5  # VLR is learned


def test_a_lower_is_better_metric_is_refused_for_selection(small_toy):
    # selection keeps the maximum: selecting on the false-alarm rate would keep the worst model
    with pytest.raises(ConfigError, match="higher is better"):
        train(small_toy, "mil", None, TrainOptions(max_steps=2, select_metric="far"))
