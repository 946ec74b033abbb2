"""Our UR-DMU port against numbers produced by the official code (henrryzh1/UR-DMU).

The fixture tests/fixtures/urdmu_golden.npz stores a seed, the official state_dict's spec and
per-tensor checksums, and the official outputs (tests/fixtures/official/make_urdmu.py,
README_urdmu.md). Here the same state_dict and inputs are rebuilt from the seed, loaded into our
model through `load_official`, and compared in fp32 on CPU:

- eval: `score(video (crops, T, D))` against the official ucf_test.py path (one forward per crop,
  then the crop mean), T = 1, 37, 100;
- train (dropout 0, injected ε): every loss term and the total against the official train.py step,
  the train-mode scores ("frame") and memory attentions, and every parameter's gradient norm;
  once with one crop per sample (the official UCF setting) and once with 2 crops per video (4-D);
- the same step with the official Dropout(0.5) after the same `torch.manual_seed` and ε drawn, not
  injected (equal only if the port draws in the official order and shapes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsvad.methods import Batch, create

import seeded  # noqa: E402  (tests/fixtures/official, via conftest.py)
import seeded_urdmu  # noqa: E402  (tests/fixtures/official, via conftest.py)

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "urdmu_golden.npz"
ATOL = 1e-5
# our part name → (official AD_Loss key, weight in the official cost)
TERMS = {"cls": ("att_loss", 1.0), "abn_in_amem": ("A_loss", 0.1), "abn_in_nmem": ("N_Aatt", 0.1),
         "nor_in_nmem": ("N_loss", 0.1), "nor_in_amem": ("A_Nloss", 0.1), "triplet": ("triplet", 0.1),
         "kl": ("kl_loss", 1e-3), "distance": ("distance", 1e-4)}


@pytest.fixture(scope="module")
def golden():
    return seeded.load_golden(FIXTURE, "README_urdmu.md")


@pytest.fixture(scope="module")
def official_state(golden):
    g = golden
    assert int(g["generator_version"]) == seeded.GENERATOR_VERSION, "seeded.py changed: regenerate the fixture"
    assert int(g["recipe_version"]) == seeded_urdmu.RECIPE_VERSION, "seeded_urdmu.py changed: regenerate the fixture"
    spec = seeded.stored_spec(g)
    return seeded_urdmu.seeded_urdmu_state_dict(spec, int(g["seed"]))


@pytest.fixture(scope="module")
def inputs(golden):
    g = golden
    seed, f, c, t, b = (int(g[k]) for k in ("seed", "features", "crops", "segments", "batch"))
    c4, t4 = int(g["crops4d"]), int(g["segments4d"])
    out = {f"eval_video_{i}": seeded.seeded_input(seed, f"eval_video_{i}", (c, int(n), f))
           for i, n in enumerate(g["eval_t"])}
    out["train_normal"] = seeded.seeded_input(seed, "train_normal", (b, t, f))
    out["train_abnormal"] = seeded.seeded_input(seed, "train_abnormal", (b, t, f))
    out["train_noise"] = seeded.seeded_input(seed, "train_noise", (b, t, 512), kind="normal")
    out["train4d_normal"] = seeded.seeded_input(seed, "train4d_normal", (b, c4, t4, f))
    out["train4d_abnormal"] = seeded.seeded_input(seed, "train4d_abnormal", (b, c4, t4, f))
    out["train4d_noise"] = seeded.seeded_input(seed, "train4d_noise", (b * c4, t4, 512), kind="normal")
    return out


def _model(golden, state, dropout: float = 0.0):
    m = create("urdmu", int(golden["features"]), {"dropout": dropout, "a_nums": int(golden["nums"]),
                                                  "n_nums": int(golden["nums"])})
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


def test_official_state_dict_loads_without_conversion(golden, official_state):
    m = _model(golden, official_state)
    assert set(m.state_dict()) == set(official_state)  # encoder_var is ours too (used in training)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_eval_scores_match_official_test_path(golden, inputs, official_state, i):
    m = _model(golden, official_state).eval()
    video = torch.from_numpy(inputs[f"eval_video_{i}"])     # (crops, T, F)
    scores = m.score(video)
    _close(scores, golden[f"eval_{i}_scores"], f"eval video {i} (T={video.shape[1]}) scores")
    # the base class's per-crop loop (InputSpec test_crops="per_crop") gives the same numbers
    per_crop = torch.stack([m(video[c: c + 1][None]).scores[0] for c in range(video.shape[0])]).mean(0)
    _close(per_crop, golden[f"eval_{i}_scores"], f"eval video {i} per-crop loop")


def _step(golden, inputs, state, prefix: str, dropout: float = 0.0, inject: bool = True, torch_seed=None):
    m = _model(golden, state, dropout).train()
    xn, xa = torch.from_numpy(inputs[f"{prefix}_normal"]), torch.from_numpy(inputs[f"{prefix}_abnormal"])
    if xn.dim() == 3:                    # one crop per sample (the official UCF training)
        xn, xa = xn[:, None], xa[:, None]
    n = xn.shape[0]
    x = torch.cat([xn, xa])
    labels = torch.cat([torch.zeros(n), torch.ones(n)])
    batch = Batch(features=x, labels=labels, n_normal=n, n_abnormal=n, class_ids=labels.long(),
                  synthetic=torch.zeros(2 * n, dtype=torch.bool), lengths=torch.full((2 * n,), x.shape[2]))
    if torch_seed is not None:
        torch.manual_seed(torch_seed)
    out = m(x)
    if inject:
        out.extras["noise"] = torch.from_numpy(inputs[f"{prefix}_noise"])
    total, parts = m.loss(out, batch)
    total.backward()
    return m, out, total, parts, batch


@pytest.fixture(scope="module", params=["train", "train4d"])
def train_step(request, golden, inputs, official_state):
    return request.param, _step(golden, inputs, official_state, request.param)


def _check_step(golden, prefix, m, out, total, parts, batch):
    g = golden
    for term, (key, weight) in TERMS.items():
        _close(parts[term], weight * g[f"{prefix}_{key}"], f"{prefix}: loss term {term!r} (official {key})", rtol=1e-4)
    _close(total, g[f"{prefix}_total_loss"], f"{prefix}: total loss", rtol=1e-5)
    with torch.no_grad():
        scores, *_ = m.reparameterised_scores(out, batch.n_normal)
    _close(scores, g[f"{prefix}_out_frame"], f"{prefix}: train-mode scores (official 'frame')")
    n, (b, t) = batch.n_normal, out.scores.shape

    def crop_mean(s):
        return s.view(-1, s.shape[0] // b, t).mean(1).detach()

    a_att, n_att = crop_mean(out.extras["a_att"]), crop_mean(out.extras["n_att"])
    for key, got in (("A_att", a_att[n:]), ("N_att", n_att[:n]), ("A_Natt", a_att[:n]), ("N_Aatt", n_att[n:])):
        _close(got, g[f"{prefix}_out_{key}"], f"{prefix}: memory attention {key}")
    params = dict(m.named_parameters())
    names = [str(k) for k in g[f"{prefix}_grad_names"]]
    assert set(names) == set(params), "parameter names differ from the official model's"
    got = np.array([float(params[k].grad.double().norm()) for k in names])
    want = g[f"{prefix}_grad_norms"]
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-3)
    worst = int(np.argmax(rel))
    assert rel[worst] <= 1e-4, f"{prefix}: gradient norm of {names[worst]}: ours {got[worst]:.8g} vs official {want[worst]:.8g}"


def test_train_step_matches_official(golden, train_step):
    prefix, (m, out, total, parts, batch) = train_step
    _check_step(golden, prefix, m, out, total, parts, batch)


def test_train_step_with_official_dropout_and_drawn_noise_matches_official(golden, inputs, official_state):
    """Dropout 0.5 and ε drawn after the same torch seed: equal only if the port draws the transformer
    dropout masks and then ε in the official order and shapes."""
    m, _, total, parts, _ = _step(golden, inputs, official_state, "train", dropout=float(golden["dropout"]),
                                        inject=False, torch_seed=int(golden["dropout_torch_seed"]))
    for term, (key, weight) in TERMS.items():
        _close(parts[term], weight * golden[f"dropout_{key}"], f"dropout step: loss term {term!r}", rtol=1e-4)
    _close(total, golden["dropout_total_loss"], "dropout step: total loss", rtol=1e-5)
    params = dict(m.named_parameters())
    names = [str(k) for k in golden["dropout_grad_names"]]
    got = np.array([float(params[k].grad.double().norm()) for k in names])
    want = golden["dropout_grad_norms"]
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-3)
    worst = int(np.argmax(rel))
    assert rel[worst] <= 1e-4, f"dropout step: gradient norm of {names[worst]}: ours {got[worst]:.8g} vs official {want[worst]:.8g}"
