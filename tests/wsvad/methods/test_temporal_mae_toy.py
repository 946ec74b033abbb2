"""Temporal MAE trained one-class on normal generated clips flags planted object anomalies
(an object moving against the flow, an object of a new class) in the test clips."""

import pytest

from wsvad.features import load_feature_set
from wsvad.protocol import Protocol, evaluate
from wsvad.toy_oneclass import make_oneclass_feature_set
from wsvad.train import TrainOptions, Trainer
from wsvad.train.scoring import score_videos, video_scores

# the official architecture scaled down for a CPU test; every scoring option at its default
# (α 0.5, β 0.9, mask ratio 0.75, strided test masks, mean over windows)
TINY = {"d_model": 32, "depth": 2, "heads": 4, "segments": 16, "batch_size": 32, "lr": 1e-3}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("oneclass") / "features"
    make_oneclass_feature_set(out, train_videos=24, test_videos=16, dim=32, snippets=96, seed=0)
    return load_feature_set(out)


def frame_metrics(model, fs):
    test = fs.select("test")
    return evaluate(video_scores(fs, test, score_videos(model, fs, test)), Protocol()).metrics


@pytest.mark.slow
def test_one_class_model_flags_the_planted_anomalous_frames(clips):
    assert set(clips.labels[clips.select("train")]) == {0}           # nothing anomalous to learn from
    untrained = Trainer(clips, "temporal_mae", TINY, TrainOptions(seed=0, max_steps=1, select_on="last")).fit()
    trainer = Trainer(clips, "temporal_mae", TINY, TrainOptions(seed=0, max_steps=100, eval_every=50))
    result = trainer.fit()
    assert result.metrics["selected_on"] == "val" and result.metrics["select_metric"] == "neg_loss"
    metrics = frame_metrics(result.model, clips)
    assert metrics["auc"] == pytest.approx(result.metrics["auc"])     # the trainer's evaluation is the protocol's
    assert metrics["auc"] >= 0.8, metrics
    assert metrics["auc_class/AgainstFlow"] >= 0.8 and metrics["auc_class/NewObject"] >= 0.8, metrics
    assert metrics["auc"] > untrained.metrics["auc"] + 0.2
    print(f"temporal_mae one-class toy: frame AUC {metrics['auc']:.4f} (AgainstFlow {metrics['auc_class/AgainstFlow']:.4f}, "
          f"NewObject {metrics['auc_class/NewObject']:.4f}); untrained {untrained.metrics['auc']:.4f}")
