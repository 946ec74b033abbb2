"""``objects:<detector>:<weights file | random>``: a torchvision Faster R-CNN with an FPN.

One forward pass gives both what is tracked and what is pooled: the detector's boxes, and the
FPN feature maps that RoIAlign reads each tracked box from (the detector's own
``MultiScaleRoIAlign``: 7×7 windows, sampling ratio 2, the FPN level chosen by box size).

Detectors (torchvision, BSD-3-Clause code; the COCO weights are torchvision's):

=========================================  =========  ==============================================
name                                       input      FPN levels RoIAlign reads (stride)
=========================================  =========  ==============================================
``fasterrcnn_mobilenet_v3_large_fpn``      800 px     two, both stride 32 — fast, coarse for small objects
``fasterrcnn_mobilenet_v3_large_320_fpn``  320 px     the same at 320 px
``fasterrcnn_resnet50_fpn``                800 px     P2–P5 (strides 4–32)
``fasterrcnn_resnet50_fpn_v2``             800 px     P2–P5 (strides 4–32)
=========================================  =========  ==============================================

"input" is the short side frames are decoded at (the detector's ``min_size``; ``--input-size``
changes it). Every FPN has 256 channels, so D = 256 (``gap``, ``attention``) or 512 (``hybrid``).

Weights, checked on the driver before anything is decoded:
- a local file: torchvision's COCO checkpoint for that detector (a plain ``state_dict``), or a
  training checkpoint of torchvision's detection references (``{"model": state_dict, ...}``);
  the class count is read from it, so a detector fine-tuned on other classes loads too. Entries
  named ``pooling.*`` are the attention pooling's weights (see :mod:`extraction.objects.pooling`).
  It is loaded once here (a wrong file fails now, in one line) and checksummed;
- ``random``: an untrained detector, seeded (``torch.manual_seed(0)``) so that every worker builds
  the same one. Its boxes mean nothing, so it is for tests, with ``--proposals blobs``; never chosen
  silently.
- nothing: an error that says how to supply the file (nothing is downloaded).

Batch norms: torchvision freezes them only when it loads weights itself; built without weights
they are ordinary ``BatchNorm2d`` that run in eval mode on the checkpoint's statistics — the same
arithmetic. Their ``num_batches_tracked`` counters are absent from COCO checkpoints, the one
difference the loader tolerates.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from extraction.backbones.base import sha256_file
from extraction.errors import ExtractionError, WeightsUnavailable
from extraction.objects.pooling import POOLINGS, pooled_dim

# name -> torchvision's default (min_size, max_size) of the detector's resize
DETECTORS: dict[str, tuple[int, int]] = {
    "fasterrcnn_mobilenet_v3_large_fpn": (800, 1333),
    "fasterrcnn_mobilenet_v3_large_320_fpn": (320, 640),
    "fasterrcnn_resnet50_fpn": (800, 1333),
    "fasterrcnn_resnet50_fpn_v2": (800, 1333),
}
FPN_CHANNELS = 256
RANDOM = "random"
INIT_SEED = 0
POOLING_PREFIX = "pooling."
CLASS_WEIGHT = "roi_heads.box_predictor.cls_score.weight"
COCO_CLASSES = 91          # torchvision's COCO head: 90 category ids + background


@dataclass(frozen=True)
class DetectorInfo:
    spec: str                    # normalised: "objects:<detector>:<weights path | random>"
    detector: str
    weights: str                 # absolute checkpoint path, or "random"
    weights_sha256: str | None   # of the checkpoint (None: seeded random init)
    num_classes: int             # of the detector's head, background included
    pooling: str                 # gap | attention | hybrid
    dim: int                     # D of an object feature
    input_size: int              # short side of the frames the detector sees
    max_size: int                # long-side cap of the detector's resize
    min_score: float             # detections below it are not given to the tracker
    pooling_weights: str         # "checkpoint", "none (gap)", or the seeded-init note
    weights_file: str | None = None
    channels: int = FPN_CHANNELS
    init_seed: int = INIT_SEED

    def provenance(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("weights_file")
        out["categories"] = categories(self)
        return out


def split_spec(spec: str) -> tuple[str, str | None]:
    """``[objects:]<detector>[:<weights>]`` -> (detector, weights or None)."""
    text = str(spec).strip().removeprefix("objects:")
    name, sep, weights = text.partition(":")
    if name not in DETECTORS:
        raise ExtractionError(f"unknown detector {name!r} in {spec!r}: expected one of {', '.join(DETECTORS)} "
                              "(e.g. objects:fasterrcnn_mobilenet_v3_large_fpn:/models/frcnn_mobilenet.pth)")
    return name, (weights if sep and weights else None)


def describe(spec: str, pooling: str = "gap", input_size: int | None = None, min_score: float = 0.1) -> DetectorInfo:
    """What ``spec`` is; finds, loads and checksums its weights (fails before any decoding)."""
    name, weights = split_spec(spec)
    if pooling not in POOLINGS:
        raise ExtractionError(f"--pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    default_min, default_max = DETECTORS[name]
    size = default_min if input_size is None else int(input_size)
    if size < 32:
        raise ExtractionError(f"--input-size must be at least 32 pixels, got {size}")
    if not 0 <= min_score < 1:
        raise ExtractionError(f"--min-score must be in [0, 1), got {min_score}")
    common = dict(detector=name, pooling=pooling, dim=pooled_dim(pooling, FPN_CHANNELS), input_size=size,
                  max_size=round(size * default_max / default_min), min_score=float(min_score))
    untrained = f"seeded random init (torch.manual_seed({INIT_SEED})): untrained, meaningful only once trained"
    if weights is None:
        raise WeightsUnavailable(
            f"objects:{name} needs a weights file, which is not downloaded: give objects:{name}:/path/to/"
            f"{_checkpoint_name(name)} (torchvision's COCO checkpoint, fetched where there is network; its URL is "
            f"torchvision.models.get_model_weights('{name}').DEFAULT.url), a checkpoint trained with torchvision's "
            f"detection references, or objects:{name}:random (untrained, tests only)")
    if weights == RANDOM:
        return DetectorInfo(spec=f"objects:{name}:{RANDOM}", weights=RANDOM, weights_sha256=None,
                            num_classes=COCO_CLASSES, pooling_weights=untrained if pooling != "gap" else "none (gap)",
                            **common)
    path = os.path.abspath(os.path.expanduser(weights))
    if not os.path.isfile(path):
        raise WeightsUnavailable(f"objects:{name}: weights file {path} not found (give torchvision's COCO checkpoint "
                                 f"{_checkpoint_name(name)} or a references training checkpoint as a local file, "
                                 f"or objects:{name}:random for tests)")
    detector_state, pooling_state = read_checkpoint(path, name)
    num_classes = int(detector_state[CLASS_WEIGHT].shape[0])
    info = DetectorInfo(spec=f"objects:{name}:{path}", weights=path, weights_sha256=sha256_file(path),
                        weights_file=path, num_classes=num_classes,
                        pooling_weights=("none (gap)" if pooling == "gap" else
                                         "checkpoint" if pooling_state else untrained), **common)
    build(info, checkpoint=(detector_state, pooling_state))   # a file that does not fit fails here, in one line
    return info


def categories(info: DetectorInfo) -> list[str] | None:
    """Category names by id (torchvision's COCO list, 'N/A' for unused ids) for a COCO head."""
    if info.num_classes != COCO_CLASSES:
        return None
    import torchvision

    return list(torchvision.models.get_model_weights(info.detector).DEFAULT.meta["categories"])


def read_checkpoint(path: str, name: str) -> tuple[dict, dict]:
    """(detector state_dict, pooling state_dict) of a checkpoint file, or a one-line error."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        why = " ".join(str(error).split())[:160]
        raise ExtractionError(f"objects:{name}: {path} is not a loadable torch checkpoint ({type(error).__name__}: "
                              f"{why})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]                  # torchvision detection references: {"model": ..., "optimizer": ...}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExtractionError(f"objects:{name}: {path} holds no state_dict (a mapping of names to tensors)")
    if CLASS_WEIGHT not in state:
        raise ExtractionError(f"objects:{name}: {path} is not a Faster R-CNN checkpoint (no {CLASS_WEIGHT})")
    pooling = {k[len(POOLING_PREFIX):]: v for k, v in state.items() if k.startswith(POOLING_PREFIX)}
    detector = {k: v for k, v in state.items() if not k.startswith(POOLING_PREFIX)}
    return detector, pooling


def build(info: DetectorInfo, checkpoint: tuple[dict, dict] | None = None):
    """The ready-to-run :class:`ObjectModel` of ``info`` (seeded; weights loaded from its file)."""
    import torch
    import torchvision

    from extraction.objects.model import ObjectModel
    from extraction.objects.pooling import build_pooling

    torch.manual_seed(info.init_seed)
    detector = torchvision.models.get_model(
        info.detector, weights=None, weights_backbone=None, num_classes=info.num_classes,
        min_size=info.input_size, max_size=info.max_size, box_score_thresh=info.min_score)
    pooling = build_pooling(info.pooling, info.channels)
    if info.weights != RANDOM:
        detector_state, pooling_state = checkpoint or read_checkpoint(info.weights_file or info.weights, info.detector)
        _load(detector, detector_state, f"objects:{info.detector}: {info.weights}", tolerate="num_batches_tracked")
        if info.pooling_weights == "checkpoint":
            _load(pooling, pooling_state, f"objects:{info.detector}: the pooling.* entries of {info.weights}")
    return ObjectModel(detector, pooling, info.dim).eval()


def _load(module, state: dict, where: str, tolerate: str | None = None) -> None:
    """Load ``state`` into ``module``: every entry must fit (names ending in ``tolerate`` may be absent)."""
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shapes differ
        raise ExtractionError(f"{where} does not fit this model: {' '.join(str(error).split())[:200]}") from None
    missing = [k for k in result.missing_keys if not (tolerate and k.endswith(tolerate))]
    if missing or result.unexpected_keys:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first {missing[0]})")
        if result.unexpected_keys:
            parts.append(f"{len(result.unexpected_keys)} unexpected (first {result.unexpected_keys[0]})")
        raise ExtractionError(f"{where} does not fit this model: entries {', '.join(parts)}")


def _checkpoint_name(name: str) -> str:
    try:
        import torchvision

        return torchvision.models.get_model_weights(name).DEFAULT.url.rsplit("/", 1)[-1]
    except Exception:  # an unknown enum in some torchvision version: the name is only a hint
        return f"{name}.pth"
