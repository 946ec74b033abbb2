"""CLIP's frozen text encoder fed with prompt *embeddings* (learnable context around class tokens).

VadCLIP (and other CLIP-prompting methods) run CLIP's text transformer on embeddings they
assemble themselves: learnable context vectors, the class name's token embeddings, and the EOT
embedding, then read the output at the EOT position (nwpu-zxr/VadCLIP src/clip/model.py
`encode_token`, `encode_text(text, token)`):

    h   = x + positional_embedding                     x: (N, L, W) prompt embeddings
    h   = Transformer(h, causal mask)                  CLIP's text transformer (frozen)
    out = ln_final(h)[eot] @ text_projection           (N, E)

The tower is built with open_clip (imported here, lazily: only methods that construct a tower
need it). `open_clip.create_model(name, pretrained=None)` gives a random tower offline (tests);
`checkpoint` is a local open_clip checkpoint of the model for real runs. The tower is frozen
(requires_grad False, eval mode); gradients still flow through it to the prompt embeddings.

Because the mask is causal, the output at the EOT position depends only on positions ≤ EOT:
`encode` runs the transformer on the first max(eot)+1 positions only (mathematically identical to
the full 77-token context, float rounding aside; ~3× cheaper for short prompts).
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import torch
from torch import nn

from wsvad.errors import CheckpointError, ConfigError

# Random-init towers are built under this seed, outside the global RNG stream, so a method built
# twice gets the same (unsaved) tower and building one never shifts the caller's random numbers.
RANDOM_TOWER_SEED = 0
# The vision tower is never used: without a checkpoint, a minimal one saves ~90 M random parameters.
TINY_VISION = {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 64}


class RandomTextTowerWarning(UserWarning):
    """A VadCLIP / TPWNG model whose CLIP text encoder has random weights."""


class CLIPTextTower(nn.Module):
    """CLIP's text transformer with the OpenAI parameter names (token_embedding, positional_embedding,
    transformer.resblocks.*, ln_final, text_projection), frozen."""

    def __init__(self, model_name: str = "ViT-B-16", checkpoint: str = "", quick_gelu: bool = True, layers: int = 0):
        super().__init__()
        try:
            import open_clip
        except ImportError as e:  # pragma: no cover - environment
            raise ConfigError("this method needs open_clip (pip install open_clip_torch) for CLIP's text encoder") from e
        if checkpoint:
            clip = open_clip.create_model(model_name, pretrained=checkpoint, force_quick_gelu=quick_gelu)
        else:
            # Without CLIP's weights the text side carries no language: VadCLIP's and TPWNG's prompts are
            # then random vectors, fine for tests and the toy demo, wrong for any number compared with a paper.
            warnings.warn(f"CLIP text tower {model_name} built with random weights (no clip_checkpoint set): "
                          "class prompts carry no meaning; pass --set clip_checkpoint=/path/to/open_clip.bin "
                          "for results comparable with the paper", RandomTextTowerWarning, stacklevel=2)
            with torch.random.fork_rng(devices=[]), _quiet("root"):
                torch.manual_seed(RANDOM_TOWER_SEED)
                clip = open_clip.create_model(model_name, pretrained=None, force_quick_gelu=quick_gelu,
                                              vision_cfg=TINY_VISION)
        self.model_name = model_name
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.register_buffer("attn_mask", clip.attn_mask, persistent=False)
        if not self.transformer.batch_first:  # pragma: no cover - old open_clip
            raise ConfigError("open_clip's text transformer must be batch-first (open_clip >= 2.24)")
        if layers:
            if layers > len(self.transformer.resblocks):
                raise ConfigError(f"text_layers={layers} but {model_name} has {len(self.transformer.resblocks)}")
            self.transformer.resblocks = self.transformer.resblocks[:layers]
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.requires_grad_(False)
        self.eval()

    @property
    def width(self) -> int:
        return self.token_embedding.weight.shape[1]

    @property
    def embed_dim(self) -> int:
        return self.text_projection.shape[1]

    @property
    def context_length(self) -> int:
        return self.positional_embedding.shape[0]

    def train(self, mode: bool = True):
        return super().train(False)  # frozen: always in eval mode

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """CLIP BPE token ids (N, context_length): SOT, tokens, EOT (the largest id), zeros."""
        return self.tokenizer(texts)

    def encode(self, x: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
        """Text features (N, E) of prompt embeddings x (N, L, W), read at positions eot (N,)."""
        length = int(eot.max()) + 1
        h = x[:, :length] + self.positional_embedding[:length]                    # (N, L', W)
        h = self.transformer(h, attn_mask=self.attn_mask[:length, :length])
        h = self.ln_final(h)
        return h[torch.arange(h.shape[0], device=h.device), eot] @ self.text_projection   # (N, E)

    def load_openai_text(self, state: dict) -> None:
        """Copy CLIP text weights given with OpenAI names (e.g. an official VadCLIP checkpoint's
        `clipmodel.*` with the prefix removed); blocks beyond a truncated tower are skipped."""
        ours = self.state_dict()
        missing = sorted(k for k in ours if k not in state)
        if missing:
            raise CheckpointError(f"CLIP text weights lack {missing[:4]}{'...' if len(missing) > 4 else ''}")
        bad = [k for k in ours if tuple(state[k].shape) != tuple(ours[k].shape)]
        if bad:
            raise CheckpointError(f"CLIP text weight {bad[0]!r} has shape {tuple(state[bad[0]].shape)}, "
                                  f"expected {tuple(ours[bad[0]].shape)} (another CLIP model?)")
        self.load_state_dict({k: state[k] for k in ours})


@contextlib.contextmanager
def _quiet(name: str):
    """Silence open_clip's 'No pretrained weights loaded' warning for deliberate random towers."""
    logger = logging.getLogger(name if name != "root" else None)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
