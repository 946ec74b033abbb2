"""The trainer's one-class mode: normal windows only, a normal-only validation split, selection on
the validation loss; the weakly-supervised path is left as it was (tests/wsvad/train/test_trainer.py)."""

import numpy as np
import pytest
import torch

from wsvad.errors import ConfigError
from wsvad.features import FeatureSetWriter, load_feature_set
from wsvad.toy_oneclass import make_oneclass_feature_set
from wsvad.train import TrainOptions, Trainer, train
from wsvad.train.bags import WindowSampler, build_windows, gather_windows, tile_windows
from wsvad.train.splits import carve_validation
from wsvad.train.trainer import carve_one_class_validation

TINY = {"d_model": 16, "depth": 1, "heads": 2, "proj_dim": 8, "segments": 8, "batch_size": 4}


@pytest.fixture(scope="module")
def oneclass(tmp_path_factory):
    """Normal-only training clips (as ShanghaiTech), 2 crops, short clips included."""
    out = tmp_path_factory.mktemp("oneclass") / "features"
    make_oneclass_feature_set(out, train_videos=10, test_videos=6, dim=8, snippets=14, crops=2, seed=1)
    return load_feature_set(out)


def test_the_toy_has_normal_training_clips_and_test_truth(oneclass):
    train_idx, test_idx = oneclass.select("train"), oneclass.select("test")
    assert (oneclass.labels[train_idx] == 0).all()
    assert set(oneclass.labels[test_idx]) == {0, 1}
    for i in test_idx:
        intervals = oneclass.ground_truth[str(oneclass.video_ids[i])]
        assert (len(intervals) > 0) == bool(oneclass.labels[i])


def test_weak_supervision_still_refuses_a_set_without_anomalous_training_videos(oneclass):
    with pytest.raises(ConfigError, match="no anomalous training videos"):
        Trainer(oneclass, "mil", {"batch_size": 2}, TrainOptions(max_steps=1, select_on="last"))


def test_one_class_trains_on_normal_windows_only(small_toy):
    """small_toy is weakly labelled: its anomalous training videos must never reach a one-class batch."""
    trainer = Trainer(small_toy, "temporal_mae", TINY, TrainOptions(max_steps=3, select_on="last"))
    normal = small_toy.select("train", label=0)
    assert np.array_equal(trainer.train_idx, normal)
    rows = {tuple(r) for i in normal for r in small_toy.video(int(i))[0].round(5)}
    for _ in range(5):
        batch = trainer.sampler.next_batch()
        assert batch.n_normal == 4 and batch.n_abnormal == 0 and batch.features.shape == (4, 1, 8, 16)
        assert (batch.labels == 0).all() and (batch.class_ids == 0).all()
        for window, length in zip(batch.features[:, 0].numpy(), batch.lengths.tolist()):
            assert all(tuple(r) in rows for r in window[:length].round(5))
    assert np.isfinite(trainer.train_step()["loss/total"])


def test_one_class_validation_is_the_normal_part_of_the_weak_carve(small_toy):
    train_idx, val_idx = carve_one_class_validation(small_toy, 0.2, split_seed=4)
    _, weak_val = carve_validation(small_toy, 0.2, split_seed=4)
    assert np.array_equal(val_idx, weak_val[small_toy.labels[weak_val] == 0])   # the same normal videos held out
    assert (small_toy.labels[np.concatenate([train_idx, val_idx])] == 0).all()
    assert set(train_idx).isdisjoint(val_idx)
    assert set(train_idx) | set(val_idx) == set(small_toy.select("train", label=0))


def test_object_level_sets_hold_out_whole_source_videos():
    from wsvad.features.store import Tracks

    class TrackSet:  # the fields the carve reads: 8 source videos × 3 tracks, the last track of each anomalous
        splits = np.array(["train"] * 24)
        labels = np.tile([0, 0, 1], 8)
        tracks = Tracks(np.repeat([f"v{i}" for i in range(8)], 3), np.tile([1, 2, 3], 8), np.zeros(0, np.int64),
                        np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

        def select(self, split=None, label=None):
            return np.flatnonzero(self.splits == split)

    fs = TrackSet()
    train_idx, val_idx = carve_one_class_validation(fs, 0.25, split_seed=1)
    assert (fs.labels[np.concatenate([train_idx, val_idx])] == 0).all() and train_idx.size + val_idx.size == 16
    train_sources, val_sources = set(fs.tracks.source_video_ids[train_idx]), set(fs.tracks.source_video_ids[val_idx])
    assert len(val_sources) == 2 and not train_sources & val_sources        # no source video on both sides


def test_one_class_selects_on_validation_loss(oneclass):
    r = train(oneclass, "temporal_mae", TINY, TrainOptions(seed=2, max_steps=12, eval_every=3, val_fraction=0.3))
    assert r.metrics["select_metric"] == "neg_loss" and r.metrics["selected_on"] == "val"
    values = [h["val/neg_loss"] for h in r.history]
    best = max(values)
    assert r.metrics["selected_step"] == max(h["step"] for h in r.history if h["val/neg_loss"] == best)
    h = r.history[0]
    assert h["val/neg_loss"] == pytest.approx(-h["val/loss"])
    assert h["val/loss"] == pytest.approx(h["val/loss/mae"] + h["val/loss/contrastive"], rel=1e-5)
    assert h["val/neg_loss/mae"] == pytest.approx(-h["val/loss/mae"])


def test_validation_loss_is_fixed_and_leaves_training_randomness_alone(oneclass):
    opts = TrainOptions(seed=5, max_steps=6, eval_every=3, val_fraction=0.3)
    a = Trainer(oneclass, "temporal_mae", TINY, opts)
    assert a.validation_loss() == a.validation_loss()              # same masks at every evaluation
    ra = a.fit()
    rb = train(oneclass, "temporal_mae", TINY, opts)
    assert [h["loss/total"] for h in ra.history] == [h["loss/total"] for h in rb.history]


def test_select_on_test_and_last_need_no_validation(oneclass):
    for on in ("test", "last"):
        r = train(oneclass, "temporal_mae", TINY, TrainOptions(max_steps=4, eval_every=2, select_on=on))
        assert r.metrics["select_metric"] == "auc" and not any(k.startswith("val/") for k in r.history[-1])


def test_carving_needs_two_normal_training_videos(tmp_path):
    out = tmp_path / "fs"
    make_oneclass_feature_set(out, train_videos=1, test_videos=2, dim=4, snippets=8, seed=0)
    fs = load_feature_set(out)
    with pytest.raises(ConfigError, match="only 1 normal training video"):
        Trainer(fs, "temporal_mae", TINY, TrainOptions(max_steps=1))
    assert Trainer(fs, "temporal_mae", TINY, TrainOptions(max_steps=1, select_on="last")).train_idx.size == 1


def test_own_val_split_with_anomalies_and_frame_truth_selects_on_auc(tmp_path):
    rng = np.random.default_rng(0)
    with FeatureSetWriter(tmp_path / "fs", dataset="toy") as w:
        for i, (split, label) in enumerate([("train", 0)] * 3 + [("val", 0), ("val", 1), ("test", 0), ("test", 1)]):
            vid = f"v{i}"
            w.add_video(vid, split, label, "Anomaly" if label else "Normal", rng.normal(size=(1, 12, 4)), num_frames=192)
            if split != "train":
                w.set_ground_truth(vid, np.array([[32, 95]]) if label else np.zeros((0, 2)))
    fs = load_feature_set(tmp_path / "fs")
    r = train(fs, "temporal_mae", TINY, TrainOptions(max_steps=2, eval_every=1))
    assert r.metrics["select_metric"] == "auc" and np.isfinite(r.history[-1]["val/auc"])
    assert "val/neg_loss" in r.history[-1]                           # its normal val video still gives a loss


def test_window_sampler_draws_every_window_once_per_epoch_and_resumes(oneclass):
    videos = oneclass.select("train")
    windows = build_windows(oneclass, videos, 8)
    t = oneclass.num_snippets[videos]
    assert windows.total == int(np.maximum(t - 7, 1).sum())                # every stride-1 window, ≥ 1 per video
    # which (video, snippet) a feature row is, whatever its crop (the toy's rows are all distinct)
    where = {oneclass.video(int(v))[c, j].tobytes(): (int(v), j)
             for v in videos for c in range(2) for j in range(oneclass.num_snippets[v])}
    sampler = WindowSampler(windows, 5, "random", torch.Generator().manual_seed(0))
    drawn = []
    for _ in range(sampler.steps_per_epoch):
        b = sampler.next_batch()
        assert b.features.shape == (5, 1, 8, 8)
        drawn += [where[w[0, 0].numpy().tobytes()] for w in b.features]    # (video, start) of each window
    assert len(set(drawn)) == len(drawn) == 5 * (windows.total // 5)       # no window twice in an epoch
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in sampler.state_dict().items()}
    expected = [sampler.next_batch().features for _ in range(3)]            # crosses into a new epoch
    resumed = WindowSampler(windows, 5, "random", torch.Generator().manual_seed(99))
    resumed.load_state_dict(state)
    assert all(torch.equal(a, resumed.next_batch().features) for a in expected)


def test_a_clip_shorter_than_the_window_is_padded_with_its_last_snippet(oneclass):
    videos = oneclass.select("train")
    t = oneclass.num_snippets[videos]
    windows = build_windows(oneclass, videos, int(t.max()) + 3)           # every clip is shorter
    assert windows.total == videos.size
    feats, lengths = gather_windows(windows, np.arange(videos.size), np.zeros(videos.size, np.int64),
                                    np.ones(videos.size, np.int64))       # crop 1 of each
    for i, v in enumerate(videos):
        clip = oneclass.video(int(v))[1]                                  # (T, D)
        assert lengths[i] == t[i]
        assert np.array_equal(feats[i, 0, : t[i]], clip)
        assert np.array_equal(feats[i, 0, t[i]:], np.repeat(clip[-1:], windows.window - t[i], 0))


def test_windows_of_all_crops_and_tiles(oneclass):
    videos = oneclass.select("train")
    windows = build_windows(oneclass, videos, 8, same_crops=True)
    sampler = WindowSampler(windows, 3, "all", torch.Generator().manual_seed(0))
    b = sampler.next_batch()
    assert b.features.shape == (3, 2, 8, 8)
    pos, starts = tile_windows(windows)
    for i, n in enumerate(oneclass.num_snippets[videos]):   # the tiles of each clip cover each snippet
        s = starts[pos == i]
        covered = np.zeros(n, bool)
        for x in s:
            covered[x: x + 8] = True
        assert covered.all() and (s + 8 <= max(n, 8)).all()


def test_one_class_resume_continues_exactly(oneclass, tmp_path):
    opts = dict(max_steps=8, eval_every=2, seed=3, val_fraction=0.3)
    whole = train(oneclass, "temporal_mae", TINY, TrainOptions(**opts))
    first = Trainer(oneclass, "temporal_mae", TINY, TrainOptions(**opts))
    first.fit(lambda step, record, t: step >= 4)
    torch.save(first.state_dict(), tmp_path / "state.pt")
    second = Trainer(oneclass, "temporal_mae", TINY, TrainOptions(**opts))
    second.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    resumed = second.fit()
    assert [h["loss/total"] for h in resumed.history] == pytest.approx([h["loss/total"] for h in whole.history])
    assert resumed.metrics["auc"] == pytest.approx(whole.metrics["auc"])
