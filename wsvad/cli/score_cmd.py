"""`wsvad score --features`: one video's features → snippet_scores.csv and frame_scores.csv."""

from pathlib import Path

import numpy as np
import torch

from wsvad.errors import FeatureSetError
from wsvad.train import load_checkpoint, model_from_checkpoint


def load_video_features(path, layout: str = "crops-last") -> np.ndarray:
    """(T, D) or (T, crops, D) [(crops, T, D) with crops-first] → (crops, T, D) float32."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise FeatureSetError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise FeatureSetError(f"{path}: expected a real numeric array, got dtype {getattr(array, 'dtype', type(array))}")
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3:
        array = array if layout == "crops-first" else array.transpose(1, 0, 2)
    else:
        raise FeatureSetError(f"{path}: expected (T, D) or (T, crops, D), got shape {array.shape}")
    if array.shape[1] == 0:
        raise FeatureSetError(f"{path}: the video has no snippets")
    if not np.isfinite(array).all():
        raise FeatureSetError(f"{path}: features contain NaN or Inf")
    return np.ascontiguousarray(array, np.float32)


def run(args) -> int:
    payload = load_checkpoint(args.model)
    model = model_from_checkpoint(payload)
    video = load_video_features(args.features, args.layout)
    if video.shape[2] != model.feature_dim:
        raise FeatureSetError(f"{args.features}: feature dim {video.shape[2]} but the model expects {model.feature_dim}")
    with torch.no_grad():
        scores = model.score(torch.from_numpy(video)).float().numpy()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "snippet_scores.csv", "snippet", scores)
    write_csv(out / "frame_scores.csv", "frame", np.repeat(scores, args.frames_per_snippet))
    print(f"{payload['method']}: {scores.size} snippets, max score {scores.max():.4f} at snippet {int(scores.argmax())}; "
          f"wrote {out}/snippet_scores.csv and frame_scores.csv")
    return 0


def write_csv(path: Path, index_name: str, scores: np.ndarray) -> None:
    rows = np.column_stack([np.arange(scores.size), scores])
    np.savetxt(path, rows, delimiter=",", header=f"{index_name},score", comments="", fmt=["%d", "%.7g"])
