"""``clip:<open_clip model>[:<pretrained tag | local checkpoint | random>]`` via open_clip.

The feature is the image tower's output (``encode_image`` without normalisation: what
VadCLIP, CLIP-TSA and GV-VAD store), after open_clip's own preprocessing mean/std.

Weights, checked on the driver before anything runs:
- a pretrained tag (``openai``, ``laion2b_s34b_b88k`` ...): must be in the local cache or
  downloadable; offline and uncached it is an error that says how to supply a file;
- a local checkpoint (``.pt``/``.bin``/``.safetensors``): must exist, and be visible at the same
  path on every node of a cluster. OpenAI weights loaded from a file need the ``-quickgelu``
  model name (``clip:ViT-B-16-quickgelu:/path/ViT-B-16.pt``), as open_clip documents;
- ``random``: an untrained tower, seeded (``torch.manual_seed(0)``) so every worker builds the
  same one — for tests, never chosen silently;
- nothing after the model: its ``openai`` weights if it has them, else its first tag.
"""

from __future__ import annotations

import difflib
import os

from extraction.backbones.base import BackboneInfo, is_path_like, sha256_file
from extraction.errors import ExtractionError, WeightsUnavailable

RANDOM = "random"
INIT_SEED = 0


def describe(argument: str | None) -> BackboneInfo:
    import open_clip

    if not argument:
        raise ExtractionError("clip needs a model: clip:<open_clip model>[:<tag|checkpoint path|random>], "
                              "e.g. clip:ViT-B-16:openai")
    model, _, weights = argument.partition(":")
    if model not in open_clip.list_models():
        near = difflib.get_close_matches(model, open_clip.list_models(), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else " (see open_clip.list_models())"
        raise ExtractionError(f"clip:{argument}: unknown open_clip model {model!r}{hint}")
    tags = open_clip.list_pretrained_tags_by_model(model)
    if not weights:
        if not tags:
            raise ExtractionError(f"clip:{model} has no pretrained tag: give a checkpoint path "
                                  f"(clip:{model}:/path/model.safetensors) or clip:{model}:random")
        weights = "openai" if "openai" in tags else tags[0]

    config = open_clip.get_model_config(model)
    size = config["vision_cfg"].get("image_size", 224)
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    common = dict(family="clip", dim=int(config["embed_dim"]), input_size=size, frames_per_input=1)
    if weights == RANDOM:
        return BackboneInfo(spec=f"clip:{model}:{RANDOM}", weights=RANDOM, weights_sha256=None,
                            options={"model": model, "init_seed": INIT_SEED}, **common)
    if is_path_like(weights):
        path = os.path.abspath(os.path.expanduser(weights))
        if not os.path.isfile(path):
            raise WeightsUnavailable(f"clip:{argument}: checkpoint {path} not found (give an existing "
                                     f".pt/.bin/.safetensors file, or a pretrained tag: {', '.join(tags) or 'none'})")
        return BackboneInfo(spec=f"clip:{model}:{path}", weights=path, weights_sha256=sha256_file(path),
                            weights_file=path, options={"model": model}, **common)
    if weights not in tags:
        raise ExtractionError(f"clip:{argument}: {model} has no pretrained tag {weights!r} "
                              f"(known: {', '.join(tags) or 'none'}; or give a checkpoint path, or 'random')")
    path = _cached_or_download(model, weights)
    return BackboneInfo(spec=f"clip:{model}:{weights}", weights=weights, weights_sha256=sha256_file(path),
                        weights_file=path, options={"model": model}, **common)


def _cached_or_download(model: str, tag: str) -> str:
    from open_clip import pretrained

    try:
        path = pretrained.download_pretrained(pretrained.get_pretrained_cfg(model, tag))
    except Exception as error:  # huggingface_hub / urllib raise many types when offline
        path, why = "", " ".join(str(error).split())[:200]
    else:
        why = "the download returned nothing"
    if not path or not os.path.isfile(path):
        raise WeightsUnavailable(
            f"clip:{model}:{tag}: the weights are not in the local cache and cannot be downloaded here ({why}). "
            f"Supply them as a local file: clip:{model}:/path/to/checkpoint.safetensors (download it where there is "
            f"network, e.g. from the Hugging Face hub), or use clip:{model}:random for an untrained model (tests only)")
    return path


def build(info: BackboneInfo):
    import logging

    import open_clip
    import torch

    model_name = info.options["model"]
    if info.weights == RANDOM:
        torch.manual_seed(info.options.get("init_seed", INIT_SEED))
        logging.disable(logging.WARNING)  # open_clip warns that the model is random: it was asked for
        try:
            model = open_clip.create_model(model_name, pretrained=None)
        finally:
            logging.disable(logging.NOTSET)
    else:
        source = info.weights_file if info.weights_file and os.path.isfile(info.weights_file) else info.weights
        model = open_clip.create_model(model_name, pretrained=source)
    cfg = model.visual.preprocess_cfg
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)

    class ImageTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = model.visual          # the text tower is dropped with `model`
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x):                   # (N, 3, H, W) in [0, 1]
            return self.visual((x - self.mean) / self.std)  # (N, D)

    return ImageTower()
