"""The detector spec and weights, RoIAlign on hand-made FPN maps, and the three poolings."""

import hashlib
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torchvision.models.detection.image_list import ImageList

from extraction.errors import ExtractionError, WeightsUnavailable
from extraction.objects import detector as detectors
from extraction.objects.pooling import AttentionPool, build_pooling, pooled_dim

DETECTOR = "fasterrcnn_mobilenet_v3_large_fpn"
C = 256


def fpn_maps(values: torch.Tensor) -> OrderedDict:
    """Hand-made maps shaped like the mobilenet FPN's: levels '0' and '1' at stride 32, 'pool' at 64."""
    return OrderedDict([("0", values), ("1", values.clone()), ("pool", values[..., ::2, ::2].clone())])


@pytest.fixture(scope="module")
def random_model():
    return detectors.build(detectors.describe(f"objects:{DETECTOR}:random", pooling="hybrid", input_size=64))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, random_model):
    path = tmp_path_factory.mktemp("weights") / "frcnn.pth"
    torch.save(random_model.detector.state_dict(), path)
    return path


def test_roi_align_then_gap_of_a_constant_map_is_the_constant(random_model):
    image_list = ImageList(torch.zeros(1, 3, 256, 320), [(256, 320)])
    features = fpn_maps(torch.full((1, C, 8, 10), 2.5))
    boxes = [torch.tensor([[10.0, 20.0, 90.0, 100.0], [0.0, 0.0, 159.0, 127.0]])]
    pooled = random_model.object_features(features, image_list, boxes, input_size=(128, 160))    # (2, 512)
    assert pooled.shape == (2, 2 * C)
    torch.testing.assert_close(pooled[:, :C], torch.full((2, C), 2.5))          # hybrid = [gap, attention]


def test_boxes_are_read_where_they_are_after_the_detector_resize(random_model):
    # Decoded frames are 128x160; the detector resized them to 256x320 (stride-32 maps: 8x10 cells).
    # Cells 0-4 hold 1, cells 5-9 hold 3: a box on the left of the *decoded* frame pools 1, on the right 3.
    values = torch.ones(1, C, 8, 10)
    values[..., 5:] = 3.0
    image_list = ImageList(torch.zeros(1, 3, 256, 320), [(256, 320)])
    boxes = [torch.tensor([[8.0, 16.0, 48.0, 112.0], [96.0, 16.0, 150.0, 112.0]])]
    pooled = random_model.object_features(fpn_maps(values), image_list, boxes, input_size=(128, 160))
    torch.testing.assert_close(pooled[:, :C], torch.tensor([[1.0], [3.0]]).expand(2, C))


def test_no_box_gives_an_empty_batch_of_the_right_width(random_model):
    image_list = ImageList(torch.zeros(2, 3, 64, 64), [(64, 64), (64, 64)])
    pooled = random_model.object_features(fpn_maps(torch.ones(2, C, 2, 2)), image_list,
                                          [torch.zeros(0, 4), torch.zeros(0, 4)], input_size=(64, 64))
    assert pooled.shape == (0, 2 * C)


def test_attention_over_identical_cells_is_their_value_projection():
    torch.manual_seed(0)
    pool = AttentionPool(C).eval()
    cell = torch.randn(C)
    x = cell.view(1, C, 1, 1).expand(3, C, 7, 7)                              # (K, C, 7, 7), all cells equal
    attention = pool.attention
    value = cell @ attention.in_proj_weight[2 * C:].T + attention.in_proj_bias[2 * C:]
    expected = value @ attention.out_proj.weight.T + attention.out_proj.bias   # softmax weights sum to one
    with torch.no_grad():
        torch.testing.assert_close(pool(x), expected.expand(3, C), rtol=1e-4, atol=1e-5)
        # and it does attend: one distinct cell changes the result
        y = x.clone()
        y[:, :, 3, 3] = -cell.view(1, C)
        assert not torch.allclose(pool(y), pool(x), atol=1e-3)


@pytest.mark.parametrize(("kind", "dim"), [("gap", C), ("attention", C), ("hybrid", 2 * C)])
def test_pooling_dims(kind, dim):
    assert pooled_dim(kind, C) == dim
    with torch.no_grad():
        assert build_pooling(kind, C).eval()(torch.randn(4, C, 7, 7)).shape == (4, dim)


def test_random_detector_is_seeded_and_a_saved_checkpoint_loads_by_path(random_model, checkpoint):
    info = detectors.describe(f"objects:{DETECTOR}:random", pooling="hybrid", input_size=64)
    assert (info.spec, info.weights_sha256, info.dim, info.num_classes) == (f"objects:{DETECTOR}:random", None, 512, 91)
    assert "untrained" in info.pooling_weights
    again = detectors.build(info)
    for a, b in zip(random_model.state_dict().values(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)                  # every worker builds the same model

    from_file = detectors.describe(f"{DETECTOR}:{checkpoint}", pooling="gap", input_size=64)
    assert from_file.spec == f"objects:{DETECTOR}:{checkpoint}" and from_file.weights_file == str(checkpoint)
    assert from_file.weights_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert from_file.pooling_weights == "none (gap)" and from_file.dim == C
    loaded = detectors.build(from_file)
    images = torch.rand(1, 3, 64, 80)
    with torch.inference_mode():
        a, _ = loaded.feature_maps(images)
        b, _ = random_model.feature_maps(images)
    torch.testing.assert_close(a["0"], b["0"])


def test_attention_weights_come_from_the_checkpoint_when_it_has_them(random_model, tmp_path):
    torch.manual_seed(7)
    trained = build_pooling("attention", C)
    state = {**random_model.detector.state_dict(), **{f"pooling.{k}": v for k, v in trained.state_dict().items()}}
    path = tmp_path / "with_pooling.pth"
    torch.save({"model": state, "epoch": 3}, path)                 # a torchvision references training checkpoint
    info = detectors.describe(f"objects:{DETECTOR}:{path}", pooling="attention", input_size=64)
    assert info.pooling_weights == "checkpoint"
    torch.testing.assert_close(detectors.build(info).pooling.query, trained.query)


def test_the_detector_path_gives_boxes_in_input_pixels():
    # A random head scores every class near 1/91: with min_score 0 its boxes come through, and
    # they must be in the pixels of the frames given (not of the detector's resized input).
    info = detectors.describe(f"objects:{DETECTOR}:random", input_size=64, min_score=0.0)
    model = detectors.build(info)
    with torch.inference_mode():
        features, image_list = model.feature_maps(torch.rand(2, 3, 48, 80))
        found = model.detect(features, image_list, (48, 80))
    assert len(found) == 2 and len(found[0]["boxes"]) > 0
    boxes = torch.cat([d["boxes"] for d in found])
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 80).all() and (boxes[:, 3] <= 48).all()
    assert image_list.image_sizes[0] == (64, 106)            # the detector resized 48 -> 64 on the short side
    assert set(found[0]) == {"boxes", "scores", "labels"}


@pytest.mark.parametrize(("spec", "error", "message"), [
    (f"objects:{DETECTOR}", WeightsUnavailable,
     (rf"objects:{DETECTOR} needs a weights file, which is not downloaded: give objects:{DETECTOR}:/path/to/"
      r"fasterrcnn_mobilenet_v3_large_fpn-\w+\.pth .* or objects:\w+:random \(untrained, tests only\)")),
    (f"{DETECTOR}:/nowhere/w.pth", WeightsUnavailable, r"weights file /nowhere/w.pth not found"),
    ("objects:yolov8:/w.pt", ExtractionError, r"unknown detector 'yolov8' .* expected one of fasterrcnn_mobilenet"),
])
def test_bad_specs_and_missing_weights_say_what_to_do(spec, error, message):
    with pytest.raises(error, match=message):
        detectors.describe(spec)


def test_files_that_are_not_this_detector_fail_in_one_line(random_model, tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ExtractionError, match="is not a loadable torch checkpoint"):
        detectors.describe(f"objects:{DETECTOR}:{text}")
    state = dict(random_model.detector.state_dict())
    state.pop("rpn.head.conv.0.0.weight")
    partial = tmp_path / "partial.pth"
    torch.save(state, partial)
    with pytest.raises(ExtractionError, match=r"does not fit this model: entries 1 missing \(first rpn.head.conv"):
        detectors.describe(f"objects:{DETECTOR}:{partial}")
    other = tmp_path / "other.pth"
    torch.save({"backbone.weight": torch.zeros(1)}, other)
    with pytest.raises(ExtractionError, match="is not a Faster R-CNN checkpoint"):
        detectors.describe(f"objects:{DETECTOR}:{other}")
    with pytest.raises(ExtractionError, match="--pooling must be one of gap, attention, hybrid"):
        detectors.describe(f"objects:{DETECTOR}:random", pooling="max")


def test_categories_are_torchvisions_coco_names():
    names = detectors.categories(detectors.describe(f"objects:{DETECTOR}:random"))
    assert len(names) == 91 and names[1] == "person" and names[3] == "car"
    assert np.asarray(names).dtype.kind == "U"
