"""The run plots are real PNGs with the curves and shading they claim (pixels checked, not just files)."""

import numpy as np
import pytest
from matplotlib.image import imread

from wsvad.plots import label_intervals, score_timeline, write_run_plots
from wsvad.plots.run_plots import pick_videos
from wsvad.protocol import Protocol, VideoScores, evaluate


def _evaluation():
    rng = np.random.default_rng(0)
    videos = []
    for i in range(6):
        anomalous = i < 3
        scores = rng.uniform(0, 0.3, 20)
        intervals = np.zeros((0, 2), np.int64)
        if anomalous:
            scores[5:10] += 0.5 + 0.1 * i
            intervals = np.array([[80, 159]])
        videos.append(VideoScores(f"v{i}", int(anomalous), "Fighting" if i % 2 else ("Normal" if not anomalous else "Arson"),
                                  scores, intervals))
    return evaluate(videos, Protocol()), [v.video_id for v in videos]


def _rgb(path):
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 150 and image.shape[1] > 150
    return image[..., :3]


def test_label_intervals_are_inclusive_runs():
    assert label_intervals(np.array([0, 1, 1, 0, 0, 1])).tolist() == [[1, 2], [5, 5]]
    assert label_intervals(np.array([1, 1])).tolist() == [[0, 1]]
    assert label_intervals(np.zeros(4)).shape == (0, 2)


def test_pick_videos_takes_the_peaks():
    ev, _ = _evaluation()
    # v2 has the highest bump (0.5 + 0.2), v1 next; the least anomalous is a normal video.
    chosen = pick_videos(ev, most=2, least=1)
    assert chosen[:2] == [2, 1]
    assert chosen[2] >= 3


def test_write_run_plots_writes_readable_pngs(tmp_path):
    ev, ids = _evaluation()
    written = write_run_plots(ev, ids, tmp_path, threshold=0.5)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    assert names[:3] == ["per_class_auc.png", "pr.png", "roc.png"]
    assert [n.split("/")[0] for n in names[3:]] == ["timelines"] * 3
    assert any("most-anomalous-v2" in n for n in names)
    for path in written:
        image = _rgb(path)
        assert image.std() > 0.05  # not a blank canvas
    # The ROC curve is drawn in red (tab:red ≈ (0.84, 0.15, 0.16)).
    roc = _rgb(tmp_path / "roc.png")
    red = (roc[..., 0] > 0.7) & (roc[..., 1] < 0.3) & (roc[..., 2] < 0.3)
    assert red.sum() > 200


def test_timeline_shades_ground_truth(tmp_path):
    scores = np.r_[np.full(50, 0.1), np.full(50, 0.9)]
    with_gt = _rgb(score_timeline(scores, tmp_path / "a.png", threshold=0.5, intervals=np.array([[50, 99]])))
    without = _rgb(score_timeline(scores, tmp_path / "b.png", threshold=0.5))
    # The shaded interval is light red: pixels with red clearly above green and blue.
    def pinkish(im):
        return ((im[..., 0] - im[..., 1] > 0.1) & (im[..., 0] > 0.8)).sum()
    assert pinkish(with_gt) > pinkish(without) + 1000


def test_timeline_seconds_axis_and_no_threshold(tmp_path):
    path = score_timeline(np.linspace(0, 1, 30), tmp_path / "t.png", fps=10.0, threshold=None, title="x")
    assert _rgb(path).std() > 0.05


def test_threshold_counts_match_sklearn_roc_and_pr():
    from sklearn.metrics import precision_recall_curve, roc_curve

    from wsvad.plots.curves import threshold_counts

    rng = np.random.default_rng(1)
    labels = (rng.random(5000) < 0.3).astype(np.int64)
    scores = np.round(rng.random(5000) + 0.3 * labels, 2)  # many ties: one point per distinct score
    tps, fps = threshold_counts(labels, scores)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(np.r_[0, fps / fps[-1]], fpr)
    np.testing.assert_allclose(np.r_[0, tps / tps[-1]], tpr)
    precision, recall, _ = precision_recall_curve(labels, scores)
    np.testing.assert_allclose(np.r_[0, tps / tps[-1]], recall[::-1])
    np.testing.assert_allclose(np.r_[1, tps / (tps + fps)], precision[::-1])


def test_pixel_points_thin_a_million_point_curve_to_within_one_cell():
    from wsvad.plots.curves import pixel_points

    x = np.linspace(0, 1, 1_000_001)
    y = np.sqrt(x)
    tx, ty = pixel_points(x, y, resolution=1000)
    assert tx.size < 3000 and (tx[0], ty[0]) == (0, 0) and (tx[-1], ty[-1]) == (1, 1)
    # Every dropped point lies within one cell of the drawn polyline (checked against its vertices'
    # interpolation: the curve is monotone, so interpolating on x is the polyline).
    assert np.abs(np.interp(x, tx, ty) - y).max() <= 1.5 / 1000
    # Two points or fewer are returned as they are.
    assert pixel_points(np.array([0.2]), np.array([0.4]))[0].tolist() == [0.2]
