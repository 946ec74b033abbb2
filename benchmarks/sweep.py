"""Sweep throughput: the Ray Tune platform against plain loops running the very same trials.

N trials of one method (default 16 of MIL at its official batch size on a 1024-d toy feature set of
~300 MB), each calibrated to at least `--trial-seconds` of compute on one thread, run through
`sweeps.driver.run_sweep` (local Ray, `--slots` trials at once with 1 CPU each, random search, no
early stopping so every trial does the same work, MLflow in a local SQLite file). Then the same
configurations (read back from MLflow) run without Ray, Tune or MLflow:

- `sequential, 1 thread`: one after another, 1 torch thread each (the sweep's threads per trial);
- `sequential, S threads`: one after another, `--slots` torch threads each (the sweep's total threads);
- `S loops side by side`: `--slots` plain loops in parallel processes, 1 thread each, the trials
  split between them (the sweep's slots and threads exactly: the difference is the platform).

Printed: trials/hour of the sweep over each loop's (a ratio measured in one run), slot efficiency
= Σ trial compute / (wall × slots), per-trial overhead = (wall × slots − Σ compute) / trials and
where it goes (in-trial set-up and checkpointed reports vs. between trials), and memory: the peak
RSS and USS (private memory) of the driver and of every Ray process, and the object store's use,
sampled during the sweep — the feature set is `ray.put` once and mapped by every trial.

    python benchmarks/sweep.py [--method mil] [--trials 16] [--trial-seconds 20] [--slots 2]
                               [--loops seq1,seqS,side] [--report FILE.md] [--json FILE.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MIB = 2**20


# --- the plain loop (also run as a child process: --_loop) -----------------------------------------

def claim(claims: Path | None, i: int) -> bool:
    """Trial `i` is this loop's if it creates the claim file first: side-by-side loops take the next
    unclaimed trial when they finish one, as the sweep's scheduler does (a fixed split would leave
    one loop idle while the other finishes its longer trials, and flatter the sweep)."""
    if claims is None:
        return True
    try:
        os.close(os.open(claims / f"{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def plain_loop(features: str, method: str, configs: list[dict], fixed: dict, threads: int, max_steps: int,
               evals: int, claims: Path | None = None) -> dict:
    """The same trials as the sweep's trainable, minus Ray, Tune, checkpoints and MLflow."""
    import torch

    from wsvad.features import load_feature_set
    from wsvad.train import TrainOptions, Trainer

    torch.set_num_threads(threads)
    started = time.perf_counter()
    fs = load_feature_set(features)
    load_s = time.perf_counter() - started
    setup, fit = [], []
    for i, config in enumerate(configs):
        if not claim(claims, i):
            continue
        t0 = time.perf_counter()
        trainer = Trainer(fs, method, {**fixed, **config}, TrainOptions(seed=0, max_steps=max_steps, select_on="val"))
        trainer.eval_every = max(1, -(-trainer.total_steps // evals))     # as sweeps/trainable.py
        t1 = time.perf_counter()
        trainer.fit()
        setup.append(t1 - t0)
        fit.append(time.perf_counter() - t1)
    return {"wall_s": time.perf_counter() - started, "load_s": load_s, "setup_s": setup, "fit_s": fit}


def side_by_side(features: str, method: str, configs: list[dict], fixed: dict, slots: int, max_steps: int,
                 evals: int, tmp: Path) -> dict:
    """`slots` plain loops in parallel processes, 1 thread each, taking the next unclaimed trial as
    they go; wall from launch to the last exit."""
    procs = []
    claims = tmp / "claims"
    claims.mkdir()
    started = time.perf_counter()
    for i in range(slots):
        spec = tmp / f"loop{i}.json"
        spec.write_text(json.dumps({"features": features, "method": method, "configs": configs, "claims": str(claims),
                                    "fixed": fixed, "max_steps": max_steps, "evals": evals}))
        procs.append(subprocess.Popen([sys.executable, __file__, "--_loop", str(spec)], stdout=subprocess.PIPE,
                                      text=True))
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    wall = time.perf_counter() - started
    if any(p.returncode for p in procs):
        raise SystemExit("a side-by-side loop failed")
    return {"wall_s": wall, "setup_s": [s for o in outs for s in o["setup_s"]],
            "fit_s": [s for o in outs for s in o["fit_s"]], "loop_walls_s": [o["wall_s"] for o in outs]}


# --- calibration ------------------------------------------------------------------------------------

def calibrate(fs, method: str, fixed: dict, target: float, evals: int, probe_steps: int = 12) -> tuple[int, float]:
    """Steps so that a trial's compute (steps + `evals` evaluations, 1 thread) is at least `target` s."""
    import torch

    from wsvad.train import TrainOptions, Trainer

    torch.set_num_threads(1)
    trainer = Trainer(fs, method, fixed, TrainOptions(seed=0, max_steps=10**6, select_on="val"))
    trainer.train_step()
    t0 = time.perf_counter()
    for _ in range(probe_steps):
        trainer.train_step()
    per_step = (time.perf_counter() - t0) / probe_steps
    t0 = time.perf_counter()
    trainer.evaluate()
    per_eval = time.perf_counter() - t0
    steps = math.ceil(max(target - evals * per_eval, per_step) / per_step * 1.2)   # margin: the box is shared
    return steps, per_step


# --- memory during the sweep -------------------------------------------------------------------------

class MemorySampler(threading.Thread):
    """Peak RSS / USS and CPU seconds of this driver and of every process it started (Ray's), and the
    object store's use."""

    def __init__(self, every: float = 1.0, maps_every: int = 10):
        super().__init__(daemon=True)
        import psutil

        self.psutil, self.gcs, self.every, self.maps_every = psutil, "", every, maps_every
        self.samples = 0
        self.me = psutil.Process()
        self.peaks: dict[int, dict] = {}
        self.store_mib = 0.0
        self.stop = threading.Event()

    def sample(self) -> None:
        from ray._private.internal_api import memory_summary

        # USS (smaps_rollup) and the full memory maps (for the store's pages) walk every mapping: on
        # 2 cores, read every second, they took more CPU than the driver's Tune loop, and all of it
        # from the trials. RSS (statm) and CPU times are cheap: every sample. The expensive ones every
        # `maps_every`-th sample, and once as soon as a trial worker appears (short sweeps).
        maps = self.samples % self.maps_every == 0
        first = self.samples == 0
        self.samples += 1
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                title = " ".join(p.cmdline())[:80] or p.name()
                times = p.cpu_times()
                peak = self.peaks.setdefault(p.pid, {"title": title, "rss": 0, "uss": 0, "store_rss": 0, "store_pss": 0,
                                                     # born during the sweep (Ray, its workers): all its CPU counts
                                                     "cpu_first": times.user + times.system if first else 0.0})
                if title.startswith("ray::") and "IDLE" not in title:
                    peak["title"] = title   # a worker is IDLE until its first trial
                full = maps or (self.role(p.pid, peak["title"]) == "trial workers" and not peak["uss"])
                info = p.memory_full_info() if full else p.memory_info()
                # the object store's shared pages this process maps (/dev/shm/plasma*)
                store = [m for m in p.memory_maps(grouped=True) if "/plasma" in m.path] if full else []
            except (self.psutil.Error, OSError):
                continue
            peak["cpu_last"] = times.user + times.system
            peak["rss"], peak["uss"] = max(peak["rss"], info.rss), max(peak["uss"], getattr(info, "uss", 0))
            peak["store_rss"] = max(peak["store_rss"], sum(m.rss for m in store))
            peak["store_pss"] = max(peak["store_pss"], sum(m.pss for m in store))
        if not maps:
            return
        try:
            import ray

            if not self.gcs and ray.is_initialized():   # the sweep starts Ray after this sampler
                self.gcs = ray.get_runtime_context().gcs_address
            if not self.gcs:
                return
            text = memory_summary(address=self.gcs, stats_only=True)
            m = re.search(r"Plasma memory usage (\d+) MiB", text)
            if m:
                self.store_mib = max(self.store_mib, float(m.group(1)))
        except Exception:
            pass

    def run(self) -> None:
        from sweeps.background import lowest_priority

        lowest_priority()  # a sampler at normal priority took CPU from the trials it measured
        while not self.stop.wait(self.every):
            self.sample()

    def role(self, pid: int, title: str) -> str:
        head = (title.split() or ["?"])[0]
        if pid == self.me.pid:
            return "driver"
        if head.endswith("Agent"):             # ray::DashboardAgent, ray::RuntimeEnvAgent
            return "Ray agents"
        if head.startswith("ray::"):
            return "idle workers" if head == "ray::IDLE" else "trial workers"
        if head.rsplit("/", 1)[-1].startswith("python"):
            return "Ray's Python helpers (log monitor, dashboard)"
        return head.rsplit("/", 1)[-1]         # gcs_server, raylet

    def cpu_by_role(self) -> dict:
        """CPU seconds each kind of process used during the sweep: the trials' workers against
        everything else that shares their cores (the driver, Ray's daemons, idle workers)."""
        roles: dict[str, float] = {}
        for pid, v in self.peaks.items():
            role = self.role(pid, v["title"])
            roles[role] = roles.get(role, 0.0) + v.get("cpu_last", v["cpu_first"]) - v["cpu_first"]
        return dict(sorted(roles.items(), key=lambda kv: -kv[1]))

    def summary(self) -> dict:
        driver = self.peaks.get(self.me.pid, {"rss": 0, "uss": 0})
        workers = [v for pid, v in self.peaks.items() if self.role(pid, v["title"]) == "trial workers"]
        others = [v for pid, v in self.peaks.items() if pid != self.me.pid and v not in workers]
        return {"driver_rss_mib": driver["rss"] / MIB, "driver_uss_mib": driver["uss"] / MIB,
                "driver_store_rss_mib": driver.get("store_rss", 0) / MIB,
                "workers": [{"title": w["title"], "rss_mib": w["rss"] / MIB, "uss_mib": w["uss"] / MIB,
                             "store_rss_mib": w["store_rss"] / MIB, "store_pss_mib": w["store_pss"] / MIB}
                            for w in sorted(workers, key=lambda w: -w["rss"])],
                "ray_system_rss_mib": sum(o["rss"] for o in others) / MIB, "object_store_mib": self.store_mib,
                "cpu_s": self.cpu_by_role()}


# --- Tune's own record of each trial -----------------------------------------------------------------

def tune_results(storage: Path) -> list[dict]:
    """Per trial: reports, Tune's time_total_s and the trainer's train_seconds at its last report."""
    out = []
    for path in glob.glob(str(storage / "**" / "result.json"), recursive=True):
        lines = [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]
        if lines:
            last = lines[-1]
            out.append({"reports": len(lines), "time_total_s": last["time_total_s"],
                        "train_seconds": last["train_seconds"], "pid": last["pid"],
                        # wall clock (s) of the trial's start and last report, as Tune recorded them
                        "end": last["timestamp"], "start": last["timestamp"] - last["time_total_s"]})
    return out


def timeline(tune: list[dict], started: float, ended: float, slots: int) -> dict:
    """Where the slots' time outside the trials went, in slot-seconds: before the first trial
    (Ray, the feature set, MLflow set-up), after the last (plots, the best checkpoint, the parent
    run), hand-offs between one trial's last report and the next trial's start in the same worker,
    and the tail (a slot idle while the other finishes its last trial)."""
    by_worker: dict[int, list[dict]] = {}
    for t in tune:
        by_worker.setdefault(t["pid"], []).append(t)
    first, last = min(t["start"] for t in tune), max(t["end"] for t in tune)
    handoff = 0.0
    for ts in by_worker.values():
        ts.sort(key=lambda t: t["start"])
        handoff += sum(max(0.0, b["start"] - a["end"]) for a, b in zip(ts, ts[1:]))
    tail = sum(last - max(t["end"] for t in ts) for ts in by_worker.values())
    return {"before_first_s": (first - started) * slots, "after_last_s": (ended - last) * slots,
            "handoffs_s": handoff, "tail_s": tail, "workers": len(by_worker)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="mil")
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--trial-seconds", type=float, default=20.0, help="compute per trial, at least (1 thread)")
    p.add_argument("--slots", type=int, default=2)
    p.add_argument("--evals", type=int, default=5, help="evaluations (= checkpointed reports) per trial")
    p.add_argument("--videos", type=int, default=384)
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--snippets", type=int, default=200)
    p.add_argument("--loops", default="side,seq1,seqS", help="which plain loops to run: side, seq1, seqS")
    p.add_argument("--report")
    p.add_argument("--json")
    p.add_argument("--_loop", help=argparse.SUPPRESS)
    p.add_argument("--_calibrate", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._calibrate:
        from wsvad.features import load_feature_set

        spec = json.loads(Path(args._calibrate).read_text())
        fs = load_feature_set(spec["features"])
        steps, per_step = calibrate(fs, spec["method"], spec["fixed"], spec["target"], spec["evals"])
        print(json.dumps([steps, per_step, fs.features.nbytes / MIB]))
        return
    if args._loop:
        spec = json.loads(Path(args._loop).read_text())
        print(json.dumps(plain_loop(spec["features"], spec["method"], spec["configs"], spec["fixed"], 1,
                                    spec["max_steps"], spec["evals"], Path(spec["claims"]))))
        return

    import ray
    from mlflow.tracking import MlflowClient

    from sweeps.driver import run_sweep
    from sweeps.options import SweepOptions

    fixed: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Made in a child too: generating it here would leave its temporaries in this process's heap
        # (the allocator keeps them), and this process's RSS is reported as the sweep driver's.
        subprocess.run([str(Path(sys.executable).parent / "wsvad"), "toy-features", "--out", str(tmp / "features"),
                        "--videos", str(args.videos), "--dim", str(args.dim), "--snippets", str(args.snippets),
                        "--seed", "0"], check=True, stdout=subprocess.DEVNULL)
        # Calibrate in a child, so that this process (the sweep's driver) holds only what the sweep needs.
        spec = tmp / "calibrate.json"
        spec.write_text(json.dumps({"features": str(tmp / "features"), "method": args.method, "fixed": fixed,
                                    "target": args.trial_seconds, "evals": args.evals}))
        out = subprocess.run([sys.executable, __file__, "--_calibrate", str(spec)], capture_output=True, text=True,
                             check=True)
        steps, per_step, feature_mib = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{args.trials} trials of {args.method}: {steps} steps each ({1e3 * per_step:.0f} ms/step on 1 thread), "
              f"{args.evals} evaluations; feature set {feature_mib:.0f} MiB; {args.slots} slots x 1 CPU; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)

        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        opts = SweepOptions(features=str(tmp / "features"), methods=[args.method], trials=args.trials, name="bench",
                            max_concurrent=args.slots, cpus_per_trial=1, gpus_per_trial="0", search="random",
                            scheduler="none", max_steps=steps, evals_per_trial=args.evals, storage=str(tmp / "runs"),
                            tracking_uri=uri, num_cpus=args.slots, overrides=fixed)
        # run_sweep starts its own local Ray, as `wsvad sweep` does for a user (overlapped with loading
        # the features and setting up MLflow), so the sweep's wall includes Ray's start.
        sampler = MemorySampler()
        sampler.sample()   # before the sweep starts anything: the CPU accounts start here
        sampler.start()
        started, started_at = time.perf_counter(), time.time()
        try:
            run_sweep(opts)
        finally:
            sweep_wall, ended_at = time.perf_counter() - started, time.time()
            sampler.stop.set()
            sampler.join()
            memory = sampler.summary()
            ray.shutdown()
        print(f"  sweep: {sweep_wall:.1f} s (Ray's start included)", flush=True)

        client = MlflowClient(uri)
        # In the sweep's own order (trial ids count up as Tune creates the trials), so the loops meet the
        # trials in the order the sweep did, with the same long or short trials left for the end.
        runs = sorted((r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
                       if r.data.tags.get("wsvad.kind") == "trial"), key=lambda r: r.data.tags["wsvad.trial_id"])
        configs = [{k.removeprefix("config."): v for k, v in r.data.params.items() if k.startswith("config.")}
                   for r in runs]
        compute = [r.data.metrics["train_seconds"] for r in runs]
        tune = tune_results(tmp / "runs")
        loops = {}
        for name in [x.strip() for x in args.loops.split(",") if x.strip()]:
            if name == "side":
                r = side_by_side(opts.features, args.method, configs, fixed, args.slots, steps, args.evals, tmp)
                label = f"{args.slots} plain loops side by side, 1 thread each"
            else:
                threads = 1 if name == "seq1" else args.slots
                import torch

                torch.set_num_threads(threads)
                r = plain_loop(opts.features, args.method, configs, fixed, threads, steps, args.evals)
                label = f"sequential loop, {threads} thread{'s' if threads > 1 else ''} per trial"
            loops[name] = {**r, "label": label}
            print(f"  {label}: {r['wall_s']:.1f} s", flush=True)

    n, slots = len(runs), args.slots
    total = sweep_wall
    efficiency = sum(compute) / (total * slots)
    overhead = (total * slots - sum(compute)) / n
    in_trial = [t["time_total_s"] - t["train_seconds"] for t in tune]           # set-up + reports, inside a trial
    setup = loops.get("seq1", loops.get("side", {"setup_s": [0.0]}))["setup_s"]
    figures = {
        "method": args.method, "trials": n, "slots": slots, "steps": steps, "evals": args.evals,
        "feature_set_mib": feature_mib, "sweep_wall_s": sweep_wall,
        "sum_compute_s": sum(compute), "mean_trial_compute_s": sum(compute) / n, "min_trial_compute_s": min(compute),
        "slot_efficiency": efficiency, "overhead_per_trial_s": overhead,
        "in_trial_overhead_s": sum(in_trial) / max(len(in_trial), 1),
        "trainer_setup_s": sum(setup) / len(setup),
        "between_trials_s": (total * slots - sum(t["time_total_s"] for t in tune)) / n,
        "loops": {k: {"label": v["label"], "wall_s": v["wall_s"], "ratio": v["wall_s"] / total,
                      "sum_fit_s": sum(v["fit_s"]), "loop_walls_s": v.get("loop_walls_s")} for k, v in loops.items()},
        "memory": memory, "load_end": os.getloadavg()[0],
        "timeline": timeline(tune, started_at, ended_at, slots),
    }
    figures["ratio_same_threads"] = figures["loops"].get("side", figures["loops"].get("seq1", {"ratio": float("nan")}))["ratio"]
    figures["loop_threads"] = 1
    figures["ratio_all_threads"] = figures["loops"].get("seqS", {"ratio": float("nan")})["ratio"]
    # Once: the store holds one copy, and the trial workers map those very pages (their PSS of the
    # store mapping splits it between them) instead of each holding its own.
    mapped = [w["store_rss_mib"] for w in memory["workers"]]
    figures["feature_set_once"] = (bool(mapped) and memory["object_store_mib"] < 1.5 * feature_mib
                                   and min(mapped) >= 0.9 * feature_mib)
    text = markdown(figures)
    print("\n" + text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


def markdown(f: dict) -> str:
    m = f["memory"]
    total = f["sweep_wall_s"] + f.get("ray_start_s", 0.0)   # runs before 13:35 started Ray outside the sweep
    out = [f"{f['trials']} trials of `{f['method']}` (official batch size, {f['steps']} steps and {f['evals']} "
           f"checkpointed evaluations each: {f['mean_trial_compute_s']:.1f} s of compute per trial on average, "
           f"{f['min_trial_compute_s']:.1f} s the shortest) on a {f['feature_set_mib']:.0f} MiB toy feature set; "
           f"the sweep: {f['slots']} slots × 1 CPU, random search, no early stopping, MLflow in a local SQLite file.",
           "", "| run | wall | trials/hour | sweep ÷ it |", "|---|---|---|---|",
           f"| Ray Tune sweep (`run_sweep`, starting its own local Ray) | {total:.1f} s | "
           f"{3600 * f['trials'] / total:.0f} | — |"]
    for v in f["loops"].values():
        out.append(f"| {v['label']} | {v['wall_s']:.1f} s | {3600 * f['trials'] / v['wall_s']:.0f} | "
                   f"**{v['ratio']:.2f}×** |")
    out += ["", f"- Slot efficiency Σ compute / (wall × slots): **{f['slot_efficiency']:.2f}**; per-trial overhead "
            f"(wall × slots − Σ compute) / trials: **{f['overhead_per_trial_s']:.1f} s**, of which "
            f"{f['in_trial_overhead_s']:.1f} s inside the trial (trainer set-up — {f['trainer_setup_s']:.1f} s in the plain "
            f"loop too — plus {f['evals']} checkpointed reports) and {f['between_trials_s']:.1f} s between trials "
            f"(Ray start-up, scheduling, the driver's MLflow writes and experiment snapshots, the last trial's idle slot).",
            *[f"- The same trials' compute: Σ {f['sum_compute_s']:.0f} s inside the sweep, Σ {v['sum_fit_s']:.0f} s in "
              f"the {v['label'].split(',')[0]} ({f['sum_compute_s'] / v['sum_fit_s']:.2f}×: above 1, the cores' other "
              f"users — Ray's processes, the driver — slowed the trials down)"
              + (f"; the loops ended after {', '.join(f'{w:.0f}' for w in v['loop_walls_s'])} s" if v.get('loop_walls_s')
                 else "") + "."
              for v in f["loops"].values() if v.get("sum_fit_s")],
            *([f"- Slot time outside the trials, per trial (Tune's trial clocks, whole seconds): "
               f"{tl['before_first_s'] / f['trials']:.1f} s before the first trial started (ray.init, loading and "
               f"`ray.put` of the features, MLflow set-up), {tl['after_last_s'] / f['trials']:.1f} s after the last "
               f"report (the last plots, the best checkpoint, the parent run), {tl['handoffs_s'] / f['trials']:.1f} s "
               f"in hand-offs between trials in one worker, {tl['tail_s'] / f['trials']:.1f} s of idle slot at the end."]
              if (tl := f.get("timeline")) else []),
            f"- Memory, peaks sampled during the sweep (RSS every second; USS and store pages every 10 s and when a trial worker appears): driver RSS {m['driver_rss_mib']:.0f} MiB "
            f"(USS {m['driver_uss_mib']:.0f}); object store {m['object_store_mib']:.0f} MiB for a "
            f"{f['feature_set_mib']:.0f} MiB feature set (one object); trial workers: "
            + "; ".join(f"RSS {w['rss_mib']:.0f} MiB, of which {w['store_rss_mib']:.0f} MiB are object-store pages "
                        f"(PSS {w['store_pss_mib']:.0f} MiB), USS {w['uss_mib']:.0f} MiB" for w in m["workers"])
            + f"; other Ray processes {m['ray_system_rss_mib']:.0f} MiB RSS in all. Each worker maps the store's one "
            f"copy of the feature set (shared pages, split in PSS) across all the trials it runs; its private memory "
            f"(USS) is torch, the model, the trial's pooled bags and evaluation buffers. The driver's USS includes the "
            f"copy `run_sweep` loaded before `ray.put` ({m.get('driver_store_rss_mib', 0):.0f} MiB of store pages "
            f"mapped in the driver)."]
    if m.get("cpu_s"):
        cpu = m["cpu_s"]
        others = sum(v for k, v in cpu.items() if k != "trial workers")
        out.append(f"- CPU used during the sweep, by process (s): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
                   + f". Everything but the trials took {others:.0f} s of the {total * f['slots']:.0f} core-seconds "
                   f"({100 * others / (total * f['slots']):.1f} %): on a box with as many cores as slots, that is "
                   "CPU the trials did not get.")
    return "\n".join(out)


if __name__ == "__main__":
    main()
