"""The demo on a fresh clone: `make demo`'s wall time with the install excluded (target 5).

Clones the repository's HEAD into a temporary folder (nothing installed there), runs the install
step alone (`make .venv/.installed`, timed apart), then `make demo`, and reports its wall time,
whether every sweep and retrain trial finished, the table's rows, and the disk the demo left.

    python benchmarks/demo.py [--keep DIR] [--report FILE.md] [--json FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def du_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def timed(cmd: list[str], cwd: Path, log: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.call(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    return time.perf_counter() - started, code


def measure(clone: Path) -> dict:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    install_s, code = timed(["make", ".venv/.installed"], clone, clone / "install.log")
    if code:
        raise SystemExit(f"the install failed; see {clone / 'install.log'}")
    demo_s, code = timed(["make", "demo"], clone, clone / "demo.log")
    log = (clone / "demo.log").read_text()
    table = clone / "demo-out" / "table.md"
    rows = [ln for ln in table.read_text().splitlines() if ln.startswith("| ") and not ln.startswith("| Method")] if table.is_file() else []
    return {"commit": commit, "install_s": install_s, "demo_s": demo_s, "exit_code": code,
            "trials_finished": len(re.findall(r"finished at step", log)), "trials_failed": len(re.findall(r"\] trial \S+ failed", log)),
            "table_rows": len(rows), "disk_bytes": du_bytes(clone / "demo-out") if (clone / "demo-out").is_dir() else 0,
            "cores": os.cpu_count()}


def markdown(f: dict) -> str:
    return "\n".join([
        f"`make demo` on a fresh clone of {f['commit']} ({f['cores']} CPU cores): **{f['demo_s'] / 60:.1f} min** "
        f"({f['demo_s']:.0f} s; target < 10 min), install excluded (the install step alone took {f['install_s']:.0f} s "
        f"with pip's cache warm); exit code {f['exit_code']}.",
        "",
        f"- Trials: {f['trials_finished']} finished, {f['trials_failed']} failed (the sweep's and the retrain's); "
        f"the table has {f['table_rows']} method rows.",
        f"- Disk left under `demo-out/`: {f['disk_bytes'] / 2**30:.1f} GiB (Tune's checkpoints, MLflow's artifacts)."])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", help="clone here and keep it (default: a temporary folder, removed)")
    p.add_argument("--report")
    p.add_argument("--json")
    args = p.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wsvad-demo-"))
    try:
        figures = measure(base / "clone")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    text = markdown(figures)
    print(text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
