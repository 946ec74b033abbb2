"""Per-method costs of one training step at the official feature layout, the inputs of docs/scaling.md.

Measured here, per method, each (method, batch) in a fresh process on the CPU:
- parameters and the bytes of one checkpointed report (the trainer state a sweep trial saves at
  every evaluation: model, optimiser, best weights; `torch.save` into memory);
- FLOPs of one train step (forward + backward, `torch.utils.flop_counter`: matmuls, convolutions,
  attention) and the number of aten operations it dispatches (≈ GPU kernel launches), at two small
  per-side batch sizes — both are linear in the batch, so the official batch's values follow;
- the tensors a train step holds at its peak — the activations autograd saves for backward (unique
  storages), the input, parameters, gradients and optimiser state — at the same two batch sizes,
  extrapolated linearly to the official batch: float32, the bytes a GPU's allocator would hold
  (its slack and the CUDA context aside); the RSS growth of the first step is printed as a check.

Printed as a table and `--json`; `--report` writes the markdown. No GPU is used.

    python benchmarks/method_costs.py [--methods all] [--batches 2,8] [--report FILE.md] [--json FILE.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import LAYOUTS, UCF_CLASSES  # noqa: E402  (the official layouts, one definition)


def measure(method: str, per_side: int) -> dict:
    """One (method, batch) in this process: memory of the first step, then FLOPs and op count."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    from wsvad.methods import get_method, make_config
    from wsvad.methods.base import Batch

    torch.manual_seed(0)
    torch.set_num_threads(2)
    dim, crops, _ = LAYOUTS[method]
    cls = get_method(method)
    config = make_config(cls)
    model = cls(config, dim, class_names=["Normal", *UCF_CLASSES])
    if method == "s3r":
        model.set_dictionary(torch.randn(400, dim))          # UCF-Crime: 800 normal videos × 50 %
    c = 1 if cls.inputs.train_crops in ("random", "each") else crops
    t = config.segments
    n = per_side
    batch = Batch(torch.randn(2 * n, c, t, dim), torch.cat([torch.zeros(n), torch.ones(n)]), n, n,
                  torch.cat([torch.zeros(n), torch.arange(1, n + 1) % len(UCF_CLASSES) + 1]).long(),
                  torch.zeros(2 * n, dtype=torch.bool), torch.full((2 * n,), t))
    optimizer, _ = model.configure_optimizer()
    model.train()

    def step():
        total, _ = model.loss(model(batch.features), batch)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    rss_before = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    started = time.perf_counter()
    step()
    step_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    class Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.ops += 1
            return func(*args, **(kwargs or {}))

    with FlopCounterMode(display=False) as flops, Count():
        step()

    # Tensor accounting (what a GPU's allocator would hold at the step's peak, allocator slack aside):
    # the activations autograd saves for backward (unique storages), the input, the parameters, their
    # gradients and the optimiser state.
    saved: dict[int, int] = {}

    def pack(t):
        st = t.untyped_storage()
        saved[st.data_ptr()] = max(saved.get(st.data_ptr(), 0), st.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        total, _ = model.loss(model(batch.features), batch)
    del total

    def nbytes(ts):
        return sum(t.numel() * t.element_size() for t in ts if torch.is_tensor(t))

    params = list(model.parameters())
    state = [v for s in optimizer.state.values() for v in s.values()]
    tensor_bytes = {"activations": sum(saved.values()), "input": nbytes([batch.features]),
                    "params": nbytes(params), "grads": nbytes(p for p in params if p.requires_grad),
                    "optimizer": nbytes(state)}
    buf = io.BytesIO()
    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "best_state": best}, buf)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"method": method, "per_side": n, "samples": 2 * n, "crops": c, "segments": t, "dim": dim,
            "step_peak_bytes": peak - rss_before, "flops": int(flops.get_total_flops()), "ops": Count.ops,
            "tensor_bytes": tensor_bytes, "tensor_peak_bytes": sum(tensor_bytes.values()),
            "params": sum(p.numel() for p in model.parameters()), "trainable_params": trainable,
            "checkpoint_bytes": buf.getbuffer().nbytes, "cpu_step_s": step_s,
            "official_per_side": config.batch_size, "max_steps": config.max_steps, "max_epochs": config.max_epochs}


def extrapolate(a: dict, b: dict, key: str, n: int) -> float:
    slope = (b[key] - a[key]) / (b["per_side"] - a["per_side"])
    return a[key] + slope * (n - a["per_side"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="all")
    p.add_argument("--batches", default="2,8", help="two per-side batch sizes to measure")
    p.add_argument("--report")
    p.add_argument("--json")
    p.add_argument("--_one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._one:
        method, n = args._one.split(":")
        print(json.dumps(measure(method, int(n))))
        return
    from wsvad.methods import list_methods

    methods = [m for m in (list_methods() if args.methods == "all" else args.methods.split(",")) if m in LAYOUTS]
    small, large = (int(x) for x in args.batches.split(","))
    rows = []
    for m in methods:
        points = []
        for n in (small, large):
            out = subprocess.run([sys.executable, __file__, "--_one", f"{m}:{n}"], capture_output=True, text=True,
                                 env=dict(os.environ, HF_HUB_OFFLINE="1"))
            if out.returncode:
                raise SystemExit(f"{m} at {n}/side failed:\n{out.stderr[-2000:]}")
            points.append(json.loads(out.stdout.strip().splitlines()[-1]))
        a, b = points
        official = a["official_per_side"]
        row = {**{k: a[k] for k in ("method", "crops", "segments", "dim", "params", "trainable_params",
                                    "checkpoint_bytes", "official_per_side", "max_steps", "max_epochs")},
               "points": points,
               "official_flops": extrapolate(a, b, "flops", official),
               "official_ops": extrapolate(a, b, "ops", official),
               "official_rss_peak_bytes": max(extrapolate(a, b, "step_peak_bytes", official), b["step_peak_bytes"]),
               "official_peak_bytes": extrapolate(a, b, "tensor_peak_bytes", official),
               "official_activation_bytes": extrapolate({**a, "x": a["tensor_bytes"]["activations"]},
                                                        {**b, "x": b["tensor_bytes"]["activations"]}, "x", official)}
        rows.append(row)
        print(f"{m:<8} params {row['params'] / 1e6:7.2f} M, checkpoint {row['checkpoint_bytes'] / 2**20:7.1f} MiB, "
              f"step at {official}+{official}: {row['official_flops'] / 1e12:7.2f} TFLOP, {row['official_ops']:6.0f} ops, "
              f"tensors at the peak {row['official_peak_bytes'] / 2**30:6.2f} GiB (RSS growth of a step "
              f"{a['step_peak_bytes'] / 2**20:.0f} MiB at {small}/side, {b['step_peak_bytes'] / 2**20:.0f} MiB at "
              f"{large}/side)", flush=True)
    text = markdown(rows, small, large)
    print("\n" + text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def markdown(rows: list[dict], small: int, large: int) -> str:
    out = [f"Measured here on the CPU (float32), each point in a fresh process; the official batch's FLOPs, op count and "
           f"peak are **extrapolated linearly** from per-side batches {small} and {large} (all three are linear in the "
           "batch up to fixed terms). Official feature layouts as in the train-step benchmark.", "",
           "| method | samples × crops × S × D (official) | params | checkpoint per report | train-step FLOPs | "
           "aten ops per step | tensors at the step's peak | of which activations |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = 2 * r["official_per_side"]
        out.append(f"| {r['method']} | {n} × {r['crops']} × {r['segments']} × {r['dim']} | {r['params'] / 1e6:.2f} M | "
                   f"{r['checkpoint_bytes'] / 2**20:.1f} MiB | {r['official_flops'] / 1e12:.2f} T | "
                   f"{r['official_ops']:.0f} | {r['official_peak_bytes'] / 2**30:.2f} GiB | "
                   f"{r['official_activation_bytes'] / 2**30:.2f} GiB |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
