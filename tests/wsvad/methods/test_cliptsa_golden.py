"""Our CLIP-TSA port against numbers produced by the official code (joos2010kj/CLIP-TSA).

The fixture tests/fixtures/cliptsa_golden.npz (tests/fixtures/official/make_cliptsa.py) stores a seed,
the official state_dict's spec and checksums, and the official outputs. The same state_dict and inputs
are rebuilt here (tests/fixtures/official/seeded.py), loaded through `load_official`, and compared in
fp32 on CPU:

- eval: `score(video)` (noise-free default) against the official test_10crop.test() with the perturbed
  top-k's sigma set to 0, T = 37, 100 and 1100 (the k ≤ 1000 cap); and `eval_noise=True` against the
  official stochastic test() under the same torch seed;
- train (dropout 0, BatchNorm on batch statistics, the same seeded perturbation noise): the four loss
  terms and the total, scores, magnitudes, the hard-attention weights and scorer outputs, the top-k
  picks and scores, and every parameter's gradient norm (the scorer's through the perturbed top-k's
  official backward);
- the same step with the official dropout 0.7 after the same torch seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsvad.methods.components.magnitude_top_k import select_top_k

from wsvad.methods import Batch, create

import seeded  # noqa: E402  (tests/fixtures/official, via conftest.py)

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "cliptsa_golden.npz"
ATOL = 1e-5


@pytest.fixture(scope="module")
def golden():
    return seeded.load_golden(FIXTURE, "README_cliptsa.md")


@pytest.fixture(scope="module")
def official_state(golden):
    g = golden
    assert int(g["generator_version"]) == seeded.GENERATOR_VERSION, "seeded.py changed: regenerate the fixture"
    spec = seeded.stored_spec(g)
    template = seeded.stored_int_buffers(g)
    return seeded.seeded_state_dict(spec, int(g["seed"]), template=template)


@pytest.fixture(scope="module")
def inputs(golden):
    g = golden
    seed, f, c, t, b = (int(g[k]) for k in ("seed", "features", "crops", "segments", "batch"))
    kind = str(g["input_kind"])
    out = {f"eval_video_{i}": seeded.seeded_input(seed, f"eval_video_{i}", (int(n), f), kind)
           for i, n in enumerate(g["eval_t"])}
    out["train_normal"] = seeded.seeded_input(seed, "train_normal", (b, c, t, f), kind)
    out["train_abnormal"] = seeded.seeded_input(seed, "train_abnormal", (b, c, t, f), kind)
    return out


def _model(golden, state, **overrides):
    m = create("cliptsa", int(golden["features"]), {"dropout": 0.0, **overrides})
    m.load_official(state)
    return m


def _close(got, want, what: str, atol: float = ATOL, rtol: float | None = None) -> float:
    got = got.detach().double().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs official {want.shape}"
    d = float(np.max(np.abs(got - want))) if want.size else 0.0
    assert d <= atol, f"{what}: max |ours - official| = {d:.3g} > {atol:g}"
    if rtol is not None:
        assert d <= rtol * float(np.max(np.abs(want))), f"{what}: max |ours - official| = {d:.3g} > {rtol:g} relative"
    return d


def _batch(golden, inputs):
    n = int(golden["batch"])
    x = torch.cat([torch.from_numpy(inputs["train_normal"]), torch.from_numpy(inputs["train_abnormal"])])
    labels = torch.cat([torch.zeros(n), torch.ones(n)])
    return Batch(features=x, labels=labels, n_normal=n, n_abnormal=n, class_ids=labels.long(),
                 synthetic=torch.zeros(2 * n, dtype=torch.bool), lengths=torch.full((2 * n,), x.shape[2]))


def test_seeded_state_dict_and_inputs_match_fixture_checksums(golden, official_state, inputs):
    seeded.check_checksums(official_state, [str(n) for n in golden["sd_names"]], golden["sd_sums"],
                           golden["sd_heads"], what="state_dict tensor")
    seeded.check_checksums(inputs, [str(n) for n in golden["input_names"]], golden["input_sums"],
                           golden["input_heads"], what="input")


def test_config_defaults_are_the_official_hyperparameters(golden):
    cfg = create("cliptsa", 512).config
    assert (cfg.topk_ratio, cfg.num_samples, cfg.sigma) == (float(golden["topk_ratio"]), int(golden["num_samples"]),
                                                             float(golden["sigma"]))
    assert (cfg.lr, cfg.weight_decay, cfg.batch_size, cfg.max_steps, cfg.k, cfg.segments) == (1e-3, 0.005, 16, 4000, 3, 32)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_noise_free_eval_matches_official_test_path_with_sigma_zero(golden, inputs, official_state, i):
    model = _model(golden, official_state).eval()
    video = torch.from_numpy(inputs[f"eval_video_{i}"])[None]                   # (1 crop, T, F)
    _close(model.score(video), golden[f"eval_{i}_scores"], f"eval video {i} (T={video.shape[1]})")


def test_stochastic_eval_option_matches_official_under_the_same_seed(golden, inputs, official_state):
    model = _model(golden, official_state, eval_noise=True).eval()
    torch.manual_seed(int(golden["eval_noise_seed"]))
    for i in range(len(golden["noisy_eval_t"])):                                # one noise draw per video, in order
        video = torch.from_numpy(inputs[f"eval_video_{i}"])[None]
        _close(model.score(video), golden[f"noisy_eval_{i}_scores"], f"stochastic eval video {i}")


@pytest.fixture(scope="module")
def train_step(golden, inputs, official_state):
    m = _model(golden, official_state).train()
    batch = _batch(golden, inputs)
    torch.manual_seed(int(golden["train_noise_seed"]))
    out = m(batch.features)
    total, parts = m.loss(out, batch)
    total.backward()
    return m, out, total, parts, batch.n_normal


@pytest.mark.parametrize("term", ["cls", "magnitude", "sparsity", "smooth"])
def test_train_loss_terms_match_official(golden, train_step, term):
    _close(train_step[3][term], golden[f"train_{term}"], f"train loss term {term!r}", rtol=1e-4)


def test_train_total_and_forward_match_official(golden, train_step):
    m, out, total, _, n = train_step
    _close(total, golden["train_total"], "train total loss", rtol=1e-5)
    _close(out.scores, golden["train_scores"], "train-mode scores")
    _close(out.extras["magnitudes"], golden["train_magnitudes"], "train-mode magnitudes", atol=1e-5 * 100)
    _close(out.extras["attention"].flatten(0, 1), golden["train_attention"], "hard-attention weights")
    _close(out.extras["attention_scores"].flatten(0, 1), golden["train_attention_scores"], "scorer outputs")
    with torch.no_grad():
        idx_abn = select_top_k(out.extras["magnitudes"][n:], m.config.k, m.drop_out)
        idx_nor = select_top_k(out.extras["magnitudes"][:n], m.config.k, m.drop_out)
    assert np.array_equal(idx_abn.numpy(), golden["train_topk_idx_abnormal"])
    assert np.array_equal(idx_nor.numpy(), golden["train_topk_idx_normal"])
    _close(out.scores[n:].gather(1, idx_abn).mean(1), golden["train_topk_score_abnormal"], "abnormal top-k scores")
    _close(out.scores[:n].gather(1, idx_nor).mean(1), golden["train_topk_score_normal"], "normal top-k scores")


def _check_grads(model, golden, prefix: str):
    params = dict(model.named_parameters())
    names = [str(n) for n in golden[f"{prefix}_grad_names"]]
    assert set(names) == set(params), "parameter names differ from the official model's (used) ones"
    got = np.array([float(params[k].grad.double().norm()) for k in names])
    want = golden[f"{prefix}_grad_norms"]
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-3)
    worst = int(np.argmax(rel))
    assert rel[worst] <= 1e-4, f"{prefix}: gradient norm of {names[worst]}: ours {got[worst]:.8g} vs official {want[worst]:.8g}"


def test_train_gradients_match_official_including_the_perturbed_top_k_backward(golden, train_step):
    _check_grads(train_step[0], golden, "train")


def test_train_step_with_official_dropout_matches_official(golden, inputs, official_state):
    m = _model(golden, official_state, dropout=float(golden["dropout"])).train()
    batch = _batch(golden, inputs)
    torch.manual_seed(int(golden["dropout_torch_seed"]))
    out = m(batch.features)
    total, parts = m.loss(out, batch)
    _close(out.scores, golden["dropout_scores"], "dropout step: scores")
    for term in ("cls", "magnitude", "sparsity", "smooth"):
        _close(parts[term], golden[f"dropout_{term}"], f"dropout step: loss term {term!r}", rtol=1e-4)
    _close(total, golden["dropout_total"], "dropout step: total loss", rtol=1e-5)
    total.backward()
    _check_grads(m, golden, "dropout")
