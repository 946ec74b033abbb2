"""Our BN-WVAD port against numbers produced by the official code (cool-xuan/BN-WVAD).

The fixture tests/fixtures/bnwvad_golden.npz stores a seed, the official state_dict's spec and
per-tensor checksums, and the official outputs (tests/fixtures/official/make_bnwvad.py,
README_bnwvad.md). Here the same state_dict and inputs are rebuilt from the seed, loaded into our
model through `load_official`, and compared in fp32 on CPU:

- eval: `score(video (crops, T, D))` against the official test.py path (the crops as one batch of
  separate samples, Σ Mahalanobis distances × normal score, then the crop mean), T = 1, 37, 100;
- train (BatchNorm on batch statistics): the normal loss, the MPP loss of each BN stage and the
  total against the official train.py step, the normal half's scores, the selected pairs (count and
  distances, i.e. selection and pairing order), the running stats after the step, and every
  parameter's gradient norm before and after the official clip_grad_norm_(…, 1.).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsvad.methods import Batch, create
from wsvad.methods.bnwvad import mahalanobis

import seeded  # noqa: E402  (tests/fixtures/official, via conftest.py)
import seeded_urdmu  # noqa: E402  (tests/fixtures/official, via conftest.py)

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "bnwvad_golden.npz"
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden():
    return seeded.load_golden(FIXTURE, "README_bnwvad.md")


@pytest.fixture(scope="module")
def official_state(golden):
    g = golden
    assert int(g["generator_version"]) == seeded.GENERATOR_VERSION, "seeded.py changed: regenerate the fixture"
    assert int(g["recipe_version"]) == seeded_urdmu.RECIPE_VERSION, "seeded_urdmu.py changed: regenerate the fixture"
    spec = seeded.stored_spec(g)
    template = seeded.stored_int_buffers(g)
    return seeded_urdmu.seeded_urdmu_state_dict(spec, int(g["seed"]), template=template)


@pytest.fixture(scope="module")
def inputs(golden):
    g = golden
    seed, f, c, t, b = (int(g[k]) for k in ("seed", "features", "crops", "segments", "batch"))
    out = {f"eval_video_{i}": seeded.seeded_input(seed, f"eval_video_{i}", (c, int(n), f))
           for i, n in enumerate(g["eval_t"])}
    out["train_normal"] = seeded.seeded_input(seed, "train_normal", (b, t, f))
    out["train_abnormal"] = seeded.seeded_input(seed, "train_abnormal", (b, t, f)) * g["abnormal_scale"][:, None, None]
    return out


def _model(golden, state):
    m = create("bnwvad", int(golden["features"]))
    m.load_official(state)
    return m


def _close(got, want, what: str, atol: float = ATOL, rtol: float | None = None) -> float:
    got = got.detach().double().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs official {want.shape}"
    d = float(np.max(np.abs(got - want))) if got.size else 0.0
    assert d <= atol, f"{what}: max |ours - official| = {d:.3g} > {atol:g}"
    if rtol is not None:
        assert d <= rtol * float(np.max(np.abs(want))), f"{what}: max |ours - official| = {d:.3g} > {rtol:g} relative"
    return d


def test_seeded_state_dict_matches_fixture_checksums(golden, official_state):
    names = [str(n) for n in golden["sd_names"]]
    seeded.check_checksums(official_state, names, golden["sd_sums"], golden["sd_heads"], what="state_dict tensor")


def test_seeded_inputs_match_fixture_checksums(golden, inputs):
    names = [str(n) for n in golden["input_names"]]
    seeded.check_checksums(inputs, names, golden["input_sums"], golden["input_heads"], what="input")


@pytest.mark.parametrize("i", [0, 1, 2])
def test_eval_scores_match_official_test_path(golden, inputs, official_state, i):
    m = _model(golden, official_state).eval()
    video = torch.from_numpy(inputs[f"eval_video_{i}"])     # (crops, T, F)
    want = golden[f"eval_{i}_scores"]
    # scores are unbounded (~10 here): fp32 relative 1e-6
    _close(m.score(video), want, f"eval video {i} (T={video.shape[1]}) scores", atol=ATOL * max(1.0, np.abs(want).max()))
    per_crop = torch.stack([m(video[c: c + 1][None]).scores[0] for c in range(video.shape[0])]).mean(0)
    _close(per_crop, want, f"eval video {i} per-crop loop", atol=ATOL * max(1.0, np.abs(want).max()))


@pytest.fixture(scope="module")
def train_step(golden, inputs, official_state):
    m = _model(golden, official_state).train()
    xn, xa = torch.from_numpy(inputs["train_normal"])[:, None], torch.from_numpy(inputs["train_abnormal"])[:, None]
    n = xn.shape[0]
    x = torch.cat([xn, xa])                                   # (2n, 1, T, F): one crop per sample
    labels = torch.cat([torch.zeros(n), torch.ones(n)])
    batch = Batch(features=x, labels=labels, n_normal=n, n_abnormal=n, class_ids=labels.long(),
                  synthetic=torch.zeros(2 * n, dtype=torch.bool), lengths=torch.full((2 * n,), x.shape[2]))
    out = m(x)
    total, parts = m.loss(out, batch)
    total.backward()
    return m, out, total, parts, batch


def test_train_loss_terms_match_official(golden, train_step):
    _, _, total, parts, _ = train_step
    _close(parts["normal"], golden["train_normal_loss"], "normal loss", rtol=1e-5)
    _close(parts["mpp_1"], golden["train_mpp_1"], "MPP loss, stage 1 (×5)", rtol=1e-5)
    _close(parts["mpp_2"], golden["train_mpp_2"], "MPP loss, stage 2 (×20)", rtol=1e-5)
    _close(parts["mpp_1"] + parts["mpp_2"], golden["train_mpp_loss"], "MPP loss", rtol=1e-5)
    _close(total, golden["train_total_loss"], "total loss", rtol=1e-5)


def test_train_scores_selection_and_running_stats_match_official(golden, train_step):
    m, out, _, _, batch = train_step
    n = batch.n_normal
    _close(out.extras["normal_scores"][:n], golden["train_normal_scores"], "normal half's normal-head scores")
    for s, bn in enumerate(m.bns, 1):
        _close(bn.running_mean, golden[f"train_running_mean_{s}"], f"BN{s} running mean after the step")
        _close(bn.running_var, golden[f"train_running_var_{s}"], f"BN{s} running var after the step",
               atol=ATOL * max(1.0, np.abs(golden[f"train_running_var_{s}"]).max()))
        with torch.no_grad():
            pos, neg = m.select_snippets(out.extras["features"][s - 1], out.extras["distances"][s - 1], n)
        assert pos.shape[0] == int(golden[f"train_select_count_{s}"]), f"stage {s}: number of selected pairs differs"
        for side, f in (("pos", pos), ("neg", neg)):
            want = golden[f"train_select_{side}_dist_{s}"]
            _close(mahalanobis(f, bn.running_mean, bn.running_var, dim=1), want,
                   f"stage {s}: distances of the selected {side} snippets (selection and pairing order)",
                   atol=ATOL * max(1.0, np.abs(want).max()))


def test_train_gradients_match_official_before_and_after_clipping(golden, train_step):
    m, _, _, _, _ = train_step
    params = dict(m.named_parameters())
    names = [str(k) for k in golden["train_grad_names"]]
    assert set(names) == set(params), "parameter names differ from the official model's"

    def check(want, what):
        got = np.array([float(params[k].grad.double().norm()) for k in names])
        rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-3)
        worst = int(np.argmax(rel))
        assert rel[worst] <= 1e-4, f"{what}: gradient norm of {names[worst]}: ours {got[worst]:.8g} vs official {want[worst]:.8g}"

    check(golden["train_grad_norms_pre_clip"], "before clipping")
    total = torch.nn.utils.clip_grad_norm_(m.parameters(), m.config.grad_clip)   # what our trainer does
    assert m.config.grad_clip == float(golden["train_clip_max_norm"])
    _close(total, golden["train_grad_total_norm"], "total gradient norm", atol=1e-4, rtol=1e-5)
    check(golden["train_grad_norms"], "after clip_grad_norm_(…, 1.)")
