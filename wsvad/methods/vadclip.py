"""VadCLIP: Adapting Vision-Language Models for Weakly Supervised Video Anomaly Detection
(Wu, Zhou, Li, Zhang, Wang, Zhang; AAAI 2024).

Official code: github.com/nwpu-zxr/VadCLIP (Apache-2.0), commit f643c91: src/model.py (`CLIPVAD`),
src/utils/layers.py (`GraphConvolution`, `DistanceAdj`), src/ucf_train.py (`CLAS2`, `CLASM`, the
text-divergence term, AdamW + MultiStepLR), src/ucf_test.py and utils/tools.py (`process_split`,
the test path), src/ucf_option.py (hyperparameters), utils/dataset.py + list/ucf_CLIP_rgb*.csv
(every one of the 10 crops is its own training row; the test list holds crop `__5` only). Module
and parameter names follow model.py, so an official `state_dict` loads unchanged.

Binary branch (L = 256 positions, features zero-padded after the video's length l):
    x      = X + P                                          frame_position_embeddings, positions 0..L−1
    x      = Transformer(x)                                 2 CLIP blocks, 1 head, attention only inside
                                                            fixed windows of 8 positions (padding included)
    S      = softmax_row(thresh_0.7(cos(x_i, x_j)))  on [:l, :l], 0 elsewhere      (adj4)
    G      = exp(−|i − j| / e)                              on all L × L              (DistanceAdj)
    v      = linear([gelu(gc2(gelu(gc1(x, S)), S)) ∥ gelu(gc4(gelu(gc3(x, G)), G))])
             gc(x, A) = A x W + residual(x)  (Conv1d k5 when widths differ, identity otherwise)
    a      = classifier(v + mlp2(v))                        logits1 (L,); score = sigmoid(a)
Text branch (class prompts, CLIP's frozen text encoder):
    t_c    = CLIP_text([SOT, p_1..p_10, tokens(c), p_.., EOT at 10 + |c| + 10])   learnable p
    t'_c   = t_c + ‖aᵀ v‖⁻¹ aᵀ v;   t'_c ← t'_c + mlp1(t'_c)
    b_tc   = cos(v_t, t'_c) / 0.07                          logits2 (L, C)
Loss (k_i = ⌊l_i / 16⌋ + 1):
    CLAS2  = BCE(mean top-k_i sigmoid(a), y)
    CLASM  = −mean_i Σ_c ŷ_ic log softmax_c(mean top-k_i b_·c)      ŷ = class one-hot
    + 0.1 · Σ_{c≥1} |t̂_0 · t̂_c| / (C − 1)                          t̂ = t / ‖t‖ (official: / 13)
AdamW(2e-5, weight decay 0.01 = the AdamW default the official code keeps), MultiStepLR([4, 8], 0.1)
stepped per epoch, 10 epochs of 64 normal + 64 abnormal crops, seed 234.

Test path (ucf_test.py, tools.process_split), for one crop: T < 256 → one window zero-padded to
256 with length T; T ≥ 256 → ⌈T/256⌉ windows of 256 (the last zero-padded, length = remainder);
positions restart in each window; the window mask and the distance graph are rebuilt for 256
positions; score = sigmoid(logits1) of the first T positions. (Officially int(T/256)+1 windows: a
multiple of 256 gets an extra all-zero window whose scores are discarded; windows are independent,
so leaving it out changes nothing.)

Deliberate differences from the official code (numerically identical otherwise; see
tests/wsvad/methods/test_vadclip_golden.py):
- `forward(x)` receives no lengths from the trainer (the contract passes features only): unless
  given, a bag's length is its last non-all-zero snippet + 1 (the padding is exact zeros), and
  `loss` checks it against `Batch.lengths`;
- the frozen CLIP text tower is built with open_clip (ViT-B-16 with QuickGELU, as OpenAI's CLIP)
  and kept out of our state_dict (`clip_checkpoint`: a local open_clip checkpoint; empty: a seeded
  random tower, for tests); `load_official` copies an official checkpoint's `clipmodel.*` text
  weights into it. `text_layers` can truncate it (tests/toy runs only);
- the text transformer runs on the first max(EOT)+1 of the 77 prompt positions (causal: the EOT
  output is the same); prompts are assembled by one gather instead of a per-class loop;
- the visual width is the feature dimension D (officially visual_width = 512 = CLIP's); when D
  differs from CLIP's embedding width E a linear `text_adapter` E → D maps the class features into
  the visual space (absent when D = E, as officially); `linear` reads 2·⌊D/2⌋ channels (D for even D);
- the per-video loops (similarity graph, top-k means) are vectorised with masks;
- class prompts are the class names with a lower-case first letter ("Normal" → "normal",
  "RoadAccidents" → "roadAccidents", as the official UCF label map); one class per video (the
  XD-Violence multi-label names "B1-B2" are not split); the divergence term divides by C − 1
  (officially a hard-coded 13, the UCF-Crime value);
- the official test list holds crop `__5` of the 10-crop features; `score` reads crop 0 (InputSpec
  test_crops "first": the crop a feature set stores first);
- `disAdj.sigma` (never used officially) is not a parameter; no `.cuda()`.
Training bags come from `segments.pad_sample` (zero padding + `Batch.lengths` for T ≤ 256). For
T > 256 the official `process_feat` mean-pools over int(linspace(0, T, 257)) bounds (`uniform_extract`
with avg=True, i.e. `linspace_mean`), while `pad_sample` currently samples snippets; see the xfail
test in tests/wsvad/methods/test_vadclip_golden.py.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.errors import ConfigError
from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.registry import register


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def feed_forward(width: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()),
                                      ("c_proj", nn.Linear(width * 4, width))]))


class ResidualAttentionBlock(nn.Module):
    """CLIP's pre-norm block; the (L, L) additive mask confines attention to its windows."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = feed_forward(width)
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:     # x (L, N, D) sequence-first
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class GraphConvolution(nn.Module):
    """layers.py `GraphConvolution`: A x W + residual (Conv1d k5 when the widths differ), no bias."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        nn.init.xavier_uniform_(self.weight)
        if in_features != out_features:
            self.residual = nn.Conv1d(in_features, out_features, kernel_size=5, padding=2)
        else:
            self.residual = None

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:     # x (N, L, D), adj (N|1, L, L)
        out = adj.matmul(x.matmul(self.weight))                                  # (N, L, D')
        if self.residual is None:
            return out + x
        return out + self.residual(x.permute(0, 2, 1)).permute(0, 2, 1)


def window_mask(length: int, window: int, device=None) -> torch.Tensor:
    """model.py `build_attention_mask`: 0 inside fixed windows of `window` positions, −inf elsewhere;
    positions after the last full window join it."""
    block = torch.div(torch.arange(length, device=device), window, rounding_mode="floor")
    block = block.clamp(max=max(length // window - 1, 0))
    mask = torch.full((length, length), float("-inf"), device=device)
    return mask.masked_fill(block[:, None] == block[None, :], 0.0)


def distance_graph(length: int, device=None) -> torch.Tensor:
    """layers.py `DistanceAdj`: exp(−|i − j| / e) over all positions (padding included)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)
    return torch.exp(-(pos[:, None] - pos[None, :]).abs() / torch.exp(torch.tensor(1.0, device=device)))


def similarity_graph(x: torch.Tensor, lengths: torch.Tensor, threshold: float) -> torch.Tensor:
    """model.py `adj4`: cosine similarity, thresholded, softmax over each row of [:l, :l], 0 elsewhere."""
    n, length, _ = x.shape
    norm = x.norm(p=2, dim=2, keepdim=True)                                      # (N, L, 1)
    cos = x.matmul(x.transpose(1, 2)) / (norm.matmul(norm.transpose(1, 2)) + 1e-20)   # (N, L, L)
    cos = F.threshold(cos, threshold, 0)
    valid = torch.arange(length, device=x.device)[None, :] < lengths[:, None]   # (N, L)
    soft = cos.masked_fill(~valid[:, None, :], float("-inf")).softmax(dim=-1)
    return soft.masked_fill(~(valid[:, :, None] & valid[:, None, :]), 0.0)


def top_k_mean(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of the k_i = ⌊l_i/16⌋ + 1 largest of values[i, :l_i] along dim 1: (N, L, ...) → (N, ...)."""
    n, length = values.shape[:2]
    k = torch.div(lengths, 16, rounding_mode="floor") + 1                        # (N,)
    k_max = int(k.max())
    shape = (n, length) + (1,) * (values.dim() - 2)
    valid = (torch.arange(length, device=values.device)[None, :] < lengths[:, None]).view(shape)
    top = values.masked_fill(~valid, float("-inf")).topk(k_max, dim=1).values    # (N, k_max, ...)
    keep = (torch.arange(k_max, device=values.device)[None, :] < k[:, None]).view((n, k_max) + shape[2:])
    return torch.where(keep, top, torch.zeros_like(top)).sum(1) / k.view((n,) + shape[2:]).to(values.dtype)


def prompt_of(class_name: str) -> str:
    """The official UCF label map: the class name with a lower-case first letter."""
    return class_name[:1].lower() + class_name[1:]


@dataclass
class VadCLIPConfig(MethodConfig):
    lr: float = 2e-5
    weight_decay: float = 0.01          # torch AdamW's default; the official code passes lr only
    batch_size: int = 64
    segments: int = 256                 # visual_length: training bags and test windows
    max_steps: int = 0
    max_epochs: int = 10
    milestones: tuple[int, ...] = (4, 8)   # MultiStepLR, in epochs
    lr_gamma: float = 0.1
    layers: int = 2                     # visual_layers
    heads: int = 1                      # visual_head
    window: int = 8                     # attn_window
    prompt_prefix: int = 10
    prompt_postfix: int = 10
    similarity_threshold: float = 0.7   # adj4's F.threshold
    temperature: float = 0.07           # logits2 = cos / 0.07
    clasm_weight: float = 1.0
    text_weight: float = 0.1            # the text-divergence term
    clip_model: str = "ViT-B-16"        # open_clip name of CLIP's text encoder (OpenAI ViT-B/16 officially)
    clip_checkpoint: str = ""           # local open_clip checkpoint; "" = a seeded random tower (tests)
    clip_quick_gelu: bool = True        # OpenAI CLIP uses QuickGELU
    text_layers: int = 0                # 0: every text block; n: the first n only (tests, toy runs)

    def validate(self) -> None:
        for name in ("layers", "heads", "window"):
            if getattr(self, name) < 1:
                raise ConfigError(f"vadclip.{name} must be >= 1, got {getattr(self, name)}")
        if self.prompt_prefix < 0 or self.prompt_postfix < 0 or self.text_layers < 0:
            raise ConfigError("vadclip.prompt_prefix, prompt_postfix and text_layers must be >= 0")


@register
class VadCLIP(Method):
    name = "vadclip"
    paper = ("Wu et al., VadCLIP: Adapting Vision-Language Models for Weakly Supervised Video Anomaly "
             "Detection, AAAI 2024")
    official_code = "https://github.com/nwpu-zxr/VadCLIP"
    Config = VadCLIPConfig
    inputs = InputSpec(pooling="pad_sample", train_crops="each", test_crops="first", official_dim=512)
    search_space = {
        "lr": {"type": "loguniform", "low": 5e-6, "high": 2e-4},
        "weight_decay": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "layers": {"type": "int", "low": 1, "high": 3},
        "window": {"type": "choice", "values": [4, 8, 16, 32, 64]},
        "prompt_prefix": {"type": "int", "low": 0, "high": 16},
        "prompt_postfix": {"type": "int", "low": 0, "high": 16},
        "text_weight": {"type": "loguniform", "low": 1e-2, "high": 1.0},
        "clasm_weight": {"type": "loguniform", "low": 0.1, "high": 3.0},
    }
    # disAdj.sigma is a parameter no official code path reads; clipmodel.* is CLIP itself (its text
    # weights are copied into the frozen tower by `load_official`, its vision tower is never used).
    official_ignored_keys = ("clipmodel", "disAdj")

    def __init__(self, config: VadCLIPConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        d = feature_dim
        if d < 2 or d % config.heads:
            raise ConfigError(f"vadclip: feature dimension {d} must be >= 2 and divisible by heads={config.heads}")
        from wsvad.methods.components.clip_text import CLIPTextTower  # lazily: open_clip only when built

        tower = CLIPTextTower(config.clip_model, config.clip_checkpoint, config.clip_quick_gelu, config.text_layers)
        object.__setattr__(self, "clip_text", tower)   # frozen CLIP: not a submodule, not in our state_dict

        self.temporal = Transformer(d, config.layers, config.heads)
        width = d // 2
        self.gc1 = GraphConvolution(d, width)
        self.gc2 = GraphConvolution(width, width)
        self.gc3 = GraphConvolution(d, width)
        self.gc4 = GraphConvolution(width, width)
        self.linear = nn.Linear(2 * width, d)
        self.gelu = QuickGELU()
        self.mlp1 = feed_forward(d)
        self.mlp2 = feed_forward(d)
        self.classifier = nn.Linear(d, 1)
        self.frame_position_embeddings = nn.Embedding(config.segments, d)
        self.text_prompt_embeddings = nn.Embedding(tower.context_length, tower.width)
        self.text_adapter = nn.Linear(tower.embed_dim, d) if tower.embed_dim != d else None
        nn.init.normal_(self.text_prompt_embeddings.weight, std=0.01)
        nn.init.normal_(self.frame_position_embeddings.weight, std=0.01)

        tokens = tower.tokenize([prompt_of(c) for c in self.class_names])           # (C, 77)
        eot = tokens.argmax(-1)
        last = config.prompt_prefix + int(eot.max()) + config.prompt_postfix
        if last >= tower.context_length:
            raise ConfigError(f"vadclip: prompt of {int(eot.max()) - 1} tokens + prefix {config.prompt_prefix} "
                              f"+ postfix {config.prompt_postfix} exceeds CLIP's {tower.context_length} positions")
        self.register_buffer("prompt_tokens", tokens, persistent=False)

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.clip_text._apply(fn, recurse)   # .to(device) / .double() move the frozen tower too
        return self

    # --- binary branch ------------------------------------------------------------------
    def encode_video(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Visual features v (N, L, D) of zero-padded windows x (N, L, D) with valid lengths (N,)."""
        n, length, _ = x.shape
        x = x + self.frame_position_embeddings.weight[:length]                  # positions restart per window
        mask = window_mask(length, self.config.window, x.device).to(x.dtype)   # (L, L)
        x = self.temporal(x.transpose(0, 1), mask).transpose(0, 1)              # (N, L, D)
        adj = similarity_graph(x, lengths, self.config.similarity_threshold)   # (N, L, L)
        dis = distance_graph(length, x.device).to(x.dtype)[None]                # (1, L, L)
        x1 = self.gelu(self.gc2(self.gelu(self.gc1(x, adj)), adj))              # (N, L, D/2)
        x2 = self.gelu(self.gc4(self.gelu(self.gc3(x, dis)), dis))
        return self.linear(torch.cat((x1, x2), dim=2))                          # (N, L, D)

    def binary_logits(self, visual: torch.Tensor) -> torch.Tensor:
        return self.classifier(visual + self.mlp2(visual)).squeeze(-1)          # (N, L)

    # --- text branch ----------------------------------------------------------------------
    def encode_prompts(self) -> torch.Tensor:
        """CLIP text features (C, E) of the class prompts with the learnable context."""
        cfg, tokens = self.config, self.prompt_tokens
        c, length = tokens.shape
        words = self.clip_text.token_embedding(tokens)                          # (C, 77, W)
        eot = tokens.argmax(-1)                                                 # (C,)
        pos = torch.arange(length, device=tokens.device)[None, :]               # (1, 77)
        source = torch.full((c, length), -1, dtype=torch.long, device=tokens.device)
        source[:, 0] = 0                                                        # SOT
        in_name = (pos > cfg.prompt_prefix) & (pos < cfg.prompt_prefix + eot[:, None])
        source = torch.where(in_name, pos - cfg.prompt_prefix, source)          # class-name tokens
        new_eot = cfg.prompt_prefix + eot + cfg.prompt_postfix
        source = torch.where(pos == new_eot[:, None], eot[:, None], source)     # EOT
        taken = words.gather(1, source.clamp(min=0)[..., None].expand(-1, -1, words.shape[2]))
        context = self.text_prompt_embeddings.weight[None].expand(c, -1, -1)    # (C, 77, W)
        x = torch.where((source >= 0)[..., None], taken, context)
        return self.clip_text.encode(x, new_eot)                                # (C, E)

    def align(self, visual: torch.Tensor, logits1: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """logits2 (N, L, C): cosine of each snippet with each class feature, shifted by the video."""
        if self.text_adapter is not None:
            text = self.text_adapter(text)                                      # (C, D)
        video = logits1[:, None, :] @ visual                                    # (N, 1, D)
        video = video / video.norm(dim=-1, keepdim=True)
        t = text[None] + video                                                  # (N, C, D)
        t = t + self.mlp1(t)
        v_hat = visual / visual.norm(dim=-1, keepdim=True)
        t_hat = t / t.norm(dim=-1, keepdim=True)
        return v_hat @ t_hat.transpose(1, 2) / self.config.temperature          # (N, L, C)

    # --- contract -------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Output:
        b, c, t, d = x.shape
        length = self.config.segments
        if t > length:
            raise ValueError(f"vadclip: bags have {t} snippets but visual_length (segments) is {length}")
        v = x.reshape(b * c, t, d)
        if lengths is None:
            nonzero = (v != 0).any(-1)                                          # (N, T)
            lengths = torch.where(nonzero.any(1), t - nonzero.flip(1).int().argmax(1), 1)
        else:
            lengths = lengths.to(x.device).repeat_interleave(c)
        v = F.pad(v, (0, 0, 0, length - t))                                     # (N, L, D): zero padding
        visual = self.encode_video(v, lengths)
        logits1 = self.binary_logits(visual)                                    # (N, L)
        text = self.encode_prompts()                                            # (C, E)
        logits2 = self.align(visual, logits1, text)                             # (N, L, C)
        scores = torch.sigmoid(logits1[:, :t]).view(b, c, t).mean(1)            # (B, T)
        return Output(scores, {"logits1": logits1, "logits2": logits2, "text_features": text,
                               "lengths": lengths, "crops": c})

    def loss(self, output: Output, batch: Batch):
        cfg, ex = self.config, output.extras
        c = ex["crops"]
        lengths = batch.lengths.to(ex["lengths"].device).repeat_interleave(c)
        if not torch.equal(lengths, ex["lengths"]):
            raise ValueError("vadclip: the lengths inferred from the zero padding differ from Batch.lengths "
                             "(a video ends in all-zero snippets?): call forward(x, lengths=batch.lengths)")
        labels = batch.labels.to(lengths.device).float().repeat_interleave(c)   # (N,)
        onehot = F.one_hot(batch.class_ids.to(lengths.device), len(self.class_names)).float().repeat_interleave(c, 0)
        video = top_k_mean(torch.sigmoid(ex["logits1"]), lengths)               # (N,)
        clas2 = F.binary_cross_entropy(video, labels)
        classes = top_k_mean(ex["logits2"], lengths)                             # (N, C)
        target = onehot / onehot.sum(1, keepdim=True)
        clasm = -(target * F.log_softmax(classes, dim=1)).sum(1).mean()
        t_hat = ex["text_features"] / ex["text_features"].norm(dim=-1, keepdim=True)
        divergence = (t_hat[1:] @ t_hat[0]).abs().sum() / max(t_hat.shape[0] - 1, 1)
        parts = {"clas2": clas2, "clasm": cfg.clasm_weight * clasm, "text_divergence": cfg.text_weight * divergence}
        return sum(parts.values()), parts

    @torch.no_grad()
    def score(self, video: torch.Tensor) -> torch.Tensor:
        """ucf_test.py: crop 0, windows of `segments` snippets, sigmoid(logits1) of the first T."""
        x = video[0]                                                            # (T, D)
        t, length = x.shape[0], self.config.segments
        windows = max(math.ceil(t / length), 1)
        x = F.pad(x, (0, 0, 0, windows * length - t)).view(windows, length, -1)   # (W, L, D)
        lengths = torch.full((windows,), length, dtype=torch.long, device=x.device)
        lengths[-1] = t - length * (windows - 1)
        logits1 = self.binary_logits(self.encode_video(x, lengths))             # (W, L)
        return torch.sigmoid(logits1.reshape(-1)[:t])

    def configure_optimizer(self):
        cfg = self.config
        opt = torch.optim.AdamW(self.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        return opt, torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), cfg.lr_gamma)

    def load_official(self, state_dict: dict) -> None:
        """As the base; an official checkpoint's CLIP text weights (`clipmodel.*`) also fill the frozen tower."""
        converted = self.convert_official(state_dict)
        text = {k.removeprefix("clipmodel."): v for k, v in converted.items()
                if k.startswith("clipmodel.") and not k.startswith("clipmodel.visual.")}
        if text:
            self.clip_text.load_openai_text(text)
        super().load_official(state_dict)
