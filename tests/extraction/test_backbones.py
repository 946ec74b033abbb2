"""The backbone registry: specs, real EfficientNet-Lite0 weights, seeded CLIP, clear weight errors."""

import hashlib

import numpy as np
import pytest
import torch

from extraction import backbones
from extraction.errors import ExtractionError, WeightsUnavailable
from extraction.sampling import cut_crops, resized_shape


def pixels(n=2, frames=1, size=224, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, frames, size, size, 3), dtype=np.uint8)


def test_effnet_lite0_has_the_real_imagenet_weights(opencv_videos):
    import av

    info = backbones.describe("effnet-lite0")
    assert (info.dim, info.input_size, info.frames_per_input) == (1280, 224, 1)
    assert info.weights_sha256 == hashlib.sha256(open(info.weights_file, "rb").read()).hexdigest()
    backbone = backbones.load(info)
    with av.open(str(opencv_videos["baboon.jpg"])) as container:
        image = next(container.decode(video=0))
        h, w = resized_shape(image.height, image.width, 224)
        frame = image.to_ndarray(format="rgb24", width=w, height=h)
    x = cut_crops(frame, 224, 1)[None]                          # (1, 1, 224, 224, 3): one centre crop
    features = backbone.embed(x)                                # (1, 1280), pooled
    assert features.shape == (1, 1280)
    with torch.no_grad():
        logits = backbone.module.net._fc(features)
    assert int(logits.argmax()) == 372                          # ImageNet class 372: baboon


def test_clip_random_is_seeded_and_a_saved_checkpoint_loads_by_path(tmp_path):
    info = backbones.describe("clip:ViT-S-32:random")
    assert (info.spec, info.dim, info.weights, info.weights_sha256) == ("clip:ViT-S-32:random", 384, "random", None)
    a, b = backbones.load(info), backbones.load(info)
    x = pixels()
    first = a.embed(x)
    assert first.shape == (2, 384)
    torch.testing.assert_close(first, b.embed(x), rtol=0, atol=0)     # every worker builds the same tower

    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-S-32", pretrained=None)
    checkpoint = tmp_path / "vit_s32.pt"
    torch.save(model.state_dict(), checkpoint)
    from_file = backbones.describe(f"clip:ViT-S-32:{checkpoint}")
    assert from_file.weights_file == str(checkpoint) and from_file.weights_sha256 is not None
    torch.testing.assert_close(backbones.load(from_file).embed(x), first)


@pytest.mark.parametrize(("spec", "error", "message"), [
    ("clip:ViT-B-16:openai", WeightsUnavailable, r"not in the local cache .* clip:ViT-B-16:/path/to/checkpoint"),
    ("clip:ViT-B-16", WeightsUnavailable, r"clip:ViT-B-16:openai: the weights"),
    ("clip:ViT-B-16:/nowhere/model.safetensors", WeightsUnavailable, r"checkpoint /nowhere/model.safetensors not"),
    ("clip:ViT-B-16:laion9000", ExtractionError, r"no pretrained tag 'laion9000' \(known: openai"),
    ("clip:VIT-B-16:random", ExtractionError, r"unknown open_clip model 'VIT-B-16' \(did you mean ViT-B-16"),
    ("clip", ExtractionError, r"clip needs a model"),
    ("i3d:/w.pt", ExtractionError, r"unknown backbone 'i3d:/w.pt': the family must be one of clip, effnet-lite0"),
    ("effnet-lite0:random", ExtractionError, r"effnet-lite0 takes no argument"),
    ("snippet-mean:snippet-mean:effnet-lite0", ExtractionError, r"is not an image backbone"),
])
def test_bad_specs_and_missing_weights_say_what_to_do(spec, error, message):
    with pytest.raises(error, match=message):
        backbones.describe(spec)


def test_snippet_mean_averages_the_image_backbone_over_each_snippet():
    info = backbones.describe("snippet-mean:effnet-lite0")
    assert info.frames_per_input is None and info.spec == "snippet-mean:effnet-lite0" and info.dim == 1280
    clip_backbone = backbones.load(info)
    image_backbone = backbones.load(backbones.describe("effnet-lite0"))
    x = pixels(n=2, frames=4, seed=1)                               # (N, F, H, W, 3)
    expected = image_backbone.embed(x.reshape(8, 1, 224, 224, 3)).reshape(2, 4, -1).mean(1)
    torch.testing.assert_close(clip_backbone.embed(x), expected, rtol=1e-4, atol=1e-5)


def test_registry_lists_families_and_refuses_duplicates():
    assert backbones.list_backbones() == ["clip", "effnet-lite0", "snippet-mean"]
    with pytest.raises(ValueError, match="already registered"):
        backbones.register_family("clip", "somewhere.else")


def test_bf16_precision_runs_and_stays_close():
    info = backbones.describe("effnet-lite0")
    x = pixels(n=2)
    full = backbones.load(info).embed(x)
    half = backbones.load(info, precision="bf16").embed(x)
    assert half.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(full, half).min() > 0.98
