"""What every backbone is: a description (driver side) and a runner (actor side)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class BackboneInfo:
    spec: str                      # normalised spec, e.g. "clip:ViT-B-16:openai"
    family: str
    dim: int                       # feature dimension D
    input_size: int                # square crop side the backbone takes
    frames_per_input: int | None   # 1: image backbone; None: every frame of a snippet; k: k frames
    weights: str                   # "imagenet", a pretrained tag, a checkpoint path, or "random"
    weights_sha256: str | None     # of the weights file (None: seeded random init)
    weights_file: str | None = None  # local file to load (workers fall back to the tag if absent)
    options: dict = field(default_factory=dict)  # family-specific (model name, inner backbone ...)

    def provenance(self) -> dict:
        out = asdict(self)
        out.pop("weights_file")
        return out


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Backbone:
    """Runs a family's module on uint8 pixels: ``embed((N, F, H, W, 3)) -> (N, D)`` float32.

    The module takes float images in [0, 1] — ``(N, 3, H, W)`` for image backbones,
    ``(N, F, 3, H, W)`` for clip backbones — and applies its own normalisation.
    """

    def __init__(self, info: BackboneInfo, module, device: str = "cpu", precision: str = "fp32"):
        import torch

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.info = info
        self.device = torch.device(device)
        self.precision = precision
        self.module = module.to(self.device).eval()

    def embed(self, pixels):
        import torch

        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with torch.inference_mode():
            x = torch.as_tensor(pixels).to(self.device, non_blocking=True)
            x = x.permute(0, 1, 4, 2, 3).float().div_(255)     # (N, F, 3, H, W)
            if self.info.frames_per_input == 1:
                x = x[:, 0]                                    # (N, 3, H, W)
            with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
                y = self.module(x)                             # (N, D)
            return y.float().cpu()


def is_path_like(text: str) -> bool:
    return "/" in text or text.endswith((".pt", ".pth", ".bin", ".safetensors", ".ckpt")) or Path(text).exists()
