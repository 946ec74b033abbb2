"""`wsvad score`: raw videos (or one video's features) → per-frame scores, CSV and a timeline PNG.

With VIDEO arguments the model's own checkpoint says how its training features were made
(backbone, weights checksum, snippet sampling, crops); the video goes through the same two
extraction stages in this process, then through the model's official test path. A backbone
whose weights differ from the training features' is refused rather than silently scored.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np

from wsvad.errors import ConfigError, FeatureSetError


def load_video_features(path, layout: str = "crops-last") -> np.ndarray:
    """(T, D) or (T, crops, D) [(crops, T, D) with crops-first] → (crops, T, D) float32."""
    path = Path(path)
    try:
        # Memory-mapped first: a header that promises more than the file holds fails here instead
        # of allocating it; never unpickles (allow_pickle=False).
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # EOFError (empty), ValueError (bad header, pickled), OSError, MemoryError ...
        why = (str(exc).splitlines() or [type(exc).__name__])[0][:200] or type(exc).__name__
        raise FeatureSetError(f"{path}: not a readable .npy array ({why})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise FeatureSetError(f"{path}: expected a real numeric array, got dtype {getattr(array, 'dtype', type(array))}")
    if array.ndim not in (2, 3) or 0 in array.shape:
        raise FeatureSetError(f"{path}: expected (T, D) or (T, crops, D) with no empty axis, got shape {array.shape}")
    array = array[None] if array.ndim == 2 else (array if layout == "crops-first" else array.transpose(1, 0, 2))
    array = np.array(array, dtype=np.float32, order="C", copy=True)  # off the memory map, writable
    if not np.isfinite(array).all():  # checked after the cast: float64 beyond float32's range becomes inf
        raise FeatureSetError(f"{path}: features contain NaN or Inf (as float32)")
    return array


def resolve_model(model: str, tracking_uri: str, scratch: Path) -> Path:
    """A checkpoint path, or the wsvad checkpoint inside a registered model (models:/NAME@ALIAS)."""
    if model.startswith("models:/"):
        from sweeps.registry import fetch_checkpoint
        from sweeps.tracking import default_tracking_uri

        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
        return fetch_checkpoint(model, uri, scratch)
    return Path(model)


def run(args) -> int:
    import torch

    from wsvad.train import load_checkpoint, model_from_checkpoint

    if bool(args.videos) == bool(args.features):
        raise ConfigError("give VIDEO files to score, or --features FILE.npy, not both and not neither")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="wsvad-score-") as scratch:
        payload = load_checkpoint(resolve_model(args.model, args.tracking_uri, Path(scratch)))
    model = model_from_checkpoint(payload)
    threshold = args.threshold if args.threshold is not None else float(payload.get("extra", {}).get("threshold", 0.5))
    out.mkdir(parents=True, exist_ok=True)
    if args.features:
        video = load_video_features(args.features, args.layout)
        _check_dim(args.features, video, model)
        scores = _score(model, video)
        frames = np.repeat(scores, args.frames_per_snippet)
        write_csv(out / "snippet_scores.csv", "snippet", scores)
        write_csv(out / "frame_scores.csv", "frame", frames)
        _timeline(out / "timeline.png", frames, threshold, None, None, Path(args.features).stem)
        print(f"{payload['method']}: {scores.size} snippets, max score {scores.max():.4f} at snippet "
              f"{int(scores.argmax())}; wrote {out}/snippet_scores.csv, frame_scores.csv and timeline.png")
        return 0
    return _score_videos(args, payload, model, threshold, out)


def _score_videos(args, payload: dict, model, threshold: float, out: Path) -> int:
    from extraction.embed_video import VideoEmbedder, plan_from_provenance
    from wsvad.annotations import load_annotations, video_id_from_name

    missing = [v for v in args.videos if not Path(v).is_file()]
    if missing:
        raise ConfigError(f"no such video file: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    truth = load_annotations(args.annotations, args.annotation_format) if args.annotations else {}
    decode, info = plan_from_provenance(payload.get("feature_set_provenance", {}), args.backbone, args.decoder)
    embedder = VideoEmbedder(decode, info, batch_size=args.batch_size, threads=args.threads)
    print(f"scoring {len(args.videos)} video(s) with {payload['method']} (trained on {payload.get('dataset') or '-'} "
          f"features {str(payload.get('feature_set_hash'))[:12]}): backbone {info.spec}, {decode.crops} crop(s), "
          f"{decode.frames_per_snippet}-frame snippets, threshold {threshold:g}", flush=True)
    summary = []
    names: set[str] = set()
    for path in args.videos:
        video = embedder(path)
        _check_dim(path, video.features, model)
        scores = _score(model, video.features)
        frames = _frame_scores(scores, decode.frames_per_snippet, video.num_frames)
        video_id = video_id_from_name(str(path))
        name = _unique(video_id, names)
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(folder / "snippet_scores.csv", "snippet", scores)
        write_csv(folder / "frame_scores.csv", "frame", frames)
        _timeline(folder / "timeline.png", frames, threshold, truth.get(video_id), video.fps, video_id)
        alarms = float((frames >= threshold).mean())
        summary.append({"video": str(path), "video_id": video_id, "folder": name, "snippets": scores.size,
                        "frames": frames.size, "fps": round(video.fps, 3), "max_score": float(scores.max()),
                        "peak_frame": int(frames.argmax()), "alarm_fraction": round(alarms, 6), "note": video.note})
        print(f"  {video_id}: {scores.size} snippets / {frames.size} frames, max score {scores.max():.4f} at frame "
              f"{int(frames.argmax())} ({frames.argmax() / max(video.fps, 1e-9):.1f} s), {alarms:.1%} of frames over "
              f"the threshold → {folder}/", flush=True)
    with open(out / "scores.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    print(f"wrote {out}/scores.csv and, per video, frame_scores.csv, snippet_scores.csv and timeline.png")
    return 0


def _check_dim(where, video: np.ndarray, model) -> None:
    if video.shape[2] != model.feature_dim:
        raise FeatureSetError(f"{where}: feature dim {video.shape[2]} but the model expects {model.feature_dim}")


def _score(model, video: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model.score(torch.from_numpy(video)).float().numpy()


def _frame_scores(scores: np.ndarray, frames_per_snippet: int, num_frames: int) -> np.ndarray:
    """Each snippet's score over its frames, then to the video's real length: the frames after the
    last whole snippet take its score (the protocol's gt_length="frames" convention)."""
    frames = np.repeat(scores, frames_per_snippet)
    if num_frames > frames.size:
        frames = np.concatenate([frames, np.full(num_frames - frames.size, scores[-1], frames.dtype)])
    return frames[:num_frames] if num_frames > 0 else frames


def _unique(name: str, taken: set[str]) -> str:
    import re

    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "video"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _timeline(path: Path, frames: np.ndarray, threshold: float, intervals, fps, title: str) -> None:
    from wsvad.plots import score_timeline

    score_timeline(frames, path, threshold=threshold, intervals=intervals, fps=fps, title=title)


def write_csv(path: Path, index_name: str, scores: np.ndarray) -> None:
    rows = np.column_stack([np.arange(scores.size), scores])
    np.savetxt(path, rows, delimiter=",", header=f"{index_name},score", comments="", fmt=["%d", "%.7g"])
