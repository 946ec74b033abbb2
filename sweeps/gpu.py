"""Fractional GPU packing: several trials share one small card.

Ray's fractional GPUs are bookkeeping only (DESIGN.md), so each trial also caps its own CUDA
memory. `--gpus-per-trial auto` measures each method's peak CUDA memory at its batch size in a
short calibration on a GPU worker and packs as many trials as fit:

    per_trial = peak · (1 + headroom) + context      (context: CUDA context + allocator slack)
    k         = floor(card / per_trial)               trials per card (≥ 1)
    fraction  = 1 / k                                 Ray's bookkeeping; exact so k trials fit
    cap       = fraction                              torch.cuda.set_per_process_memory_fraction

On a machine without a physical GPU, trials run on the CPU even where Ray declares logical GPUs,
so the packing itself is testable anywhere.
"""

from __future__ import annotations


DESIGN_CARD_BYTES = 6 * 1024**3      # the design point: a 6 GB card
CONTEXT_BYTES = 400 * 1024**2        # CUDA context + caching-allocator slack per process
HEADROOM = 0.2


def trials_per_card(peak_bytes: int, card_bytes: int, headroom: float = HEADROOM,
                    context_bytes: int = CONTEXT_BYTES) -> int:
    per_trial = peak_bytes * (1 + headroom) + context_bytes
    return max(1, int(card_bytes // per_trial))


def fraction_for(peak_bytes: int, card_bytes: int) -> float:
    """The GPU fraction to request so that `trials_per_card` trials pack onto one card."""
    return 1.0 / trials_per_card(peak_bytes, card_bytes)


def calibrate(method: str, feature_dim: int, crops: int, segments: int | None, overrides: dict,
              amp: str = "off") -> dict:
    """Peak CUDA memory of one train step of `method` at its batch size (runs on a GPU worker)."""
    import torch

    from wsvad.methods import create
    from wsvad.methods.base import Batch
    from wsvad.train.amp import autocast, to_fp32

    if not torch.cuda.is_available():
        return {"peak_bytes": 0, "card_bytes": 0, "device": "cpu"}
    device = torch.device("cuda")
    torch.cuda.reset_peak_memory_stats(device)
    model = create(method, feature_dim, overrides).to(device).train()
    cfg = model.config
    t = segments or cfg.segments
    c = 1 if model.inputs.train_crops in ("random", "each") else crops
    n = cfg.batch_size
    x = torch.randn(2 * n, c, t, feature_dim, device=device)
    labels = torch.cat([torch.zeros(n), torch.ones(n)]).to(device)
    batch = Batch(x, labels, n, n, (labels > 0).long(), torch.zeros(2 * n, dtype=torch.bool, device=device),
                  torch.full((2 * n,), t, device=device))
    optimizer, _ = model.configure_optimizer()
    for _ in range(2):  # the second step includes optimiser state
        with autocast(amp, "cuda"):  # as the trials run: AMP's half-precision activations need less
            output = model(batch.features)
        total, _ = model.loss(to_fp32(output), batch)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated(device)
    card = torch.cuda.get_device_properties(device).total_memory
    return {"peak_bytes": int(peak), "card_bytes": int(card), "device": torch.cuda.get_device_name(device)}


def setup_trial_device(gpu_fraction: float) -> str:
    """Inside a trial: use CUDA when Ray gave it a GPU share and one physically exists, capping
    this process to its share of the card; otherwise run on the CPU."""
    import torch

    if gpu_fraction <= 0 or not torch.cuda.is_available():
        return "cpu"
    if gpu_fraction < 1:
        torch.cuda.set_per_process_memory_fraction(gpu_fraction, 0)
    return "cuda"


def describe(peak_bytes: int, card_bytes: int) -> str:
    k = trials_per_card(peak_bytes, card_bytes)
    return (f"peak {peak_bytes / 2**20:.0f} MiB → {k} trial(s) per {card_bytes / 2**30:.1f} GiB card "
            f"(fraction {1 / k:.3f})")


