"""Our S3R port against numbers produced by the official code (louisYen/S3R).

The fixture tests/fixtures/s3r_golden.npz stores a seed, the official state_dict's spec and
per-tensor checksums, and the official outputs (tests/fixtures/official/make_s3r.py; the official
S3R at feature size 512, 5 crops). Here the same state_dict, dictionary and inputs are rebuilt
from the seed (tests/fixtures/official/seeded.py), loaded into our model through
`load_official(state_dict, dictionary=...)`, and compared in fp32 on CPU:

- eval: `score(video (crops, T, F))` against the official inference.py path, T = 37 and 100, plus
  the crop-averaged magnitudes and macro score;
- train (train mode, every dropout 0): the five loss terms and the total against the official
  `do_train` step, plus scores, magnitudes, macro scores, top-k picks and scores, gradient norms;
- the same step with the official dropout 0.7 after the same `torch.manual_seed` (equal CPU masks
  only if the port draws them in the official order and shapes);
- the dictionary's life: required by `load_official`, carried by our state_dict at any size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsvad.methods.components.magnitude_top_k import select_top_k

from wsvad.errors import CheckpointError
from wsvad.methods import Batch, create

import seeded  # noqa: E402  (tests/fixtures/official, via conftest.py)

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "s3r_golden.npz"
ATOL = 1e-5
TERMS = ("cls", "magnitude", "sparsity", "smooth", "macro")

pytestmark = pytest.mark.slow  # rebuilds ~6 M seeded parameters, runs two 512-channel MTNs on CPU


@pytest.fixture(scope="module")
def golden():
    return seeded.load_golden(FIXTURE, "README_s3r.md")


@pytest.fixture(scope="module")
def official_state(golden):
    g = golden
    assert int(g["generator_version"]) == seeded.GENERATOR_VERSION, (
        f"fixture made with seeded.py generator version {int(g['generator_version'])}, "
        f"seeded.py is version {seeded.GENERATOR_VERSION}: regenerate the fixture")
    spec = seeded.stored_spec(g)
    template = seeded.stored_int_buffers(g)
    return seeded.seeded_state_dict(spec, int(g["seed"]), template=template)


@pytest.fixture(scope="module")
def inputs(golden):
    g = golden
    seed, f, c, t, b = (int(g[k]) for k in ("seed", "features", "crops", "segments", "batch"))
    out = {f"eval_video_{i}": seeded.seeded_input(seed, f"eval_video_{i}", (int(n), c, f))
           for i, n in enumerate(g["eval_t"])}
    out["train_normal"] = seeded.seeded_input(seed, "train_normal", (b, c, t, f))
    out["train_abnormal"] = seeded.seeded_input(seed, "train_abnormal", (b, c, t, f))
    scale = np.float32(g["dict_scale"])
    out["dictionary"] = (scale * seeded.seeded_input(seed, "dictionary", (int(g["slots"]), f), kind="normal")
                         ).astype(np.float32)
    return out


def _model(golden, official_state, inputs, dropout: float = 0.0):
    m = create("s3r", int(golden["features"]), {"dropout": dropout})
    m.load_official(official_state, dictionary=inputs["dictionary"])
    return m


@pytest.fixture(scope="module")
def model(golden, official_state, inputs):
    return _model(golden, official_state, inputs)


def _close(got, want, what: str, atol: float = ATOL, rtol: float | None = None) -> None:
    """max |got - want| <= atol, and with `rtol` also <= rtol·max|want| (for terms much smaller than atol)."""
    got = got.detach().double().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs official {want.shape}"
    d = float(np.max(np.abs(got - want)))
    assert d <= atol, f"{what}: max |ours - official| = {d:.3g} > {atol:g} (ours {got}, official {want})"
    if rtol is not None:
        bound = rtol * float(np.max(np.abs(want)))
        assert d <= bound, f"{what}: max |ours - official| = {d:.3g} > {rtol:g} relative (ours {got}, official {want})"


def _batch(inputs, n: int):
    x = torch.cat([torch.from_numpy(inputs["train_normal"]), torch.from_numpy(inputs["train_abnormal"])])
    labels = torch.cat([torch.zeros(n), torch.ones(n)])
    return Batch(features=x, labels=labels, n_normal=n, n_abnormal=n, class_ids=labels.long(),
                 synthetic=torch.zeros(2 * n, dtype=torch.bool), lengths=torch.full((2 * n,), x.shape[2], dtype=torch.long))


def _grad_norms_close(m, golden, prefix: str) -> None:
    """Every parameter's gradient norm against the official one (official names mapped by convert_official)."""
    params = dict(m.named_parameters())
    official = [str(k) for k in golden[f"{prefix}_grad_names"]]
    index = {k: i for k, i in m.convert_official({n: i for i, n in enumerate(official)}).items()
             if k.split(".")[0] not in m.official_ignored_keys}                 # our name → official row
    assert set(index) == set(params), "parameter names differ from the official model's (after convert_official)"
    names = sorted(index)
    got = np.array([float(params[k].grad.double().norm()) for k in names])
    want = golden[f"{prefix}_grad_norms"][[index[k] for k in names]]
    # Three gradients are 0 in exact arithmetic (the biases before the non-local's train-mode BatchNorm,
    # and the key bias under en-Normal's softmax): their ~1e-6 fp32 noise is compared absolutely
    # (1e-4 of a floor of 1e-2), every other one to a relative 1e-4.
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-2)
    worst = int(np.argmax(rel))
    assert rel[worst] <= 1e-4, f"{prefix}: gradient norm of {names[worst]}: ours {got[worst]:.8g} vs official {want[worst]:.8g}"


def test_seeded_state_dict_matches_fixture_checksums(golden, official_state):
    names = [str(n) for n in golden["sd_names"]]
    seeded.check_checksums(official_state, names, golden["sd_sums"], golden["sd_heads"], what="state_dict tensor")


def test_seeded_inputs_match_fixture_checksums(golden, inputs):
    names = [str(n) for n in golden["input_names"]]
    seeded.check_checksums(inputs, names, golden["input_sums"], golden["input_heads"], what="input")


@pytest.mark.parametrize("i", [0, 1])
def test_eval_scores_match_official_test_path(golden, inputs, model, i):
    video = torch.from_numpy(inputs[f"eval_video_{i}"]).permute(1, 0, 2)   # loader (T, crops, F) → (crops, T, F)
    model.eval()
    _close(model.score(video), golden[f"eval_{i}_scores"], f"eval video {i} (T={video.shape[1]}) scores")
    with torch.no_grad():
        out = model(video[None])
    _close(out.extras["magnitudes"][0], golden[f"eval_{i}_magnitudes"], f"eval video {i} feature magnitudes",
           atol=1e-5 * 10)  # magnitudes are ~20; measured 4e-6
    _close(out.extras["macro_scores"], golden[f"eval_{i}_macro"], f"eval video {i} macro score")


@pytest.fixture(scope="module")
def train_step(golden, inputs, official_state):
    m = _model(golden, official_state, inputs)
    m.train()
    n = int(golden["batch"])
    batch = _batch(inputs, n)
    out = m(batch.features)
    total, parts = m.loss(out, batch)
    total.backward()
    return m, out, total, parts, n


@pytest.mark.parametrize("term", TERMS)
def test_train_loss_terms_match_official(golden, train_step, term):
    _, _, _, parts, _ = train_step
    _close(parts[term], golden[f"train_{term}"], f"train loss term {term!r}", rtol=1e-4)


def test_train_total_loss_matches_official(golden, train_step):
    _, _, total, parts, _ = train_step
    assert set(parts) == set(TERMS)
    _close(total, golden["train_total"], "train total loss", rtol=1e-5)


def test_train_forward_and_top_k_match_official(golden, train_step):
    m, out, _, _, n = train_step
    _close(out.scores, golden["train_scores"], "train-mode crop-averaged scores")
    _close(out.extras["magnitudes"], golden["train_magnitudes"], "train-mode feature magnitudes", atol=1e-5 * 10)
    _close(out.extras["macro_scores"], golden["train_macro_scores"], "train-mode macro scores")
    with torch.no_grad():
        idx_abn = select_top_k(out.extras["magnitudes"][n:], m.config.k, m.drop_out)
        idx_nor = select_top_k(out.extras["magnitudes"][:n], m.config.k, m.drop_out)
    assert np.array_equal(idx_abn.numpy(), golden["train_topk_idx_abnormal"]), "abnormal top-k snippets differ"
    assert np.array_equal(idx_nor.numpy(), golden["train_topk_idx_normal"]), "normal top-k snippets differ"
    _close(out.scores[n:].gather(1, idx_abn).mean(1), golden["train_topk_score_abnormal"], "abnormal top-k scores")
    _close(out.scores[:n].gather(1, idx_nor).mean(1), golden["train_topk_score_normal"], "normal top-k scores")


def test_train_gradients_match_official(golden, train_step):
    m, _, _, _, _ = train_step
    _grad_norms_close(m, golden, "train")


def test_train_step_with_official_dropout_matches_official(golden, inputs, official_state):
    """Dropout 0.7 after the same torch seed: the CPU masks come out equal only if the port draws
    them in the official order and shapes (embeddings, classifiers, abnormal then normal selection)."""
    m = _model(golden, official_state, inputs, dropout=float(golden["dropout"]))
    m.train()
    n = int(golden["batch"])
    batch = _batch(inputs, n)
    torch.manual_seed(int(golden["dropout_torch_seed"]))
    out = m(batch.features)
    total, parts = m.loss(out, batch)
    _close(out.scores, golden["dropout_scores"], "dropout step: scores")
    _close(out.extras["macro_scores"], golden["dropout_macro_scores"], "dropout step: macro scores")
    for term in TERMS:
        _close(parts[term], golden[f"dropout_{term}"], f"dropout step: loss term {term!r}", rtol=1e-4)
    _close(total, golden["dropout_total"], "dropout step: total loss", rtol=1e-5)
    total.backward()
    _grad_norms_close(m, golden, "dropout")


def test_load_official_needs_the_dictionary(golden, official_state):
    m = create("s3r", int(golden["features"]))
    with pytest.raises(CheckpointError, match="dictionary"):
        m.load_official(official_state)


def test_dictionary_travels_in_our_state_dict(golden, model, inputs):
    """Our checkpoints carry the dictionary; a fresh model takes any S from them and scores the same."""
    fresh = create("s3r", int(golden["features"]))
    assert fresh.dictionary.shape == (0, int(golden["features"]))
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.dictionary, torch.from_numpy(inputs["dictionary"]))
    video = torch.from_numpy(inputs["eval_video_0"]).permute(1, 0, 2)
    model.eval()
    fresh.eval()
    assert torch.equal(fresh.score(video), model.score(video))
