"""Start-up: how long `wsvad --help` and `wsvad <command> --help` take, and which heavy packages
(torch, open_clip, ray, mlflow) each command pulls in.

Each timing is a fresh subprocess of the installed console script (`.venv/bin/wsvad`), the median
of `--repeat` runs. Then, per command, a subprocess reports which heavy packages are in
`sys.modules` after (a) `wsvad <command> --help`, (b) importing the command's module (what
`wsvad <command>` loads before its work starts), and (c) for the commands that are cheap to run
for real at toy size (methods, toy-features, train, score) after the whole run.

    python benchmarks/startup.py [--repeat 5] [--report FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "open_clip", "ray", "mlflow")
ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter: do one thing, then print the heavy packages that got imported.
PROBE = r"""
import importlib, json, sys
mode, command, argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
from wsvad.cli.main import COMMANDS, main
try:
    if mode == "help":
        main(argv)
    elif mode == "import":
        importlib.import_module("wsvad.cli." + COMMANDS[command][0])
    else:
        code = main(argv)
        if code:
            raise SystemExit(f"wsvad {command} exited {code}")
except SystemExit as e:
    if e.code not in (0, None):
        raise
print("HEAVY " + json.dumps(sorted(m for m in %r if m in sys.modules)), file=sys.__stderr__)
""" % (HEAVY,)


def env() -> dict:
    e = dict(os.environ)
    e.update(RAY_USAGE_STATS_ENABLED="0", MLFLOW_DISABLE_TELEMETRY="true", HF_HUB_OFFLINE="1")
    return e


def wsvad_script() -> str:
    script = Path(sys.executable).parent / "wsvad"
    return str(script) if script.exists() else "wsvad"


def time_help(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([wsvad_script(), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=env())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_modules(mode: str, command: str, argv: list[str]) -> list[str]:
    r = subprocess.run([sys.executable, "-c", PROBE, mode, command, json.dumps(argv)], capture_output=True, text=True,
                       env=env(), cwd=ROOT)
    for line in r.stderr.splitlines():
        if line.startswith("HEAVY "):
            return json.loads(line[6:])
    raise RuntimeError(f"probe {mode} {command} failed:\n{r.stderr[-2000:]}")


def real_runs(tmp: Path) -> dict[str, list[str]]:
    """Argument lists of the commands run for real at toy size (in order: later ones use earlier outputs)."""
    return {
        "methods": ["methods"],
        "toy-features": ["toy-features", "--out", str(tmp / "toy"), "--videos", "24", "--dim", "16", "--snippets", "16"],
        "train": ["train", "--features", str(tmp / "toy"), "--method", "mil", "--max-steps", "2", "--set", "batch_size=2",
                  "--out", str(tmp / "train")],
        "score": ["score", "--features", str(tmp / "video.npy"), "--model", str(tmp / "train" / "checkpoint.pt"),
                  "--out", str(tmp / "score")],
        "toy-videos": ["toy-videos", "--out", str(tmp / "videos"), "--videos", "4"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--report", help="also write the markdown section here")
    p.add_argument("--json", help="also write the figures as JSON here")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    from wsvad.cli.main import COMMANDS

    rows = []
    top = time_help(["--help"], args.repeat)
    top_heavy = heavy_modules("help", "", ["--help"])
    print(f"wsvad --help: {top:.3f} s (median of {args.repeat}); heavy modules: {top_heavy or 'none'}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        runs = real_runs(Path(tmp))
        import numpy as np

        np.save(Path(tmp) / "video.npy", np.random.default_rng(0).normal(size=(40, 16)).astype(np.float32))
        for name in COMMANDS:
            t = time_help([name, "--help"], args.repeat)
            on_help = heavy_modules("help", name, [name, "--help"])
            on_import = heavy_modules("import", name, [])
            on_run = heavy_modules("run", name, runs[name]) if name in runs else None
            rows.append((name, t, on_help, on_import, on_run))
            print(f"wsvad {name} --help: {t:.3f} s; heavy modules at --help {on_help or '-'}, on import of the command "
                  f"{on_import or '-'}, after a toy run {'(not run)' if on_run is None else on_run or '-'}", flush=True)

    def fmt(mods):
        return "(not run here)" if mods is None else (", ".join(mods) or "none")

    md = [f"`wsvad --help`: **{top:.3f} s** (median of {args.repeat} fresh processes; target < 1 s); it imports "
          f"{fmt(top_heavy)} of torch / open_clip / ray / mlflow.", "",
          "| command | `--help` wall | heavy at `--help` | heavy on importing the command | heavy after a toy run |",
          "|---|---|---|---|---|"]
    md += [f"| {n} | {t:.3f} s | {fmt(h)} | {fmt(i)} | {fmt(r)} |" for n, t, h, i, r in rows]
    md += ["", "Importing the command is what `wsvad <command>` loads before it starts working; packages a command "
           "needs only for some inputs (open_clip for the CLIP backbones and for VadCLIP/TPWNG) are imported lazily "
           "there. The toy runs: `methods`; `toy-features` (24 videos); `toy-videos` (4 clips); `train` (MIL, 2 steps); "
           "`score` (that checkpoint on one 40-snippet video)."]
    text = "\n".join(md)
    print("\n" + text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    worst = max([top] + [r[1] for r in rows])
    figures = {"help_s": top, "worst_command_help_s": worst, "help_heavy": top_heavy,
               "commands": [{"command": n, "help_s": t, "heavy_help": h, "heavy_import": i, "heavy_run": r}
                            for n, t, h, i, r in rows]}
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
