"""Our VadCLIP port against numbers produced by the official code (nwpu-zxr/VadCLIP).

The fixture tests/fixtures/vadclip_golden.npz (tests/fixtures/official/make_vadclip.py) stores a seed,
the official state_dict's spec (CLIP included, with one text block and a tiny vision tower) and
checksums, and the official outputs. The same state_dict and inputs are rebuilt here
(seeded.py + seeded_vadclip.py), loaded through `load_official` (which also copies the official
`clipmodel.*` text weights into our frozen open_clip tower, truncated to one block), and compared
in fp32 on CPU:

- eval: `score(video)` against the official ucf_test.test() for T = 100, 256 (its extra all-zero
  window) and 300 (two windows);
- train: CLAS2, CLASM, the text-divergence term and the total of one official ucf_train.train()
  step, logits1, logits2, the class text features, and every parameter's gradient norm;
- the CLIP token ids of the class prompts (open_clip's tokenizer vs the official clip.tokenize).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsvad.methods import Batch, create
from wsvad.segments import pool_video

import seeded  # noqa: E402  (tests/fixtures/official, via conftest.py)
import seeded_vadclip  # noqa: E402  (tests/fixtures/official, via conftest.py)

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "vadclip_golden.npz"
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden():
    return seeded.load_golden(FIXTURE, "README_vadclip.md")


@pytest.fixture(scope="module")
def official_state(golden):
    g = golden
    assert int(g["generator_version"]) == seeded.GENERATOR_VERSION, "seeded.py changed: regenerate the fixture"
    assert int(g["rescale_version"]) == seeded_vadclip.RESCALE_VERSION, "seeded_vadclip.py changed: regenerate"
    spec = seeded.stored_spec(g)
    names = [name for name, _, _ in spec]
    state = seeded_vadclip.rescale(seeded.seeded_state_dict(spec, int(g["seed"])))
    seeded.check_checksums(state, names, g["sd_sums"], g["sd_heads"], what="state_dict tensor")
    return state


@pytest.fixture(scope="module")
def inputs(golden):
    g = golden
    seed, width, length = int(g["seed"]), int(g["width"]), int(g["length"])
    out = {f"eval_video_{i}": seeded_vadclip.video_features(seed, f"eval_video_{i}", int(t), int(t), width)
           for i, t in enumerate(g["eval_t"])}
    out.update({f"train_video_{i}": seeded_vadclip.video_features(seed, f"train_video_{i}", int(t), length, width)
                for i, t in enumerate(g["train_lengths"])})
    out["pool_video"] = seeded_vadclip.video_features(seed, "pool_video", 300, 300, width)
    seeded.check_checksums(out, [str(n) for n in g["input_names"]], g["input_sums"], g["input_heads"], what="input")
    return out


@pytest.fixture(scope="module")
def model(golden, official_state):
    classes = [str(c) for c in golden["class_names"]]
    m = create("vadclip", int(golden["width"]), {"text_layers": int(golden["text_layers"])}, class_names=classes)
    m.load_official(official_state)
    return m


def _close(got, want, what: str, atol: float = ATOL, rtol: float | None = None) -> float:
    got = got.detach().double().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs official {want.shape}"
    d = float(np.max(np.abs(got - want)))
    assert d <= atol, f"{what}: max |ours - official| = {d:.3g} > {atol:g}"
    if rtol is not None:
        assert d <= rtol * float(np.max(np.abs(want))), f"{what}: max |ours - official| = {d:.3g} > {rtol:g} relative"
    return d


def test_config_defaults_are_the_official_hyperparameters():
    cfg = create("vadclip", 16).config
    assert (cfg.lr, cfg.batch_size, cfg.segments, cfg.max_epochs, cfg.max_steps) == (2e-5, 64, 256, 10, 0)
    assert (cfg.layers, cfg.heads, cfg.window, cfg.prompt_prefix, cfg.prompt_postfix) == (2, 1, 8, 10, 10)
    assert (cfg.milestones, cfg.lr_gamma, cfg.text_weight) == ((4, 8), 0.1, 0.1)


def test_frozen_clip_text_tower_stays_out_of_the_state_dict(model):
    assert not any(k.startswith(("clip", "clipmodel")) for k in model.state_dict())
    assert all(not p.requires_grad for p in model.clip_text.parameters())
    assert not set(map(id, model.clip_text.parameters())) & set(map(id, model.parameters()))


def test_prompt_tokens_match_official_clip_tokenize(golden, model):
    assert np.array_equal(model.prompt_tokens.numpy(), golden["prompt_tokens"])


@pytest.mark.parametrize("i", [0, 1, 2])
def test_eval_scores_match_official_test_path(golden, inputs, model, i):
    model.eval()
    video = torch.from_numpy(inputs[f"eval_video_{i}"])[None]                   # (1 crop, T, D)
    _close(model.score(video), golden[f"eval_{i}_scores"], f"eval video {i} (T={video.shape[1]})")


@pytest.fixture(scope="module")
def train_step(golden, inputs, model):
    model.train()
    model.zero_grad(set_to_none=True)
    x = torch.from_numpy(np.stack([inputs[f"train_video_{i}"] for i in range(len(golden["train_lengths"]))]))[:, None]
    classes = [str(c) for c in golden["class_names"]]
    class_ids = torch.tensor([classes.index(str(c)) for c in golden["train_classes"]])
    n = int((class_ids == 0).sum())
    batch = Batch(features=x, labels=(class_ids > 0).float(), n_normal=n, n_abnormal=len(class_ids) - n,
                  class_ids=class_ids, synthetic=torch.zeros(len(class_ids), dtype=torch.bool),
                  lengths=torch.from_numpy(golden["train_lengths"]))
    out = model(batch.features)
    total, parts = model.loss(out, batch)
    total.backward()
    return out, total, parts


@pytest.mark.parametrize("term", ["clas2", "clasm", "text_divergence"])
def test_train_loss_terms_match_official(golden, train_step, term):
    _close(train_step[2][term], golden[f"train_{term}"], f"train loss term {term!r}", rtol=1e-5)


def test_train_total_logits_and_text_features_match_official(golden, train_step):
    out, total, _ = train_step
    _close(total, golden["train_total"], "train total loss", rtol=1e-5)
    _close(out.extras["logits1"], golden["train_logits1"], "logits1")
    _close(out.extras["logits2"], golden["train_logits2"], "logits2", atol=1e-4)   # cos / 0.07: ×14
    _close(out.extras["text_features"], golden["train_text_features"], "class text features")
    assert out.extras["lengths"].tolist() == golden["train_lengths"].tolist()  # inferred from the zero padding


def test_train_gradients_match_official(golden, model, train_step):
    params = dict(model.named_parameters())
    names = [str(n) for n in golden["train_grad_names"]]
    assert set(names) == set(params), "parameter names differ from the official model's trained ones"
    got = np.array([float(params[k].grad.double().norm()) for k in names])
    want = golden["train_grad_norms"]
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-3)
    worst = int(np.argmax(rel))
    assert rel[worst] <= 1e-4, f"gradient norm of {names[worst]}: ours {got[worst]:.8g} vs official {want[worst]:.8g}"


def test_training_pooling_of_long_videos_matches_official_process_feat(golden, inputs):
    pooled, n = pool_video(inputs["pool_video"][None], int(golden["length"]), "pad_sample")
    assert n == int(golden["pool_length"])
    np.testing.assert_allclose(pooled[0].astype(np.float64).sum(1), golden["pool_row_sums"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(pooled[0, :, :4], golden["pool_head"], rtol=0, atol=1e-6)


def test_official_pooling_of_long_videos_is_linspace_mean(golden, inputs):
    """What `pad_sample` should do for T > S (the official uniform_extract): linspace_mean."""
    pooled, _ = pool_video(inputs["pool_video"][None], int(golden["length"]), "linspace_mean")
    np.testing.assert_allclose(pooled[0].astype(np.float64).sum(1), golden["pool_row_sums"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(pooled[0, :, :4], golden["pool_head"], rtol=0, atol=1e-6)
