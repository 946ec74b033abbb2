"""The detector and the pooling as one module: FPN maps, detections, pooled RoIAlign features.

It follows torchvision's ``GeneralizedRCNN.forward`` (transform → backbone → RPN → RoI heads →
postprocess) but keeps the FPN maps, so that the boxes the tracker keeps are pooled from the
very maps the detector saw them in, without a second backbone pass.
"""

from __future__ import annotations

import torch
from torch import nn


class ObjectModel(nn.Module):
    def __init__(self, detector: nn.Module, pooling: nn.Module, dim: int):
        super().__init__()
        self.detector = detector     # a torchvision FasterRCNN
        self.pooling = pooling
        self.dim = dim               # D of a pooled object feature

    def feature_maps(self, images: torch.Tensor):
        """FPN maps of ``images`` (N, 3, H, W) in [0, 1], and torchvision's ImageList (resized sizes)."""
        image_list, _ = self.detector.transform(list(images))   # normalise, resize to min_size, pad
        return self.detector.backbone(image_list.tensors), image_list

    def detect(self, features, image_list, input_size: tuple[int, int]) -> list[dict[str, torch.Tensor]]:
        """Detections per image: ``boxes`` (K, 4) x1 y1 x2 y2 in input pixels, ``scores``, ``labels``."""
        proposals, _ = self.detector.rpn(image_list, features)
        detections, _ = self.detector.roi_heads(features, proposals, image_list.image_sizes)
        return self.detector.transform.postprocess(detections, image_list.image_sizes,
                                                   [tuple(input_size)] * len(image_list.image_sizes))

    def object_features(self, features, image_list, boxes: list[torch.Tensor],
                        input_size: tuple[int, int]) -> torch.Tensor:
        """Pooled RoIAlign features ``(sum K_i, D)`` of ``boxes[i]`` (K_i, 4) in image i's input pixels."""
        height, width = input_size
        scaled = []
        for (h, w), b in zip(image_list.image_sizes, boxes, strict=True):   # input -> resized pixels
            scale = b.new_tensor([w / width, h / height, w / width, h / height])
            scaled.append(b * scale)
        if sum(len(b) for b in scaled) == 0:        # no box: (0, D), D from the pooling itself
            return self.pooling(next(iter(features.values())).new_zeros(1, self.channels, 7, 7))[:0]
        windows = self.detector.roi_heads.box_roi_pool(features, scaled, image_list.image_sizes)  # (K, C, 7, 7)
        return self.pooling(windows)                                                           # (K, D)

    @property
    def channels(self) -> int:
        return int(self.detector.backbone.out_channels)
