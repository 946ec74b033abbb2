"""Automatic mixed precision for a train step: forward in bf16/fp16, the loss and the update in fp32.

`--amp bf16` (or `fp16`) runs each method's forward pass under `torch.autocast`: matmuls and
convolutions in the half type (tensor cores on a GPU), reductions and normalisations in fp32, as
autocast decides per op. The method's *loss* then runs outside autocast on fp32 copies of the
outputs, so the official loss code (BCE on probabilities, top-k means, margins) sees the
precision it was written for — PyTorch even refuses BCE on half inputs under CUDA autocast. fp16
adds a dynamic loss scaler (fp16 gradients underflow without it); bf16 has fp32's range and needs
none. Evaluation, model selection and every reported metric stay in fp32.

AMP is an option, off by default: it changes the numbers (the official code trains in fp32), so a
run records it (`amp` in the trainer options, the checkpoint and the MLflow params).
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch

from wsvad.errors import ConfigError

AMP_CHOICES = ("off", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_amp(amp: str) -> None:
    if amp not in AMP_CHOICES:
        raise ConfigError(f"--amp must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")


def device_type(device: str) -> str:
    return str(device).split(":", 1)[0]


def autocast(amp: str, device: str):
    """The forward pass's context: autocast to the half type, or nothing with amp 'off'."""
    if amp == "off":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type(device), dtype=_DTYPES[amp])


def to_fp32(output):
    """The model's output with every floating tensor in fp32 (nested tuples, lists and dicts too)."""
    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() and output.dtype != torch.float32 else output
    if dataclasses.is_dataclass(output) and not isinstance(output, type):  # a method's Output
        return dataclasses.replace(output, **{f.name: to_fp32(getattr(output, f.name))
                                              for f in dataclasses.fields(output) if f.init})
    if isinstance(output, dict):
        return type(output)((k, to_fp32(v)) for k, v in output.items())
    if isinstance(output, (list, tuple)):
        items = [to_fp32(v) for v in output]
        if hasattr(output, "_fields"):  # a namedtuple
            return type(output)(*items)
        return type(output)(items)
    return output


def grad_scaler(amp: str, device: str):
    """fp16's dynamic loss scaler (None for off and bf16: nothing to scale)."""
    if amp != "fp16":
        return None
    return torch.amp.GradScaler(device_type(device))
