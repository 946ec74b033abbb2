"""Object-level anomaly metrics: RBDC and TBDC (Ramachandra & Jones, "Street Scene", WACV 2020).

Frame AUC says *when* something is anomalous; these two say *where*. Both sweep the score
threshold of the predicted regions and trace a detection rate against the number of false
positive regions per frame; the summary number is the area under that curve for false
positives per frame in ``[0, 1]`` (TAO, CVPR 2025, reports them as RBDC and TBDC).

Definitions (exactly what is computed)
--------------------------------------
Inputs are predicted regions (box, score, video, frame) and ground-truth anomalous regions
(box, anomaly track id, video, frame), plus the number of test frames ``N``.

IoU (``box_convention``)
    ``"pixels"`` (default): boxes ``[x1, y1, x2, y2]`` hold inclusive pixel coordinates, so a
    box is ``x2 - x1 + 1`` pixels wide -- what the reference Python script of Georgescu et al.
    (SSMTL, CVPR 2021; reused by BAF, SSMTL++ and later papers) computes. ``"continuous"``:
    width ``x2 - x1``. Boxes of zero union have IoU 0.
A region is *detected at threshold t*
    when some prediction in the same video and frame with score ``>= t`` has IoU ``>= beta``
    with it (``beta = 0.2``, TAO's value; Street Scene and the Georgescu script use 0.1).
A prediction is a *false positive*
    when its IoU with every ground-truth region of its frame is ``< beta`` (frames without
    ground truth: always). A prediction that only re-detects an already detected region is
    neither a true nor a false positive, as in the reference script.
RBDR(t) = detected regions / all ground-truth regions.
FPR(t) = false positives with score ``>= t`` / ``N`` (false positives per frame, not a rate
    in ``[0, 1]``; it can exceed 1).
TBDR(t) = detected tracks / all ground-truth tracks, a track being one track id in one video.
    ``track_rule="window"`` (default; the TAO-style "k=5 window, m=3 matches"): a track is
    detected at t when some window of ``window`` (k) consecutive frames holds at least
    ``min(min_matches, c)`` of its regions detected at t, where ``c`` is the largest number
    of the track's regions that any k-frame window holds (so a track shorter or sparser than
    m regions per window needs all the regions of its fullest window, and perfect predictions
    detect every track). ``track_rule="fraction"`` (Street Scene): a track is detected when at
    least a fraction ``alpha`` (0.1) of its regions are detected -- ``detected / n >= alpha``,
    the reference script's comparison.
RBDC, TBDC = the trapezoidal area under (FPR, RBDR) and (FPR, TBDR) for FPR in
    ``[0, max_fpr]`` (``max_fpr = 1``), starting from the point (0, 0). The curve has one
    point per distinct prediction score (thresholds from high to low); where it passes
    ``max_fpr`` it is cut by linear interpolation, and where it never reaches it it is extended
    flat with its last detection rate. With distinct scores this equals the reference script,
    which adds predictions one at a time (each step is then purely horizontal or vertical).
    With tied scores the script's curve depends on input order; this one does not (tied
    predictions enter together and the step is a diagonal, as in an ROC curve).

Undefined numbers are NaN, never an exception: both criteria without ground-truth regions, and
everything when some prediction score is NaN or infinite (a diverged model), as in
:mod:`wsvad.protocol`. Malformed inputs (shapes, boxes with ``x2 < x1``, a track holding two
regions in one frame) raise :class:`wsvad.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from wsvad.errors import ConfigError

BOX_CONVENTIONS = ("pixels", "continuous")
TRACK_RULES = ("window", "fraction")
NAN = float("nan")


def box_iou(a: ArrayLike, b: ArrayLike, box_convention: str = "pixels") -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4): an (N, M) array."""
    a, b = _boxes(a, "a"), _boxes(b, "b")
    return _iou(a[:, None, :], b[None, :, :], _pixel(box_convention))


def paired_iou(a: ArrayLike, b: ArrayLike, box_convention: str = "pixels") -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]`` for boxes ``(P, 4)``: a (P,) array."""
    a, b = _boxes(a, "a"), _boxes(b, "b")
    if a.shape != b.shape:
        raise ConfigError(f"paired boxes need equal shapes, got {a.shape} and {b.shape}")
    return _iou(a, b, _pixel(box_convention))


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class Regions:
    """Boxes in frames of videos, one row per box.

    Predictions carry a ``score`` per box (``track`` unused, -1). Ground truth carries the
    anomaly ``track`` id of each box (unique within its video; scores are ones).
    """

    video: np.ndarray  # (N,) str
    frame: np.ndarray  # (N,) int64, 0-based frame index in its video
    boxes: np.ndarray  # (N, 4) float64, [x1, y1, x2, y2]
    scores: np.ndarray  # (N,) float64
    track: np.ndarray  # (N,) int64

    def __post_init__(self) -> None:
        n = len(self.video)
        for name in ("frame", "scores", "track"):
            if np.shape(getattr(self, name)) != (n,):
                shape = np.shape(getattr(self, name))
                raise ConfigError(f"Regions.{name} must have shape ({n},), got {shape}")
        if np.shape(self.boxes) != (n, 4):
            raise ConfigError(f"Regions.boxes must have shape ({n}, 4), got {np.shape(self.boxes)}")
        if n and np.min(self.frame) < 0:
            raise ConfigError(f"frame indices must be >= 0, got {int(np.min(self.frame))}")
        _boxes(self.boxes, "Regions.boxes")

    def __len__(self) -> int:
        return len(self.video)

    @classmethod
    def predictions(
        cls, video: ArrayLike, frame: ArrayLike, boxes: ArrayLike, scores: ArrayLike
    ) -> Regions:
        video = np.asarray(video, dtype=str).reshape(-1)
        return cls(
            video=video,
            frame=np.asarray(frame, dtype=np.int64).reshape(-1),
            boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
            scores=np.asarray(scores, dtype=np.float64).reshape(-1),
            track=np.full(video.size, -1, dtype=np.int64),
        )

    @classmethod
    def ground_truth(
        cls, video: ArrayLike, frame: ArrayLike, boxes: ArrayLike, track: ArrayLike
    ) -> Regions:
        video = np.asarray(video, dtype=str).reshape(-1)
        track = np.asarray(track, dtype=np.int64).reshape(-1)
        if track.size and np.min(track) < 0:
            raise ConfigError(f"ground-truth track ids must be >= 0, got {int(np.min(track))}")
        return cls(
            video=video,
            frame=np.asarray(frame, dtype=np.int64).reshape(-1),
            boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
            scores=np.ones(video.size, dtype=np.float64),
            track=track,
        )

    @classmethod
    def from_frames(cls, per_video: Mapping[str, Sequence[ArrayLike]], kind: str) -> Regions:
        """Per video, a list over frames of ``(n, 5)`` arrays: ``[x1, y1, x2, y2, v]``.

        ``v`` is the score (``kind="predictions"``) or the track id (``kind="ground_truth"``).
        Frame ``i`` of the list is frame index ``i``; an empty frame is an empty array.
        """
        if kind not in ("predictions", "ground_truth"):
            raise ConfigError(f'kind must be "predictions" or "ground_truth", got {kind!r}')
        videos, frames, rows = [], [], []
        for video_id, per_frame in per_video.items():
            for index, boxes in enumerate(per_frame):
                array = np.asarray(boxes, dtype=np.float64)
                if array.size == 0:
                    continue
                if array.ndim != 2 or array.shape[1] != 5:
                    raise ConfigError(
                        f"video {video_id!r} frame {index}: expected (n, 5) rows "
                        f"[x1, y1, x2, y2, {'score' if kind == 'predictions' else 'track'}], "
                        f"got shape {array.shape}"
                    )
                rows.append(array)
                videos.append(np.full(len(array), str(video_id)))
                frames.append(np.full(len(array), index, dtype=np.int64))
        table = np.concatenate(rows) if rows else np.zeros((0, 5))
        video = np.concatenate(videos) if videos else np.zeros(0, dtype=str)
        frame = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int64)
        if kind == "predictions":
            return cls.predictions(video, frame, table[:, :4], table[:, 4])
        values = table[:, 4]
        if not np.all(values == np.round(values)):
            raise ConfigError("ground-truth track ids must be integers")
        return cls.ground_truth(video, frame, table[:, :4], values.astype(np.int64))


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class ObjectLevelResult:
    """RBDC/TBDC, their curves, and the per-item scores the curves are made of.

    ``region_scores[g]`` is the highest threshold at which ground-truth region ``g`` is detected
    (-inf: never); ``track_scores`` the same per track; ``false_positive_scores`` the scores of
    the false-positive predictions. The curve arrays start with the point (0, 0) at threshold
    +inf, then one point per distinct prediction score, high to low.
    """

    rbdc: float
    tbdc: float
    thresholds: np.ndarray  # (L + 1,) float64, +inf first
    fpr: np.ndarray  # (L + 1,) false positives per frame
    rbdr: np.ndarray  # (L + 1,)
    tbdr: np.ndarray  # (L + 1,)
    region_scores: np.ndarray  # (G,)
    track_scores: np.ndarray  # (n_tracks,)
    false_positive_scores: np.ndarray  # (F,)
    num_frames: int

    def at(self, threshold: float) -> dict[str, float]:
        """False positives per frame, RBDR and TBDR when predictions ``>= threshold`` count."""
        return {
            "fpr": _count_at_least(self.false_positive_scores, threshold) / self.num_frames,
            "rbdr": _rate(_count_at_least(self.region_scores, threshold), self.region_scores.size),
            "tbdr": _rate(_count_at_least(self.track_scores, threshold), self.track_scores.size),
        }


def object_level_metrics(
    predictions: Regions,
    ground_truth: Regions,
    num_frames: int | Mapping[str, int],
    *,
    beta: float = 0.2,
    track_rule: str = "window",
    window: int = 5,
    min_matches: int = 3,
    alpha: float = 0.1,
    box_convention: str = "pixels",
    max_fpr: float = 1.0,
) -> ObjectLevelResult:
    """RBDC and TBDC of ``predictions`` against ``ground_truth``; see the module docstring.

    ``num_frames`` is the total number of test frames (the FPR denominator), or a mapping
    video -> frame count, which is summed and also checks every region's frame index.
    """
    pixel = _pixel(box_convention)
    total_frames = _total_frames(num_frames, predictions, ground_truth)
    if not 0.0 < beta <= 1.0:
        raise ConfigError(f"beta (IoU threshold) must be in (0, 1], got {beta!r}")
    if not 0.0 < max_fpr:
        raise ConfigError(f"max_fpr must be > 0, got {max_fpr!r}")
    if track_rule not in TRACK_RULES:
        raise ConfigError(f"track_rule must be one of {TRACK_RULES}, got {track_rule!r}")
    if track_rule == "window" and not (_positive_int(window) and _positive_int(min_matches)):
        raise ConfigError(
            f"window and min_matches must be positive integers, got {window!r}, {min_matches!r}"
        )
    if track_rule == "fraction" and not 0.0 < alpha <= 1.0:
        raise ConfigError(f"alpha must be in (0, 1], got {alpha!r}")

    track_index, n_tracks = _track_index(ground_truth)
    if not np.isfinite(predictions.scores).all():
        empty = np.zeros(0)
        return ObjectLevelResult(
            NAN, NAN, empty, empty, empty, empty, empty, empty, empty, total_frames
        )

    pair_p, pair_g = _same_frame_pairs(predictions, ground_truth)
    iou = _iou(predictions.boxes[pair_p], ground_truth.boxes[pair_g], pixel)  # (pairs,)
    match = iou >= beta
    # A prediction matching no region of its frame is a false positive at every threshold at
    # or below its score; a region is detected from the best score of the predictions that
    # match it downwards. Counting per threshold then needs no replay of the predictions.
    matched = np.zeros(len(predictions), dtype=bool)
    matched[pair_p[match]] = True
    false_positive_scores = predictions.scores[~matched]
    region_scores = np.full(len(ground_truth), -np.inf)
    np.maximum.at(region_scores, pair_g[match], predictions.scores[pair_p[match]])

    if track_rule == "window":
        track_scores = _window_track_scores(
            region_scores, ground_truth.frame, track_index, n_tracks, window, min_matches
        )
    else:
        track_scores = _fraction_track_scores(region_scores, track_index, n_tracks, alpha)

    thresholds = np.unique(predictions.scores)[::-1]  # distinct scores, high to low
    fp_counts = _counts_at_least(false_positive_scores, thresholds)
    region_counts = _counts_at_least(region_scores, thresholds)
    track_counts = _counts_at_least(track_scores, thresholds)
    fpr = np.concatenate([[0.0], fp_counts / total_frames])
    rbdr = np.concatenate([[0.0], _rates(region_counts, len(ground_truth))])
    tbdr = np.concatenate([[0.0], _rates(track_counts, n_tracks)])
    return ObjectLevelResult(
        rbdc=_area(fpr, rbdr, max_fpr) if len(ground_truth) else NAN,
        tbdc=_area(fpr, tbdr, max_fpr) if n_tracks else NAN,
        thresholds=np.concatenate([[np.inf], thresholds]),
        fpr=fpr,
        rbdr=rbdr,
        tbdr=tbdr,
        region_scores=region_scores,
        track_scores=track_scores,
        false_positive_scores=false_positive_scores,
        num_frames=total_frames,
    )


def _pixel(box_convention: str) -> bool:
    if box_convention not in BOX_CONVENTIONS:
        raise ConfigError(
            f"box_convention must be one of {BOX_CONVENTIONS}, got {box_convention!r}"
        )
    return box_convention == "pixels"


def _boxes(boxes: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ConfigError(f"{name} must have shape (N, 4) [x1, y1, x2, y2], got {array.shape}")
    if not np.isfinite(array).all():
        raise ConfigError(f"{name} holds non-finite coordinates")
    bad = (array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"{name} row {row} has x2 < x1 or y2 < y1: {array[row].tolist()}")
    return array


def _iou(a: np.ndarray, b: np.ndarray, pixel: bool) -> np.ndarray:
    """IoU over the last axis of broadcastable box arrays ``(..., 4)``."""
    one = 1.0 if pixel else 0.0
    width = np.clip(
        np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + one, 0, None
    )
    height = np.clip(
        np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + one, 0, None
    )
    inter = width * height
    area_a = (a[..., 2] - a[..., 0] + one) * (a[..., 3] - a[..., 1] + one)
    area_b = (b[..., 2] - b[..., 0] + one) * (b[..., 3] - b[..., 1] + one)
    union = area_a + area_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.clip(iou, 0.0, 1.0)  # rounding can push inter/union a hair past 1


def _positive_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _total_frames(
    num_frames: int | Mapping[str, int], predictions: Regions, ground_truth: Regions
) -> int:
    if isinstance(num_frames, Mapping):
        counts = {str(k): int(v) for k, v in num_frames.items()}
        for regions in (predictions, ground_truth):
            if not len(regions):
                continue
            known = np.isin(regions.video, list(counts))
            if not known.all():
                video = regions.video[np.flatnonzero(~known)[0]]
                raise ConfigError(f"video {video!r} has regions but no frame count")
            limit = np.array([counts[v] for v in regions.video], dtype=np.int64)
            beyond = regions.frame >= limit
            if beyond.any():
                i = int(np.flatnonzero(beyond)[0])
                raise ConfigError(
                    f"video {regions.video[i]!r}: region in frame {int(regions.frame[i])} "
                    f"beyond its {int(limit[i])} frames"
                )
        total = sum(counts.values())
    else:
        total = num_frames
    if not _positive_int(total):
        raise ConfigError(f"the number of test frames must be a positive integer, got {total!r}")
    return int(total)


def _frame_keys(predictions: Regions, ground_truth: Regions) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per (video, frame), shared by predictions and ground truth."""
    _, codes = np.unique(
        np.concatenate([predictions.video, ground_truth.video]), return_inverse=True
    )
    frames = np.concatenate([predictions.frame, ground_truth.frame])
    stride = int(frames.max()) + 1 if frames.size else 1
    keys = codes.astype(np.int64) * stride + frames
    return keys[: len(predictions)], keys[len(predictions) :]


def _same_frame_pairs(predictions: Regions, ground_truth: Regions) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (prediction, region) of every prediction with every region of its frame."""
    pred_keys, gt_keys = _frame_keys(predictions, ground_truth)
    order = np.argsort(gt_keys, kind="stable")
    sorted_keys = gt_keys[order]
    first = np.searchsorted(sorted_keys, pred_keys, side="left")
    count = np.searchsorted(sorted_keys, pred_keys, side="right") - first
    pair_p = np.repeat(np.arange(len(predictions)), count)
    # Position of each pair inside its prediction's run of regions: 0, 1, ..., count - 1.
    starts = np.repeat(np.cumsum(count) - count, count)
    within = np.arange(pair_p.size) - starts
    pair_g = order[np.repeat(first, count) + within]
    return pair_p, pair_g


def _track_index(ground_truth: Regions) -> tuple[np.ndarray, int]:
    """Index of each region's track (track id within its video), and the number of tracks."""
    if not len(ground_truth):
        return np.zeros(0, dtype=np.int64), 0
    _, video_codes = np.unique(ground_truth.video, return_inverse=True)
    pairs = np.stack([video_codes.astype(np.int64), ground_truth.track], axis=1)
    tracks, index = np.unique(pairs, axis=0, return_inverse=True)
    index = index.reshape(-1)
    per_frame = np.stack([index, ground_truth.frame], axis=1)
    unique_rows, counts = np.unique(per_frame, axis=0, return_counts=True)
    if (counts > 1).any():
        track, frame = unique_rows[np.flatnonzero(counts > 1)[0]]
        row = int(np.flatnonzero((index == track) & (ground_truth.frame == frame))[0])
        raise ConfigError(
            f"video {ground_truth.video[row]!r}: track {int(ground_truth.track[row])} has "
            f"{int(counts.max())} regions in frame {int(frame)}; a track has one region per frame"
        )
    return index, len(tracks)


def _window_track_scores(
    region_scores: np.ndarray,
    frames: np.ndarray,
    track_index: np.ndarray,
    n_tracks: int,
    window: int,
    min_matches: int,
) -> np.ndarray:
    """Highest threshold at which each track has its needed matches inside one k-frame window."""
    if n_tracks == 0:
        return np.zeros(0)
    order = np.lexsort((frames, track_index))  # by track, then frame
    track, frame, score = track_index[order], frames[order], region_scores[order]
    n = track.size
    # Window starting at each region's frame: it holds the next regions of the same track whose
    # frame is < start + k. Frames are unique within a track, so at most k regions, all among
    # the k sorted successors (a window need only start at a region: sliding it to its first
    # region loses none).
    successor = np.arange(n)[:, None] + np.arange(window)[None, :]  # (n, k)
    clipped = np.minimum(successor, n - 1)
    inside = (
        (successor < n)
        & (track[clipped] == track[:, None])
        & (frame[clipped] - frame[:, None] < window)
    )
    window_scores = np.where(inside, score[clipped], -np.inf)  # (n, k)
    window_scores = -np.sort(-window_scores, axis=1)  # descending
    fullest = np.zeros(n_tracks, dtype=np.int64)
    np.maximum.at(fullest, track, inside.sum(axis=1))
    need = np.minimum(min_matches, fullest)[track]  # (n,), >= 1
    # The window holds >= need detected regions exactly while t <= its need-th best score.
    window_best = window_scores[np.arange(n), need - 1]
    track_scores = np.full(n_tracks, -np.inf)
    np.maximum.at(track_scores, track, window_best)
    return track_scores


def _fraction_track_scores(
    region_scores: np.ndarray, track_index: np.ndarray, n_tracks: int, alpha: float
) -> np.ndarray:
    """Highest threshold at which ``detected / n >= alpha`` for each track (Street Scene)."""
    if n_tracks == 0:
        return np.zeros(0)
    sizes = np.bincount(track_index, minlength=n_tracks)
    # Smallest r with r / n >= alpha, by the same float comparison as the reference script
    # (ceil(alpha * n) alone is off by one where alpha * n rounds up: 0.07 * 100 = 7.000...01).
    need = np.ceil(alpha * sizes).astype(np.int64)
    need = np.where((need - 1) / sizes >= alpha, need - 1, need)
    need = np.where(need / sizes < alpha, need + 1, need)
    need = np.clip(need, 1, sizes)
    order = np.lexsort((-region_scores, track_index))  # by track, best region first
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return region_scores[order][first + need - 1]


def _count_at_least(scores: np.ndarray, threshold: float) -> int:
    return int(np.count_nonzero(scores >= threshold))


def _counts_at_least(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    ascending = np.sort(scores)
    return ascending.size - np.searchsorted(ascending, thresholds, side="left")


def _rate(count: int, total: int) -> float:
    return count / total if total else NAN


def _rates(counts: np.ndarray, total: int) -> np.ndarray:
    if total == 0:
        return np.full(counts.shape, NAN)
    return counts / total


def _area(fpr: np.ndarray, rate: np.ndarray, max_fpr: float) -> float:
    """Trapezoidal area under ``rate`` for ``fpr`` in [0, max_fpr] (cut or extended at the end)."""
    inside = int(np.searchsorted(fpr, max_fpr, side="right"))  # fpr is non-decreasing
    x, y = fpr[:inside], rate[:inside]
    if inside < fpr.size:
        x0, x1, y0, y1 = fpr[inside - 1], fpr[inside], rate[inside - 1], rate[inside]
        end = y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0)
    else:
        end = y[-1]
    x = np.append(x, max_fpr)
    y = np.append(y, end)
    return float(np.trapezoid(y, x))
