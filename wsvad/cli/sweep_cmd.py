"""`wsvad sweep`: the same sweep as `python sweeps/run.py` (sweeps/driver.py)."""


def run(args) -> int:
    from sweeps.driver import run_sweep
    from sweeps.options import from_args
    from sweeps.report import print_summary

    print_summary(run_sweep(from_args(args)))
    return 0
