"""Sweep throughput: the Ray Tune platform against a plain loop running the same trials.

Runs N trials of one method through `sweeps.driver.run_sweep` (local Ray, `--max-concurrent`
slots, no early stopping so every trial does the same work), then the very same configurations
one after another in a plain Python loop with the same torch threads per trial. Prints:

- slot efficiency = Σ trial compute time / (wall time × slots)   (1.0 = no platform overhead)
- per-trial overhead = (wall × slots − Σ compute) / trials
- trials/hour of the sweep vs the plain loop, as a ratio (measured in one run)

    python benchmarks/sweep.py [--method mil] [--trials 8] [--max-steps 300] [--slots 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="mil")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=300)
    p.add_argument("--slots", type=int, default=2)
    p.add_argument("--videos", type=int, default=128)
    args = p.parse_args()

    import torch
    from mlflow.tracking import MlflowClient

    from sweeps.driver import run_sweep
    from sweeps.options import SweepOptions
    from wsvad.features import load_feature_set
    from wsvad.toy import make_toy_feature_set
    from wsvad.train import TrainOptions, Trainer

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_toy_feature_set(tmp / "features", videos=args.videos, dim=64, snippets=48, seed=0)
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        opts = SweepOptions(features=str(tmp / "features"), methods=[args.method], trials=args.trials, name="bench",
                            max_concurrent=args.slots, cpus_per_trial=1, gpus_per_trial="0", search="random",
                            scheduler="none", max_steps=args.max_steps, evals_per_trial=5, storage=str(tmp / "runs"),
                            tracking_uri=uri, num_cpus=args.slots, overrides={"batch_size": "8"})
        started = time.perf_counter()
        run_sweep(opts)
        sweep_wall = time.perf_counter() - started

        client = MlflowClient(uri)
        runs = [r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
                if r.data.tags.get("wsvad.kind") == "trial"]
        compute = sum(r.data.metrics["train_seconds"] for r in runs)
        configs = [{k.removeprefix("config."): v for k, v in r.data.params.items() if k.startswith("config.")}
                   for r in runs]

        # The plain loop: same configurations, same threads per trial, one after another.
        fs = load_feature_set(tmp / "features")
        torch.set_num_threads(1)
        started = time.perf_counter()
        for config in configs:
            trainer = Trainer(fs, args.method, {"batch_size": "8", **config},
                              TrainOptions(max_steps=args.max_steps, select_on="val"))
            trainer.eval_every = max(1, args.max_steps // 5)
            trainer.fit()
        loop_wall = time.perf_counter() - started

    n = len(runs)
    efficiency = compute / (sweep_wall * args.slots)
    overhead = (sweep_wall * args.slots - compute) / n
    print(f"{n} trials of {args.method}, {args.max_steps} steps each, {args.slots} slots on {os.cpu_count()} CPUs")
    print(f"  sweep wall {sweep_wall:.1f} s (Ray start-up included), summed trial compute {compute:.1f} s")
    print(f"  slot efficiency          {efficiency:.2f}")
    print(f"  per-trial overhead       {overhead:.2f} s")
    print(f"  plain sequential loop    {loop_wall:.1f} s")
    print(f"  trials/hour, sweep/loop  {loop_wall / sweep_wall:.2f}x")


if __name__ == "__main__":
    main()
