"""`make bench`: run every benchmark, keep each one's output, and write benchmarks/RESULTS.md.

Three small steps (anomalib's benchmark pipeline): run each benchmark script in a subprocess
(`--report` markdown section, `--json` figures, its log), collect what each wrote under
benchmarks/results/, and save RESULTS.md with the machine, the date, each run's wall time and load,
its section, and a summary of the issue-7 targets computed from the figures (nothing is typed in
by hand). `--only` re-runs some benchmarks and re-assembles RESULTS.md from the stored outputs of
the others.

    python benchmarks/run_all.py [--only startup,train_step,train_step_realistic,sweep,extract,mlflow_rate,method_costs,demo]
                                 [--assemble-only] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# name -> (script, arguments, title). --quick swaps in the second argument list.
BENCHES = {
    "startup": ("startup.py", ([], ["--repeat", "3"]), "Start-up (target 4)"),
    "train_step": ("train_step.py", (["--steps", "1", "--budget", "60"], ["--methods", "mil,cliptsa", "--budget", "10"]),
                   "Training: features in memory vs the official per-step `np.load` (target 1)"),
    "train_step_realistic": ("train_step.py", (["--realistic", "--methods", "mil,cliptsa,rtfm,bnwvad", "--budget", "60"],
                                               ["--realistic", "--methods", "mil", "--budget", "10"]),
                             "Training at the official datasets' video lengths (additional, target 1)"),
    "sweep": ("sweep.py", ([], ["--trials", "4", "--trial-seconds", "5"]),
              "Sweeps: Ray Tune vs a plain sequential loop (target 2)"),
    "extract": ("extract.py", ([], ["--videos", "12", "--rss-videos", "4,12", "--repeat", "1"]),
                "Extraction: Ray Data pipeline vs the sequential decode → embed loop (target 3)"),
    "mlflow_rate": ("mlflow_rate.py", ([], ["--seconds", "3"]),
                    "MLflow tracking server write rate (for docs/scaling.md)"),
    "method_costs": ("method_costs.py", ([], ["--methods", "mil,cliptsa"]),
                     "Per-method step costs: FLOPs, ops, memory, checkpoint bytes (for docs/scaling.md)"),
    "demo": ("demo.py", ([], []), "The demo on a fresh clone (target 5)"),
}


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    versions = []
    for pkg in ("torch", "ray", "mlflow", "numpy", "pyarrow", "decord", "open_clip_torch"):
        try:
            from importlib.metadata import version

            versions.append(f"{pkg} {version(pkg)}")
        except Exception:
            pass
    return [f"- Machine: {platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPU cores{mem}, no GPU; "
            f"Python {platform.python_version()}; {', '.join(versions)}.",
            "- Load averages are given per run: above the core count, other jobs shared the cores. Absolute "
            "timings are noisy; every figure that matters is a ratio of two paths measured within one run, "
            "interleaved where possible.",
            *note(),
            "- No GPU was lent to this session: the GPU targets (6) are **unmeasured**."]


def note() -> list[str]:
    """What the person running the benchmarks knew about the machine (benchmarks/results/NOTE.md)."""
    path = RESULTS / "NOTE.md"
    return [path.read_text().strip()] if path.is_file() else []


def run(name: str, quick: bool, extra: list[str]) -> None:
    script, arglists, _ = BENCHES[name]
    RESULTS.mkdir(exist_ok=True)
    chosen = [*arglists[1 if quick else 0], *extra]
    cmd = [sys.executable, str(HERE / script), *chosen, "--report", str(RESULTS / f"{name}.md"),
           "--json", str(RESULTS / f"{name}.json")]
    load0, started, when = os.getloadavg()[0], time.perf_counter(), dt.datetime.now().isoformat(timespec="seconds")
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    with open(RESULTS / f"{name}.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent)
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        code = proc.wait()
    meta = {"command": "python " + " ".join([f"benchmarks/{script}", *chosen]), "started": when,
            "wall_s": round(time.perf_counter() - started, 1), "load_start": round(load0, 2),
            "load_end": round(os.getloadavg()[0], 2), "exit_code": code, "quick": quick}
    meta_path = RESULTS / f"{name}.meta.json"
    if "--append" in extra and meta_path.exists():   # a second part of the same benchmark: keep both
        before = json.loads(meta_path.read_text())
        meta.update(command=f"{before['command']}`, then `{meta['command']}", started=before["started"],
                    wall_s=before["wall_s"] + meta["wall_s"], load_start=before["load_start"],
                    exit_code=before["exit_code"] or code)
    meta_path.write_text(json.dumps(meta, indent=1))
    if code:
        print(f"== {name} failed with exit code {code}; see {RESULTS / f'{name}.log'}", flush=True)


def load(name: str):
    try:
        return json.loads((RESULTS / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def targets() -> list[str]:
    """The issue-7 targets, met or not, from the stored figures."""
    def yes(ok):
        return "**met**" if ok else "**not met**"

    rows = ["| # | target | measured here | |", "|---|---|---|---|"]
    ts = load("train_step")
    if ts:
        worst = min(ts, key=lambda r: r["step_ratio"])
        best = max(ts, key=lambda r: r["step_ratio"])
        asm = min(r["assembly_ratio"] for r in ts)
        rows.append(f"| 1 | train step ≥ 3× the official per-step loader, every method, official batch, CPU | step ratio "
                    f"{worst['step_ratio']:.2f}× ({worst['method']}) to {best['step_ratio']:.2f}× ({best['method']}) "
                    f"over {len(ts)} methods; batch assembly alone ≥ {asm:.1f}× | "
                    f"{yes(all(r['step_ratio'] >= 3 for r in ts))} |")
    tr = load("train_step_realistic")
    if tr:
        rows.append(f"| 1 (additional) | same, at the official datasets' video lengths | step ratio "
                    + ", ".join(f"{r['method']} {r['step_ratio']:.2f}×" for r in tr)
                    + f" | {yes(all(r['step_ratio'] >= 3 for r in tr))} |")
    sw = load("sweep")
    if sw:
        rows.append(f"| 2 | 16 trials ≥ 20 s on 2 cores at ≥ 0.9× the trials/hour of a plain loop (same threads) | "
                    f"{sw['trials']} trials of {sw['mean_trial_compute_s']:.0f} s: {sw['ratio_same_threads']:.2f}× "
                    f"(loop at {sw['loop_threads']} thread/trial)"
                    + (f", {sw['ratio_all_threads']:.2f}× (loop at {sw['slots']} threads/trial)"
                       if sw['ratio_all_threads'] == sw['ratio_all_threads'] else "")
                    + f"; overhead {sw['overhead_per_trial_s']:.1f} s/trial, slot efficiency "
                    f"{sw['slot_efficiency']:.2f}; feature set once: {'yes' if sw['feature_set_once'] else 'no'} | "
                    f"{yes(sw['ratio_same_threads'] >= 0.9 and sw['feature_set_once'])} |")
    ex = load("extract")
    if ex:
        rows.append(f"| 3 | Ray pipeline ≥ 1.6× the sequential decode → embed loop on 2 cores; peak RSS flat 10 → 40 "
                    f"videos | {ex['ratio']:.2f}× end to end ({ex['ratio_steady']:.2f}× after the first video); "
                    f"overlap ceiling {ex['overlap_ceiling']:.2f}×; RSS {ex['rss_ratio_all']:.2f}× (all processes) | "
                    f"{yes(ex['ratio'] >= 1.6)} / RSS {yes(ex['rss_ratio_all'] <= 1.15)} |")
    st = load("startup")
    if st:
        rows.append(f"| 4 | `wsvad --help` < 1 s; no command imports open_clip / Ray / MLflow unless it uses them | "
                    f"{st['help_s']:.3f} s (slowest `<command> --help` {st['worst_command_help_s']:.3f} s); heavy "
                    f"imports at `--help`: {', '.join(st['help_heavy']) or 'none'} | "
                    f"{yes(st['help_s'] < 1 and not st['help_heavy'])} |")
    dm = load("demo")
    if dm:
        rows.append(f"| 5 | `make demo` under 10 min on 2 cores, install excluded | {dm['demo_s'] / 60:.1f} min on a fresh "
                    f"clone ({dm['trials_finished']} trials finished, {dm['trials_failed']} failed, exit code "
                    f"{dm['exit_code']}) | {yes(dm['demo_s'] < 600 and dm['exit_code'] == 0 and not dm['trials_failed'])} |")
    rows.append("| 6 | GPU targets | no GPU lent to this session | **unmeasured** |")
    return rows


def assemble() -> None:
    out = ["# Benchmark results", "",
           f"Written by `make bench` (`benchmarks/run_all.py`) on {dt.date.today().isoformat()}; each section says "
           "when its benchmark ran, its command, wall time and the load average around it.", ""]
    out += machine()
    out += ["", "## Targets (issue 7)", ""] + targets()
    for name, (_, _, title) in BENCHES.items():
        section = RESULTS / f"{name}.md"
        meta_path = RESULTS / f"{name}.meta.json"
        if not section.exists() or not meta_path.exists():
            continue
        meta = json.loads(meta_path.read_text())
        out += ["", f"## {title}", "",
                f"`{meta['command']}` — run {meta['started']}, {meta['wall_s']:.0f} s, "
                + (f"load average {meta['load_start']:.1f} → {meta['load_end']:.1f}" if "load_start" in meta
                   else "load average not recorded")
                + f"{' (quick mode)' if meta.get('quick') else ''}"
                f"{'; **exited with code %d**' % meta['exit_code'] if meta['exit_code'] else ''}.", "",
                section.read_text().rstrip()]
    (HERE / "RESULTS.md").write_text("\n".join(out) + "\n")
    print(f"wrote {HERE / 'RESULTS.md'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    p.add_argument("--assemble-only", action="store_true", help="only rebuild RESULTS.md from benchmarks/results/")
    p.add_argument("--quick", action="store_true", help="small versions (minutes), to check the pipeline")
    p.add_argument("--extra-args", default="", help="appended to each benchmark's arguments, e.g. '--methods mil'")
    args = p.parse_args()
    names = list(BENCHES) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHES)}")
    os.environ.update(RAY_USAGE_STATS_ENABLED="0", MLFLOW_DISABLE_TELEMETRY="true", HF_HUB_OFFLINE="1")
    if not args.assemble_only:
        for name in names:
            run(name, args.quick, args.extra_args.split())
    assemble()


if __name__ == "__main__":
    main()
