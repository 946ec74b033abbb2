"""One video → its (crops, T, D) features in this process, made exactly as a feature set was.

`wsvad score VIDEO` needs the features its model was trained on: the same backbone and
weights (checked by checksum), the same snippet length and frame offsets, the same resize,
crops and decoder. Those are the training feature set's provenance (manifest.json
``provenance``, carried inside every checkpoint), so this module rebuilds the extraction's two
stages from it (:mod:`extraction.stages`: one implementation for the Ray job and for this)
and runs them in a plain loop — a few videos do not need a cluster.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from extraction import backbones
from extraction.errors import ExtractionError
from extraction.stages import DecodeSpec, EmbedSnippets, decode_video

# What a feature set's provenance must hold for its extraction to be repeated.
REQUIRED = ("backbone", "frames_per_snippet", "snippet_frame_offsets", "resize_short_side", "input_size", "crops",
            "decoder")


@dataclass
class VideoFeatures:
    path: Path
    features: np.ndarray   # (crops, T, D) float32
    num_frames: int
    fps: float
    note: str              # why decoding stopped early ("" if it did not)


def plan_from_provenance(provenance: dict, backbone: str | None = None, decoder: str | None = None):
    """(DecodeSpec, BackboneInfo) that repeat the extraction described by ``provenance``.

    ``backbone`` replaces the recorded spec (the weights live at another path on this machine);
    the weights must still be the very same file: a different checksum is refused.
    """
    missing = [k for k in REQUIRED if provenance.get(k) in (None, "", [])]
    if missing:
        made_by = provenance.get("extractor") or "an importer or a generator"
        raise ExtractionError(
            f"the model's training features were made by {made_by}, not by `wsvad extract` (their provenance "
            f"lacks {', '.join(missing)}), so this command cannot turn a raw video into the same features; "
            "extract them the same way and score them with --features FILE.npy")
    info = backbones.describe(backbone or provenance["backbone"])
    want = provenance.get("weights_sha256")
    if want != info.weights_sha256:
        raise ExtractionError(
            f"backbone weights differ from the model's training features: {info.spec} has sha256 "
            f"{str(info.weights_sha256)[:12]}, the features were made with {str(want)[:12]} "
            f"({provenance.get('weights')}); pass --backbone with the same weights file")
    if int(provenance.get("dim", info.dim)) != info.dim:
        raise ExtractionError(f"backbone {info.spec} gives {info.dim}-d features, the model's are {provenance['dim']}-d")
    decode = DecodeSpec(decoder=decoder or provenance["decoder"], frames_per_snippet=int(provenance["frames_per_snippet"]),
                        positions=tuple(int(p) for p in provenance["snippet_frame_offsets"]),
                        short_side=int(provenance["resize_short_side"]), input_size=int(provenance["input_size"]),
                        crops=int(provenance["crops"]))
    return decode, info


class VideoEmbedder:
    """Decode → embed, one video at a time, the backbone loaded once."""

    def __init__(self, decode: DecodeSpec, info, batch_size: int = 32, precision: str = "fp32",
                 threads: int = 1, device: str = "cpu"):
        self.decode = decode
        self.batch_size = batch_size
        self.embed = EmbedSnippets(dataclasses.asdict(info), decode.crops, precision=precision, threads=threads,
                                   use_gpu=device.startswith("cuda"))

    def __call__(self, path) -> VideoFeatures:
        path = Path(path)
        chunks: list[np.ndarray] = []
        last = None
        for rows in decode_video(str(path), path.stem, self.decode):
            if int(rows["snippet"][0]) < 0:
                raise ExtractionError(f"{path}: cannot be scored: {rows['note'][0]}")
            for start in range(0, len(rows["snippet"]), self.batch_size):
                part = {k: v[start:start + self.batch_size] for k, v in rows.items()}
                chunks.append(self.embed(part)["features"])      # (n, crops, D)
            last = rows
        features = np.concatenate(chunks).transpose(1, 0, 2)      # (crops, T, D)
        return VideoFeatures(path, np.ascontiguousarray(features, np.float32), int(last["num_frames"][-1]),
                             float(last["fps"][-1]), str(last["note"][-1]))
