"""The `wsvad` command line: the one place where wsvad, extraction and sweeps meet.

Each subcommand lives in its own module and is imported only when run, so `wsvad --help`
does not pay for torch, Ray or MLflow.
"""
