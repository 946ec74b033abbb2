"""TPWNG (paper-based port, no official code): its distinctive pieces against hand-computed values."""

import math

import pytest
import torch
from torch import nn

from wsvad.methods import Batch, Output, create
from wsvad.methods.tpwng import (PromptTextEncoder, SpanAttention, minmax, normality_visual_prompt, prompt_name,
                                 pseudo_labels)


def row(*values):
    return torch.tensor([values], dtype=torch.float32)


def test_minmax_over_valid_frames():
    x = row(0.1, 0.3, 0.5, 9.0)
    valid = torch.tensor([[True, True, True, False]])
    # (x − 0.1) / (0.5 − 0.1) on the valid frames: 0, 0.5, 1; the padded frame → 0
    torch.testing.assert_close(minmax(x, valid), row(0.0, 0.5, 1.0, 0.0))
    torch.testing.assert_close(minmax(row(0.2, 0.2), torch.ones(1, 2, dtype=torch.bool)), row(0.0, 0.0))  # flat


def test_pseudo_labels_with_normality_guidance_on_hand_made_similarities():
    s_aa = row(0.1, 0.3, 0.5, 0.2, 0.9)           # S̃^aa = (x − 0.1)/0.8 = 0, 0.25, 0.5, 0.125, 1
    s_an = row(0.8, 0.6, 0.0, 0.8, 0.4)           # S̃^an = x/0.8 = 1, 0.75, 0, 1, 0.5 → 1 − S̃^an = 0, 0.25, 1, 0, 0.5
    valid = torch.ones(1, 5, dtype=torch.bool)
    # ψ = 0.2 (1 − S̃^an) + 0.8 S̃^aa = 0, 0.25, 0.6, 0.1, 0.9 → ψ̃ = ψ/0.9 = 0, 0.278, 0.667, 0.111, 1 → > 0.55
    torch.testing.assert_close(pseudo_labels(s_aa, s_an, valid, alpha=0.2, theta=0.55), row(0, 0, 1, 0, 1))
    # without guidance (α = 0) ψ̃ = S̃^aa: only the 0.9 frame passes 0.55 — the normal text recovers frame 2
    torch.testing.assert_close(pseudo_labels(s_aa, s_an, valid, alpha=0.0, theta=0.55), row(0, 0, 0, 0, 1))
    # XD-Violence's lower threshold 0.35 keeps frame 2 as well: ψ̃ = 0.5 > 0.35 at α = 0
    torch.testing.assert_close(pseudo_labels(s_aa, s_an, valid, alpha=0.0, theta=0.35), row(0, 0, 1, 0, 1))
    # a padded frame never becomes a pseudo-anomaly and does not move the normalisation
    padded_aa, padded_an = torch.cat((s_aa, row(5.0)), 1), torch.cat((s_an, row(-5.0)), 1)
    valid6 = torch.tensor([[True] * 5 + [False]])
    torch.testing.assert_close(pseudo_labels(padded_aa, padded_an, valid6, 0.2, 0.55), row(0, 0, 1, 0, 1, 0))


def test_normality_visual_prompt_weights_frames_by_normal_text_similarity():
    frames = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [7.0, 7.0]]])
    s_nn = torch.tensor([[0.0, 0.01 * math.log(3.0), 5.0]])
    valid = torch.tensor([[True, True, False]])
    # softmax((0, ln 3)) = (1/4, 3/4) at τ = 0.01; the padded third frame gets no weight
    torch.testing.assert_close(normality_visual_prompt(s_nn, frames, valid, 0.01), torch.tensor([[0.25, 0.75]]))


def span_attention(causal: bool) -> SpanAttention:
    """β ≡ 0 (q = k = 0), v = x, output = attention weights when x is one-hot; z = S·σ(0) = 1."""
    attn = SpanAttention(dim=4, heads=1, ramp=2.0, max_span=2.0, causal=causal, dropout=0.0)
    with torch.no_grad():
        attn.qkv.weight.copy_(torch.cat((torch.zeros(8, 4), torch.eye(4))))
        attn.qkv.bias.zero_()
        attn.proj.weight.copy_(torch.eye(4))
        attn.proj.bias.zero_()
        attn.span.weight.zero_()
        attn.span.bias.zero_()
    return attn.eval()


def test_span_mask_weights_on_hand_made_inputs():
    x = torch.eye(4)[None]                       # snippet t is e_t, so row t of the output is ω_{t, ·}
    valid = torch.ones(1, 4, dtype=torch.bool)
    # χ_z(h) = clamp((R + z − h)/R, 0, 1) with R = 2, z = 1: h = 0, 1, 2, 3 → 1, 1, 0.5, 0
    causal = torch.tensor([[1.0, 0.0, 0.0, 0.0],        # t = 0 sees itself
                           [0.5, 0.5, 0.0, 0.0],        # t = 1: χ = 1, 1
                           [0.2, 0.4, 0.4, 0.0],        # t = 2: χ = 0.5, 1, 1 → / 2.5
                           [0.0, 0.2, 0.4, 0.4]])       # t = 3: χ = 0, 0.5, 1, 1 → / 2.5
    torch.testing.assert_close(span_attention(True)(x, valid)[0], causal)
    both = torch.tensor([[0.4, 0.4, 0.2, 0.0],          # t = 0: χ(0, 1, 2, 3) = 1, 1, .5, 0 → / 2.5
                         [2 / 7, 2 / 7, 2 / 7, 1 / 7],  # t = 1: χ = 1, 1, 1, .5 → / 3.5
                         [1 / 7, 2 / 7, 2 / 7, 2 / 7],
                         [0.0, 0.2, 0.4, 0.4]])
    torch.testing.assert_close(span_attention(False)(x, valid)[0], both)
    # a padded key (t = 1) gets no weight: t = 2 then has χ = 0.5, 1 on r = 0, 2 → 1/3, 2/3
    out = span_attention(True)(x, torch.tensor([[True, False, True, True]]))[0]
    torch.testing.assert_close(out[2], torch.tensor([1 / 3, 0.0, 2 / 3, 0.0]))


def test_a_larger_learned_span_widens_attention():
    attn = span_attention(True)
    with torch.no_grad():
        attn.span.bias.fill_(10.0)               # z ≈ S = 2: χ(h) = clamp((4 − h)/2, 0, 1) → h ≤ 2: 1, h = 3: 0.5
    out = attn(torch.eye(4)[None], torch.ones(1, 4, dtype=torch.bool))[0]
    torch.testing.assert_close(out[3], torch.tensor([0.5, 1.0, 1.0, 1.0]) / 3.5, atol=1e-4, rtol=0)


def test_prompt_names():
    assert prompt_name("RoadAccidents") == "road accidents"
    assert prompt_name("Normal") == "normal"
    assert prompt_name("Normal_Videos") == "normal videos"


class FixedText(nn.Module):
    def __init__(self, text):
        super().__init__()
        self.register_buffer("value", text)
        self.embed_dim = text.shape[1]

    def forward(self):
        return self.value


def bce(p, y):
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_loss_terms_on_a_tiny_hand_made_batch():
    model = create("tpwng", 3, {"text_layers": 1}, class_names=["Normal", "A", "B"])
    model.text = FixedText(torch.eye(3))            # T_n = e1, T_A = e2, T_B = e3: cosines are coordinates
    model.nvp = nn.Sequential(nn.Linear(6, 12), nn.GELU(), nn.Linear(12, 3))   # the FFN at E = 3 ...
    for p in model.nvp.parameters():                # ... set to 0, so Ṫ_n = T_n
        nn.init.zeros_(p)
    visual = torch.tensor([[[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.8, 0.0, 0.6]],    # normal video
                           [[0.8, 0.6, 0.0], [0.0, 0.6, 0.8], [0.0, 1.0, 0.0]]])   # abnormal video, class A
    eta = torch.tensor([[0.1, 0.2, 0.1], [0.3, 0.6, 0.9]])
    out = Output(eta, {"visual": visual[:, None]})                                  # (B, C=1, T, E)
    batch = Batch(torch.zeros(2, 1, 3, 3), torch.tensor([0.0, 1.0]), 1, 1, torch.tensor([0, 1]),
                  torch.zeros(2, dtype=torch.bool), torch.tensor([3, 3]))
    total, parts = model.loss(out, batch)
    # normal video: S^nn = (1, 0.6, 0.8), φ^na = A (0, 0.8, 0), B (0, 0, 0.6) → [1 − 1 + 0.8]_+ = 0.8
    assert parts["rank_normal"].item() == pytest.approx(0.8, abs=1e-6)
    # abnormal video: S^an = (0.8, 0, 0), S^aa = (0.6, 0.6, 1), φ^aa = B (0, 0.8, 0)
    # → [1 − 0.8 + 0.8]_+ + [1 − 1 + 0.8]_+ = 1.0 + 0.8
    assert parts["rank_abnormal"].item() == pytest.approx(1.8, abs=1e-6)
    # DIL = cos((0.6, 0.6, 1), (0.8, 0, 0)) = 0.48 / (0.8 · √1.72)
    assert parts["dil"].item() == pytest.approx(0.48 / (0.8 * math.sqrt(1.72)), abs=1e-6)
    # S̃^aa = (0, 0, 1): sparsity 0.1 · 1, smoothness 0.01 · (0² + 1²)
    assert parts["sparsity"].item() == pytest.approx(0.1, abs=1e-6)
    assert parts["smooth"].item() == pytest.approx(0.01, abs=1e-6)
    # PLG: ψ = 0.2 (1 − (1, 0, 0)) + 0.8 (0, 0, 1) = (0, 0.2, 1) → γ = (0, 0, 1); normal video γ = 0
    expected_cls = (bce(0.1, 0) + bce(0.2, 0) + bce(0.1, 0) + bce(0.3, 0) + bce(0.6, 0) + bce(0.9, 1)) / 6
    assert parts["cls"].item() == pytest.approx(expected_cls, rel=1e-5)
    assert total.item() == pytest.approx(sum(v.item() for v in parts.values()), rel=1e-6)


def test_single_anomaly_class_has_no_abnormal_ranking_and_padding_is_ignored():
    torch.manual_seed(0)
    model = create("tpwng", 8, {"text_layers": 1}, class_names=["Normal", "Anomaly"])
    x = torch.randn(2, 1, 6, 8)
    x[1, :, 4:] = 0                                  # the abnormal video is 4 snippets long, zero-padded
    batch = Batch(x, torch.tensor([0.0, 1.0]), 1, 1, torch.tensor([0, 1]), torch.zeros(2, dtype=torch.bool),
                  torch.tensor([6, 4]))
    out = model(x)
    total, parts = model.loss(out, batch)
    assert parts["rank_abnormal"].item() == 0.0
    assert all(torch.isfinite(v) for v in parts.values())
    total.backward()
    assert model.text.ctx.grad is not None and model.text.ctx.grad.abs().sum() > 0
    assert model.text.text_projection.grad is not None
    assert all(p.grad is None for p in model.text.transformer.parameters())   # ζ_text stays frozen
    # padded snippets are no attention keys: even looking both ways, the real snippets score as unpadded
    both_ways = create("tpwng", 8, {"text_layers": 1, "causal": False}, class_names=["Normal", "Anomaly"]).eval()
    with torch.no_grad():
        torch.testing.assert_close(both_ways(x[1:]).scores[0, :4], both_ways(x[1:, :, :4]).scores[0])


def test_prompt_encoder_matches_clip_encode_text_exactly():
    open_clip = pytest.importorskip("open_clip")
    torch.manual_seed(0)
    encoder = PromptTextEncoder(["Normal", "RoadAccidents"], prompt_length=4, clip_model="ViT-B-16",
                                checkpoint="", text_layers=0)
    torch.manual_seed(0)
    clip = open_clip.create_model("ViT-B-16", pretrained=None)       # the same random weights
    tokens = open_clip.get_tokenizer("ViT-B-16")(["X X X X normal.", "X X X X road accidents."])
    with torch.no_grad():
        encoder.ctx.copy_(clip.token_embedding(tokens[0, 1:5]))       # learnable context := the "X" tokens
        ours = encoder()
        reference = clip.encode_text(tokens)                          # all 77 positions, no truncation
    assert ours.shape == (2, 512)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    trainable = {name for name, p in encoder.named_parameters() if p.requires_grad}
    assert trainable == {"ctx", "text_projection"}


def test_optimizer_is_adamw_over_the_trainable_parameters_only():
    model = create("tpwng", 8, {"text_layers": 1}, class_names=["Normal", "A"])
    opt, _ = model.configure_optimizer()
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["lr"] == 2e-5
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert in_opt == {id(p) for p in model.parameters() if p.requires_grad}
    assert id(model.text.ctx) in in_opt and id(model.text.text_projection) in in_opt
    assert not any(id(p) in in_opt for p in model.text.transformer.parameters())
