"""`wsvad table`: the reproduction table of a sweep, as md/csv/html/latex plus a PNG chart (sweeps/table.py)."""


def run(args) -> int:
    from sweeps.table import from_args, make_table

    done = make_table(from_args(args))
    print(done["text"], end="")
    where = f"; logged to run {done['logged_to']} at {done['tracking_uri']}" if done["logged_to"] else ""
    print(f"\nwrote {done['table']} and {done['chart']}{where}")
    return 0
