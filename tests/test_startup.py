"""`wsvad --help` stays light: no torch, Ray, MLflow or open_clip behind argument parsing.

Checked by module presence in a fresh interpreter, not by wall time (benchmarks/startup.py times it).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "open_clip", "ray", "mlflow")

PROBE = """
import json, sys
from wsvad.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    assert e.code in (0, None), e.code
print(json.dumps(sorted(m for m in %r if m in sys.modules)))
""" % (HEAVY,)


def heavy_after(*argv: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_top_level_help_imports_no_heavy_package():
    assert heavy_after("--help") == []


@pytest.mark.parametrize("command", ["train", "sweep", "extract", "score"])
def test_command_help_imports_no_heavy_package(command):
    assert heavy_after(command, "--help") == []
