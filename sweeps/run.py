"""Run a sweep: the script that `ray submit` and `ray job submit` execute.

    python sweeps/run.py --features DIR --methods all --trials 16 --name NAME [...]
    ray submit cluster.yaml sweeps/run.py -- --features /data/feats --methods rtfm,mgfn --trials 32 ...
    RAY_AUTH_MODE=token ray job submit --working-dir . -- python sweeps/run.py --features ... --name ...

The options are those of `wsvad sweep` (see sweeps/options.py). Exit code 2 and one line on a bad
option or unreachable service, before any trial runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a plain script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from sweeps.options import add_arguments, from_args
    from wsvad.errors import WsvadError

    parser = argparse.ArgumentParser(prog="sweeps/run.py", description="Ray Tune + Optuna + ASHA sweep, tracked in MLflow")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        from sweeps.driver import run_sweep
        from sweeps.report import print_summary

        record = run_sweep(from_args(args))
        print_summary(record)
        return 0
    except WsvadError as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
