"""TPWNG: Text Prompt with Normality Guidance (Yang, Liu, Wu, CVPR 2024).

Paper: "Text Prompt with Normality Guidance for Weakly Supervised Video Anomaly Detection",
arXiv 2404.08531. There is NO public code, so this is a port from the paper's text (no golden
fixture is possible); docs/methods/tpwng.md lists what the paper says and every assumption.

Notation as the paper's: X (F, D) frozen CLIP ViT-B/16 frame features of a video, k event classes
(k−1 anomalies, one normal; here index 0 is Normal), S = match similarity (cosine) of frames and a
class text embedding, ˜ = min–max normalisation over a video's frames.

    text prompt   T_c = ζ_text([SOS, ∂_1..∂_l, tokens(name_c), EOS] + pos) · W_proj   (Eqs. 1–2)
                  l = 8 shared learnable vectors (CoOp); ζ_text frozen, W_proj fine-tuned
    NVP           S^nn_i = X^n_i T_nᵀ;  Q_i = softmax(S^nn_i / τ)ᵀ X^n_i;
                  Ṫ_n = FFN([Q_i ; T_n]) + T_n                                            (Eqs. 3–4)
    PLG           ψ = α (1 − S̃^an) + (1 − α) S̃^aa_τ;  γ_j = 1[ψ̃_j > θ]  (α 0.2, θ 0.55 UCF)   (Eqs. 5–6)
                  S^an = X^a Ṫ_nᵀ, S^aa_τ = X^a T_τᵀ for the video's true class τ; normal videos γ = 0
    TCSAL         transformer encoder whose heads weigh the past by a soft span mask
                  χ_z(h) = clamp((R + z − h) / R, 0, 1),  z = S·σ(C x_t + b),
                  ω_{t,r} = χ_z(t − r) e^{β_{t,r}} / Σ_q χ_z(t − q) e^{β_{t,q}}   (R 256)      (Eqs. 7–9)
                  η = σ(classifier(TCSAL(X)))                       the test-time anomaly score
    losses        L^n_rank = [m − max S^nn + max φ^na]_+          (normal videos)           (Eq. 10)
                  L^a_rank = [m − max S^an + max φ^aa]_+ + [m − max S^aa_τ + max φ^aa]_+      (Eq. 11)
                  L_dil = cos(S^aa_τ, S^an)                       over a video's frames     (Eq. 12)
                  L_sparsity = Σ_j S̃^aa_j,  L_smooth = Σ_j (S̃^aa_j − S̃^aa_{j+1})²   (abnormal videos)
                  L_cl = BCE(η, γ)                                                          (Eq. 13)
                  L = L_cl + L^n_rank + L^a_rank + L_dil + λ1 L_sparsity + λ2 L_smooth  (λ1 0.1, λ2 0.01)
    φ^na: similarities of normal frames to the k−1 anomaly texts; φ^aa: of abnormal frames to the
    k−2 anomaly texts other than τ; m = 1 (hinge margin, assumed).

Assumptions where the paper is silent (details in docs/methods/tpwng.md): hinge ranking with margin
1 on cosine similarities; ψ thresholded from above (anomalous where ψ̃ > θ) with the normal
similarity entering as 1 − S̃^an; min–max normalisation; NVP softmax temperature 0.01 (CLIP's
logit scale); λ1 weighs sparsity and λ2 smoothness (the paper's formulas swap the two names);
2 TCSAL layers of 4 heads, span cap S = 256; AdamW 2e-5, 64 + 64 videos of 256 snippets (zero-padded),
10 epochs, as VadCLIP (same group, same CLIP features).

Deliberate differences:
- features of any dimension D: when D differs from the CLIP embedding width (512) a learnable linear
  map takes frames into the text space (identity, no parameters, at D = 512, the paper's setting);
- the NVP of the i-th normal video guides the i-th abnormal video (the paper's shared index i);
  with unequal halves the batch mean of the NVPs is used; abnormal videos whose class is unknown
  use the best-matching anomaly text as S^aa; with a single anomaly class φ^aa is empty and
  L^a_rank is 0;
- the prompt's token embeddings are computed once (CoOp's prefix/suffix buffers) and the text
  sequence is cut after the longest prompt's EOS token: exact, since CLIP's text mask is causal;
  `text_layers` > 0 keeps only the first CLIP text layers (a speed knob for tests, off by default);
- padded snippets (pad_sample writes zeros) are excluded from attention keys, maxima, normalisation
  and every loss term;
- options beyond the paper (defaults = the paper): `rank` and `dil` weights (1; the paper's Table 5
  ablates them), `class_context` (one learnable context per class, CoOp's CSC), `causal`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.errors import ConfigError
from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.registry import register


# --- pseudo-labels ----------------------------------------------------------------------------

def minmax(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(x − min) / (max − min) over each row's valid entries (N, T); invalid entries and flat rows → 0."""
    lo = torch.where(valid, x, float("inf")).amin(-1, keepdim=True)
    hi = torch.where(valid, x, float("-inf")).amax(-1, keepdim=True)
    out = (x - lo) / (hi - lo).clamp_min(1e-8)
    return torch.where(valid, out, torch.zeros_like(out))


def pseudo_labels(s_aa: torch.Tensor, s_an: torch.Tensor, valid: torch.Tensor,
                  alpha: float, theta: float) -> torch.Tensor:
    """PLG (Eqs. 5–6) for abnormal videos: γ (N, T) ∈ {0, 1} from S^aa_τ and S^an (N, T)."""
    psi = alpha * (1 - minmax(s_an, valid)) + (1 - alpha) * minmax(s_aa, valid)
    return ((minmax(psi, valid) > theta) & valid).to(s_aa.dtype)


def normality_visual_prompt(s_nn: torch.Tensor, frames: torch.Tensor, valid: torch.Tensor,
                            temperature: float) -> torch.Tensor:
    """NVP (Eq. 3): Q_i = softmax(S^nn_i / τ)ᵀ X^n_i over valid frames; s_nn (N, T), frames (N, T, E) → (N, E)."""
    weights = torch.where(valid, s_nn / temperature, float("-inf")).softmax(-1)       # (N, T)
    return torch.einsum("nt,nte->ne", weights, frames)


# --- text prompt on the CLIP text encoder -----------------------------------------------------

def prompt_name(name: str) -> str:
    """Class name as prompt words: 'RoadAccidents' → 'road accidents', 'Normal_Videos' → 'normal videos'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").lower().strip()


class PromptTextEncoder(nn.Module):
    """CoOp-style learnable context before each class name, through CLIP's (frozen) text encoder.

    Expects a CLIP-style text tower (causal mask, pooled at the EOS token, the largest token id).
    """

    def __init__(self, class_names: list[str], prompt_length: int, clip_model: str, checkpoint: str,
                 text_layers: int, class_specific: bool = False):
        super().__init__()
        import open_clip  # lazy: only TPWNG needs it, and it is slow to import

        clip = open_clip.create_model(clip_model, pretrained=checkpoint or None)
        tokens = open_clip.get_tokenizer(clip_model)(
            [" ".join(["X"] * prompt_length) + f" {prompt_name(c)}." for c in class_names])   # (K, 77)
        eos = tokens.argmax(-1)                               # EOS has the largest id (CLIP's "argmax" pool)
        length = int(eos.max()) + 1                           # causal mask: later tokens never matter
        with torch.no_grad():
            embedded = clip.token_embedding(tokens[:, :length])                           # (K, L, W)
        self.register_buffer("token_prefix", embedded[:, :1].clone())                     # SOS
        self.register_buffer("token_suffix", embedded[:, 1 + prompt_length:].clone())     # name, '.', EOS, pad
        self.register_buffer("eos", eos)
        self.register_buffer("attn_mask", clip.attn_mask[:length, :length].clone(), persistent=False)
        width = embedded.shape[-1]
        shape = (len(class_names), prompt_length, width) if class_specific else (prompt_length, width)
        self.ctx = nn.Parameter(torch.randn(shape) * 0.02)                                # ∂_1..∂_l
        self.positional_embedding = nn.Parameter(clip.positional_embedding[:length].detach().clone(),
                                                 requires_grad=False)
        self.transformer = clip.transformer
        if text_layers > 0:
            self.transformer.resblocks = self.transformer.resblocks[:text_layers]
        self.ln_final = clip.ln_final
        for p in (*self.transformer.parameters(), *self.ln_final.parameters()):
            p.requires_grad_(False)                                                       # frozen ζ_text
        self.text_projection = clip.text_projection                                       # fine-tuned
        self.text_projection.requires_grad_(True)
        proj = self.text_projection
        self.embed_dim = int(proj.out_features if isinstance(proj, nn.Linear) else proj.shape[-1])

    def forward(self) -> torch.Tensor:
        k = self.token_prefix.shape[0]
        ctx = self.ctx if self.ctx.dim() == 3 else self.ctx[None].expand(k, -1, -1)
        x = torch.cat((self.token_prefix, ctx, self.token_suffix), dim=1)                 # (K, L, W)
        x = self.transformer(x + self.positional_embedding, attn_mask=self.attn_mask)
        x = self.ln_final(x)[torch.arange(k, device=x.device), self.eos]                  # (K, W) at EOS
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection(x)
        return x @ self.text_projection                                                   # (K, E)


# --- temporal context self-adaptive learning ----------------------------------------------------

class SpanAttention(nn.Module):
    """Multi-head self-attention with an input-adaptive soft span per head (Sukhbaatar et al. 2019)."""

    def __init__(self, dim: int, heads: int, ramp: float, max_span: float, causal: bool, dropout: float):
        super().__init__()
        self.heads = heads if dim % heads == 0 else 1
        self.ramp, self.max_span, self.causal = float(ramp), float(max_span), causal
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.span = nn.Linear(dim, self.heads)                                # z = S·σ(C x_t + b), per head
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:  # x (N, T, dim), valid (N, T)
        n, t, d = x.shape
        q, k, v = (z.view(n, t, self.heads, d // self.heads).transpose(1, 2) for z in self.qkv(x).chunk(3, -1))
        beta = (q @ k.transpose(-1, -2)) / (d // self.heads) ** 0.5                 # (N, H, T, T)
        z = self.max_span * torch.sigmoid(self.span(x)).transpose(1, 2)              # (N, H, T) per query
        pos = torch.arange(t, device=x.device)
        h = (pos[:, None] - pos[None, :]).to(x.dtype)                                 # t − r
        chi = ((self.ramp + z[..., None] - h.abs()) / self.ramp).clamp(0, 1)         # (N, H, T, T) χ_z
        allowed = valid[:, None, None, :] | torch.eye(t, dtype=torch.bool, device=x.device)
        if self.causal:
            allowed = allowed & (h >= 0)                                              # only the past (and t)
        chi = chi * allowed                                                           # χ(t, t) = 1 always
        w = chi * torch.exp(beta - beta.masked_fill(chi == 0, float("-inf")).amax(-1, keepdim=True))
        w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)                             # ω_{t,r}
        out = (self.drop(w) @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(out)


class TCSALLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ramp: float, max_span: float, causal: bool, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SpanAttention(dim, heads, ramp, max_span, causal, dropout)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), valid))
        return x + self.drop(self.ffn(self.norm2(x)))


# --- the method --------------------------------------------------------------------------------

@dataclass
class TPWNGConfig(MethodConfig):
    lr: float = 2e-5               # not in the paper: VadCLIP's (same group, same features)
    weight_decay: float = 0.01     # AdamW default, as VadCLIP
    batch_size: int = 64
    segments: int = 256            # snippets per training video, zero-padded (VadCLIP's length)
    max_steps: int = 0
    max_epochs: int = 10
    prompt_length: int = 8         # l (paper)
    class_context: bool = False    # one context per class (CoOp's CSC) instead of one shared context
    alpha: float = 0.2             # normality guidance weight (paper)
    theta: float = 0.55            # pseudo-label threshold (paper: 0.55 UCF-Crime, 0.35 XD-Violence)
    span_ramp: float = 256.0       # R, softness of the span mask (paper)
    max_span: float = 256.0        # S in z = S·σ(·), the largest span a head can learn
    causal: bool = True            # heads look at the past frames only (paper's r ∈ [1, t−1])
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    rank_margin: float = 1.0
    nvp_temperature: float = 0.01
    rank: float = 1.0              # weight of both ranking losses (1 in the paper; 0 ablates them, Tab. 5)
    dil: float = 1.0               # weight of the distribution inconsistency loss (1 in the paper)
    sparsity: float = 0.1          # λ1 (paper)
    smooth: float = 0.01           # λ2 (paper)
    clip_model: str = "ViT-B-16"   # open_clip architecture ("ViT-B-16-quickgelu" for OpenAI weights)
    clip_checkpoint: str = ""      # local CLIP weights (open_clip `pretrained` path); "" = random init
    text_layers: int = 0           # 0: all CLIP text layers; n > 0: only the first n (tests, speed)

    def validate(self):
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"tpwng.alpha must be in [0, 1], got {self.alpha}")
        if self.prompt_length < 1 or self.layers < 0 or self.heads < 1:
            raise ConfigError("tpwng.prompt_length and tpwng.heads must be >= 1, tpwng.layers >= 0")
        if self.span_ramp <= 0 or self.max_span < 0 or self.nvp_temperature <= 0:
            raise ConfigError("tpwng.span_ramp and tpwng.nvp_temperature must be > 0, tpwng.max_span >= 0")


@register
class TPWNG(Method):
    name = "tpwng"
    paper = ("Yang, Liu, Wu, Text Prompt with Normality Guidance for Weakly Supervised Video Anomaly Detection, "
             "CVPR 2024")
    official_code = "none public (paper-based port, arXiv 2404.08531)"
    Config = TPWNGConfig
    inputs = InputSpec(pooling="pad_sample", train_crops="each", test_crops="first", official_dim=512)
    search_space = {
        "lr": {"type": "loguniform", "low": 5e-6, "high": 1e-3},
        "alpha": {"type": "uniform", "low": 0.0, "high": 0.6},
        "theta": {"type": "uniform", "low": 0.25, "high": 0.75},
        "prompt_length": {"type": "choice", "values": [4, 8, 16]},
        "span_ramp": {"type": "choice", "values": [32.0, 64.0, 128.0, 256.0]},
        "rank_margin": {"type": "choice", "values": [0.2, 0.5, 1.0]},
        "sparsity": {"type": "loguniform", "low": 1e-3, "high": 1.0},
        "smooth": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
    }

    def __init__(self, config: TPWNGConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        self.text = PromptTextEncoder(self.class_names, config.prompt_length, config.clip_model,
                                      config.clip_checkpoint, config.text_layers, config.class_context)
        e = self.text.embed_dim
        self.visual_proj = nn.Identity() if feature_dim == e else nn.Linear(feature_dim, e, bias=False)
        self.nvp = nn.Sequential(nn.Linear(2 * e, 4 * e), nn.GELU(), nn.Linear(4 * e, e))   # FFN of Eq. 4
        self.tcsal = nn.ModuleList([TCSALLayer(feature_dim, config.heads, config.span_ramp, config.max_span,
                                               config.causal, config.dropout) for _ in range(config.layers)])
        self.norm = nn.LayerNorm(feature_dim)
        self.classifier = nn.Linear(feature_dim, 1)

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        h = x.reshape(b * c, t, d)
        valid = h.abs().sum(-1) > 0                                    # (N, T): pad_sample pads with zeros
        for layer in self.tcsal:
            h = layer(h, valid)
        eta = torch.sigmoid(self.classifier(self.norm(h))).squeeze(-1)   # (N, T)
        return Output(eta.view(b, c, t).mean(1), {"visual": self.visual_proj(x)})   # visual (B, C, T, E)

    def configure_optimizer(self):
        params = [p for p in self.parameters() if p.requires_grad]       # CLIP text encoder stays frozen
        return torch.optim.AdamW(params, lr=self.config.lr, weight_decay=self.config.weight_decay), None

    def similarities(self, visual: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Cosine match similarities (B, T, K) of frames (B, C, T, E) and texts (K, E) or (B, K, E), crop mean."""
        v = F.normalize(visual, dim=-1)
        tn = F.normalize(text, dim=-1)
        if tn.dim() == 2:
            return torch.einsum("bcte,ke->btk", v, tn) / v.shape[1]
        return torch.einsum("bcte,bke->btk", v, tn) / v.shape[1]

    def loss(self, output: Output, batch: Batch):
        cfg, n = self.config, batch.n_normal
        eta, visual = output.scores, output.extras["visual"]              # (B, T), (B, C, T, E)
        bsz, t = eta.shape
        valid = torch.arange(t, device=eta.device)[None, :] < batch.lengths.to(eta.device)[:, None]   # (B, T)
        text = self.text()                                                 # (K, E): Normal, then anomalies
        k = text.shape[0]
        sim = self.similarities(visual, text)                              # (B, T, K)
        neg = float("-inf")

        def vmax(s, mask):  # max over valid frames (and any trailing class axis)
            m = mask if s.dim() == 2 else mask[..., None]
            return torch.where(m, s, neg).flatten(1).amax(1)

        # Normal videos: their normal text should beat every anomaly text (Eq. 10); NVP from them (Eq. 3–4).
        s_nn, phi_na = sim[:n, :, 0], sim[:n, :, 1:]
        v_nor, ok_nor = visual[:n].mean(1), valid[:n]
        rank_normal = cfg.rank * F.relu(cfg.rank_margin - vmax(s_nn, ok_nor) + vmax(phi_na, ok_nor)).mean()
        q = normality_visual_prompt(s_nn, v_nor, ok_nor, cfg.nvp_temperature)          # Q_i (n, E)
        t_nor = self.nvp(torch.cat((q, text[0].expand_as(q)), -1)) + text[0]           # Ṫ_n (n, E)

        # Abnormal videos: S^an with the NVP-enhanced normal text, S^aa with the true class's text.
        a = bsz - n
        guide = t_nor if n == a else t_nor.mean(0, keepdim=True).expand(a, -1)
        s_an = self.similarities(visual[n:], guide[:, None])[..., 0]                   # (a, T)
        ok = valid[n:]
        anomaly = sim[n:, :, 1:]                                                        # (a, T, K−1)
        cls = batch.class_ids[n:].to(eta.device).long() - 1                           # τ (−1: unknown)
        known = (cls >= 0) & (cls < k - 1)
        best = anomaly.masked_fill(~ok[..., None], neg).amax(1).argmax(-1)             # unknown: best match
        tau = torch.where(known, cls, best)
        s_aa = anomaly.gather(2, tau[:, None, None].expand(-1, t, 1))[..., 0]          # (a, T)
        if k - 1 >= 2:
            others = torch.ones_like(anomaly[0, 0], dtype=torch.bool)[None].repeat(a, 1)  # (a, K−1)
            others[torch.arange(a), tau] = False
            phi_aa = vmax(anomaly.masked_fill(~others[:, None, :], neg), ok)           # (a,)
            rank_abnormal = cfg.rank * (F.relu(cfg.rank_margin - vmax(s_an, ok) + phi_aa)
                                        + F.relu(cfg.rank_margin - vmax(s_aa, ok) + phi_aa)).mean()
        else:  # a single anomaly class: no other anomaly text to rank against
            rank_abnormal = eta.sum() * 0.0

        def masked_cos(x, y):  # cosine over each video's valid frames
            x, y = x * ok, y * ok
            return (x * y).sum(-1) / (x.norm(dim=-1) * y.norm(dim=-1)).clamp_min(1e-8)

        dil = cfg.dil * masked_cos(s_aa, s_an).mean()                                  # Eq. 12
        s_aa_tilde = minmax(s_aa, ok)
        sparsity = cfg.sparsity * s_aa_tilde.sum(-1).mean()
        pairs = ok[:, 1:] & ok[:, :-1]
        smooth = cfg.smooth * (((s_aa_tilde[:, 1:] - s_aa_tilde[:, :-1]) ** 2) * pairs).sum(-1).mean()

        with torch.no_grad():                                                           # PLG, Eqs. 5–6
            gamma = torch.zeros_like(eta)
            gamma[n:] = pseudo_labels(s_aa, s_an, ok, cfg.alpha, cfg.theta)
        cls_loss = F.binary_cross_entropy(eta[valid], gamma[valid])                     # Eq. 13
        parts = {"cls": cls_loss, "rank_normal": rank_normal, "rank_abnormal": rank_abnormal,
                 "dil": dil, "sparsity": sparsity, "smooth": smooth}
        return sum(parts.values()), parts
