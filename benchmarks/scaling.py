"""Projections for docs/scaling.md from the figures measured here (benchmarks/results/*.json).

Inputs measured on this machine: per-method train-step FLOPs, aten op count, peak step memory and
checkpoint bytes (method_costs.json), the sweep's per-trial platform overhead (sweep.json), the
MLflow server's write rate on SQLite (mlflow_rate.json). Everything about GPUs is a projection
under the card assumptions in CARDS, printed with the tables.

    python benchmarks/scaling.py [--results benchmarks/results] > tables.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sweeps.gpu import CONTEXT_BYTES, HEADROOM, trials_per_card  # noqa: E402  (the packing rule the sweeps use)

# Assumed cards (projection inputs, not measurements): memory, sustained fp32 rate on these models'
# matmuls/convolutions (about half of peak), CPU cores next to each GPU (one trial process per core).
CARDS = {
    "6 GB": {"bytes": 6 * 2**30, "tflops": 3.0, "cores": 4, "example": "RTX 2060-class, 6.5 TFLOPS fp32 peak"},
    "16 GB": {"bytes": 16 * 2**30, "tflops": 4.0, "cores": 8, "example": "T4, 8.1 TFLOPS fp32 peak"},
    "80 GB": {"bytes": 80 * 2**30, "tflops": 10.0, "cores": 12, "example": "A100 80 GB, 19.5 TFLOPS fp32 peak"},
}
LAUNCH_S = 10e-6          # eager PyTorch: CPU time to dispatch one op to the GPU (≈ 5–20 µs)
EVALS = 10                # evaluations per trial (sweep default --evals-per-trial)
GPUS = (1, 8, 64)
METRICS_PER_REPORT = 60   # what a trial report sends to MLflow (losses, test/val/selected metrics)
# UCF-Crime: 1610 training videos (800 normal, 810 anomalous), 290 test; mean 453 snippets per video.
UCF = {"normal_train": 800, "train": 1610, "test": 290, "snippets": 453}


def steps_per_trial(r: dict) -> int:
    """The official schedule on UCF-Crime (epochs × steps per epoch, or steps)."""
    if r["max_epochs"]:
        per_side = UCF["normal_train"] * (r["crops"] if r.get("each") else 1)
        return r["max_epochs"] * max(1, per_side // r["official_per_side"])
    return r["max_steps"]


def project(r: dict, card: dict, overhead_s: float) -> dict:
    rate = card["tflops"] * 1e12
    t_compute = r["official_flops"] / rate                              # one step, compute-bound
    t_launch = r["official_ops"] * LAUNCH_S                             # one step, launch-bound
    t_step = max(t_compute, t_launch)
    # Evaluation: forward ≈ 1/3 of a train step's FLOPs per sample-snippet, over test + validation videos.
    samples = 2 * r["official_per_side"] * r["crops"] * r["segments"]
    fwd_per_snippet = r["official_flops"] / 3 / samples
    eval_crops = 1 if r.get("test_crops") == "first" else r.get("dataset_crops", r["crops"])
    t_eval = EVALS * (UCF["test"] + UCF["train"] // 10) * UCF["snippets"] * eval_crops * fwd_per_snippet / rate
    steps = steps_per_trial(r)
    gpu_s = steps * t_step + t_eval                                     # one trial alone on the card
    k = min(trials_per_card(int(r["official_peak_bytes"]), card["bytes"]), card["cores"])
    fits = r["official_peak_bytes"] * (1 + HEADROOM) + CONTEXT_BYTES <= card["bytes"]
    overlap = min(k, t_step / t_compute)                                # packed trials overlap only their launch gaps
    per_slot = gpu_s * k / overlap + overhead_s
    return {"k": k, "fits": fits, "t_step": t_step, "bound": "compute" if t_compute >= t_launch else "launch",
            "steps": steps, "trial_s": per_slot, "trials_per_hour": 3600 * k / per_slot if fits else 0.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args()
    res = Path(args.results)
    costs = json.loads((res / "method_costs.json").read_text())
    sweep = json.loads((res / "sweep.json").read_text())
    rate = json.loads((res / "mlflow_rate.json").read_text())
    from wsvad.methods import get_method

    for r in costs:
        spec = get_method(r["method"]).inputs
        r["each"] = spec.train_crops == "each"
        r["test_crops"] = spec.test_crops
    overhead = sweep["overhead_per_trial_s"]
    print(f"Per-trial platform overhead measured here: {overhead:.1f} s (sweep benchmark). Launch cost "
          f"{LAUNCH_S * 1e6:.0f} µs/op, {EVALS} evaluations per trial over UCF-Crime's test set and a 10 % "
          f"validation carve, the official schedule without early stopping (ASHA stops most trials early: "
          f"with reduction factor 3 about 3× more trials/hour).\n")
    print("| method | steps / trial | peak / trial | " + " | ".join(
        f"{name}: trials per card, bound, trial time" for name in CARDS) + " |")
    print("|---|---|---|" + "---|" * len(CARDS))
    table = {}
    for r in costs:
        cells = []
        for name, card in CARDS.items():
            pr = project(r, card, overhead)
            table[(r["method"], name)] = pr
            cells.append(f"{pr['k']} × {pr['bound']}, {pr['trial_s'] / 60:.0f} min" if pr["fits"] else "does not fit")
        print(f"| {r['method']} | {steps_per_trial(r)} | {r['official_peak_bytes'] / 2**30:.2f} GiB | "
              + " | ".join(cells) + " |")
    print("\nProjected trials/hour of the whole cluster (official schedules, no early stopping):\n")
    print("| method | " + " | ".join(f"{g} × {name}" for name in CARDS for g in GPUS) + " |")
    print("|---|" + "---|" * (len(CARDS) * len(GPUS)))
    for r in costs:
        print(f"| {r['method']} | " + " | ".join(
            f"{g * table[(r['method'], name)]['trials_per_hour']:.1f}" for name in CARDS for g in GPUS) + " |")

    # Cluster-wide rates: reports/s into the driver and MLflow, checkpoint bytes/s into Tune's storage.
    # The server as mlflow/server.sh runs it (the most workers measured), one client (the sweep's driver).
    workers = max(rate["workers"])
    server = {row["per_request"]: row for row in rate["rows"]
              if row["writer"] == f"server (--workers {workers}), 1 client"}
    per_report = server.get(60, next(iter(server.values())))
    print(f"\nDriver and tracking load at 64 GPUs (reports/s = running trials × {EVALS} / trial time; MLflow "
          f"measured here: one `log_batch` of 60 metrics takes {per_report['latency_ms']:.0f} ms on the SQLite server, "
          f"{per_report['metrics_per_s']:.0f} metrics/s from one writer):\n")
    print("| method | card | running trials | reports/s | MLflow metrics/s | driver busy (s/s) | checkpoint MB/s |")
    print("|---|---|---|---|---|---|---|")
    for r in costs:
        for name in CARDS:
            pr = table[(r["method"], name)]
            if not pr["fits"]:
                continue
            running = 64 * pr["k"]
            reports = running * EVALS / pr["trial_s"]
            print(f"| {r['method']} | {name} | {running} | {reports:.2f} | {reports * METRICS_PER_REPORT:.0f} | "
                  f"{reports * per_report['latency_ms'] / 1e3:.2f} | {reports * r['checkpoint_bytes'] / 1e6:.1f} |")
    print("\nCards assumed: " + "; ".join(f"{n}: {c['example']}, {c['tflops']:g} TFLOPS sustained, {c['cores']} CPU "
                                         f"cores per GPU" for n, c in CARDS.items()) + ".")
    print(f"Packing: sweeps/gpu.py's rule, peak × (1 + {HEADROOM}) + {CONTEXT_BYTES >> 20} MiB per trial, at most one "
          "trial per CPU core.")


if __name__ == "__main__":
    main()
