"""`wsvad calibrate`: an operating threshold from normal videos' scores, stored in the checkpoint.

`wsvad score` and `wsvad watch` then alarm at it by default. The threshold comes with the
false-alarm rate it implies: observed on the normal frames it was fitted on, expected under the
method's model (EVT tail, nominal percentile), and observed on the test split's normal videos.
"""

from __future__ import annotations

import math

import numpy as np

from wsvad.errors import ConfigError


def run(args) -> int:
    from wsvad.features import load_feature_set
    from wsvad.thresholds import calibrate, false_alarm_rate
    from wsvad.train import load_checkpoint, model_from_checkpoint, save_checkpoint
    from wsvad.train.scoring import score_videos

    payload = load_checkpoint(args.model)
    fs = load_feature_set(args.features)
    if payload.get("feature_set_hash") and payload["feature_set_hash"] != fs.hash:
        raise ConfigError(f"{args.model} was trained on feature set {payload['feature_set_hash'][:12]}, "
                          f"--features is {fs.hash[:12]}: its scores there would not calibrate this model")
    model = model_from_checkpoint(payload)
    normal = fs.select(args.split, label=0)
    if normal.size == 0:
        raise ConfigError(f"the feature set has no normal videos in split {args.split!r}"
                          + (" (carve a val split, or pass --split train)" if args.split == "val" else ""))

    def frame_scores(videos: np.ndarray) -> np.ndarray:
        return np.repeat(np.concatenate(score_videos(model, fs, videos)), args.frames_per_snippet)

    scores = frame_scores(normal)
    try:
        origin = None if args.evt_origin == "tail" else float(args.evt_origin)
    except ValueError:
        raise ConfigError(f"--evt-origin must be a number or 'tail', got {args.evt_origin!r}") from None
    result = calibrate(scores, args.method, far=args.far, threshold=args.threshold, tail_quantile=args.tail_quantile,
                       origin=origin)
    test_normal = fs.select("test", label=0)
    test_far = false_alarm_rate(frame_scores(test_normal), result.threshold) if test_normal.size else math.nan
    extra = dict(payload.get("extra", {}))
    extra.update({"threshold": result.threshold, "threshold_method": result.method,
                  "threshold_far": result.far_expected if math.isfinite(result.far_expected) else result.far_observed,
                  "threshold_far_observed": result.far_observed, "threshold_far_test_normal": test_far,
                  "threshold_split": args.split, "threshold_normal_frames": int(scores.size)})
    save_checkpoint(args.out, model=model, feature_set_hash=payload.get("feature_set_hash", ""),
                    dataset=payload.get("dataset", ""), metrics=payload.get("metrics"), extra=extra,
                    feature_set_provenance=payload.get("feature_set_provenance"))
    expected = f"{result.far_expected:.3g}" if math.isfinite(result.far_expected) else "n/a"
    print(f"{payload['method']}: {result.method} threshold {result.threshold:.6g} from {scores.size} normal frames of "
          f"{normal.size} {args.split} videos; false-alarm rate there {result.far_observed:.3g} (expected {expected}), "
          f"on the test split's normal videos {test_far:.3g}; wrote {args.out}")
    return 0
