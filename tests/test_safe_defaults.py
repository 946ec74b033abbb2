"""Safe by default: services bind to loopback unless asked otherwise, checkpoints and arrays are
never unpickled, and no shell command is built at all. The bindings are read from the files that
start the services; the rest is checked over the source tree's syntax, so a new call site that
breaks a rule fails here by name."""

from __future__ import annotations

import ast
import functools
import os
import pickle
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("wsvad", "extraction", "sweeps", "benchmarks", "tests")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def python_files() -> list[Path]:
    files = [p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts]
    assert len(files) > 50, "the source tree was not found"
    return sorted(files)


def calls(path: Path) -> list[tuple[str, ast.Call]]:
    return _calls(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _calls(path: Path, mtime: int) -> list[tuple[str, ast.Call]]:
    """Every call in ``path`` as (dotted name of the callee, the Call node). A ``**name`` argument
    whose ``name = dict(k=v, ...)`` is assigned in the same file is spelled out as keywords."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    dicts = {target.id: node.value.keywords for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and isinstance(node.value, ast.Call) and _dotted(node.value.func) == "dict"
             for target in node.targets if isinstance(target, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in list(node.keywords):
                if kw.arg is None and isinstance(kw.value, ast.Name) and kw.value.id in dicts:
                    node.keywords.extend(dicts[kw.value.id])
            found.append((_dotted(node.func), node))
    return found


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str):
    """The value of keyword ``name``: a Python constant, ``...`` when not a literal, None when absent."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else ...
    return None


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{node.lineno}"


# --- services bind to loopback ----------------------------------------------------------------

def _server_args(tmp_path: Path, *args: str, **env: str) -> tuple[list[str], str]:
    """mlflow/server.sh run with a stand-in mlflow that prints the arguments it was given."""
    fake = tmp_path / "fake-mlflow"
    fake.write_text("#!/usr/bin/env bash\nprintf '%s\\n' \"$@\"\n")
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run(["bash", str(ROOT / "mlflow" / "server.sh"), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**base, "MLFLOW_BIN": str(fake), "MLFLOW_ROOT": str(tmp_path),
                                                      **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n"), proc.stderr


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_mlflow_server_script_binds_loopback_unless_told(tmp_path):
    argv, stderr = _server_args(tmp_path)
    assert argv[0] == "server" and _flag(argv, "--host") == "127.0.0.1" and stderr == ""
    # Opening it is deliberate, and said out loud.
    for argv, stderr in (_server_args(tmp_path, "--host", "0.0.0.0"), _server_args(tmp_path, MLFLOW_HOST="0.0.0.0")):
        assert _flag(argv, "--host") == "0.0.0.0"
        assert "exposes the tracking server" in stderr and "no authentication" in stderr
    argv, _ = _server_args(tmp_path, "--host", "0.0.0.0", "--allowed-hosts", "mlflow.example.org")
    assert _flag(argv, "--allowed-hosts") == "mlflow.example.org"


def test_mlflow_readme_says_what_opening_the_server_means():
    text = (ROOT / "mlflow" / "README.md").read_text()
    assert "binds to 127.0.0.1" in text and "--host 0.0.0.0" in text
    assert "no" in text and "authentication" in text and "SSH tunnel" in text and "--allowed-hosts" in text


def test_cluster_head_binds_dashboard_jobs_api_and_mlflow_to_loopback():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    head = [" ".join(c.split()) for c in config["head_start_ray_commands"]]
    ray_start = [c for c in head if "ray start --head" in c]
    assert len(ray_start) == 1 and "--dashboard-host=127.0.0.1" in ray_start[0]  # the Jobs API is served there too
    mlflow = [c for c in head if "mlflow/server.sh" in c]
    assert len(mlflow) == 1 and "--host 127.0.0.1" in mlflow[0]
    commands = " ".join(" ".join(map(str, v)) for k, v in config.items() if k.endswith("commands"))
    assert "0.0.0.0" not in commands and "::" not in commands.replace("::1", "")


def test_local_ray_starts_without_a_dashboard_and_never_binds_it_wide():
    """Every ``ray.init`` either joins a cluster someone started (``address=`` not "local") or
    starts its own without a dashboard; none passes a non-loopback ``dashboard_host``."""
    seen = []
    for path in python_files():
        if path.is_relative_to(ROOT / "tests"):
            continue
        for name, call in calls(path):
            if name != "ray.init":
                continue
            seen.append(where(path, call))
            host = _keyword(call, "dashboard_host")
            assert host is None or host in LOOPBACK, f"{where(path, call)}: dashboard_host={host!r}"
            address = _keyword(call, "address")
            joins = address is not None and address != "local"
            assert joins or _keyword(call, "include_dashboard") is False, \
                f"{where(path, call)}: starts a local Ray with its dashboard"
    assert any("sweeps/driver.py" in s for s in seen) and any("extraction/ray_session.py" in s for s in seen)


def test_no_service_is_started_on_all_interfaces_by_a_script():
    for path in [ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "mlflow" / "server.sh", ROOT / "cluster.yaml"]:
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0] if path.suffix in (".sh", ".yaml", "") else line
            assert "0.0.0.0" not in code, f"{path.relative_to(ROOT)}:{n}: {line.strip()}"


# --- nothing is unpickled -----------------------------------------------------------------------

def test_every_torch_load_is_weights_only():
    seen = 0
    for path in python_files():
        for name, call in calls(path):
            if name in ("torch.load", "load") and (name == "torch.load" or _imports_torch_load(path)):
                seen += 1
                assert _keyword(call, "weights_only") is True, f"{where(path, call)}: torch.load without weights_only=True"
    assert seen >= 4


def _imports_torch_load(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(n, ast.ImportFrom) and n.module == "torch" and any(a.name == "load" for a in n.names)
               for n in ast.walk(tree))


def test_no_array_is_loaded_with_pickles_allowed():
    for path in python_files():
        for name, call in calls(path):
            if name.endswith(("np.load", "numpy.load")):
                assert _keyword(call, "allow_pickle") in (None, False), f"{where(path, call)}: np.load(allow_pickle=...)"


UNPICKLERS = ("pickle.load", "pickle.loads", "cloudpickle.load", "cloudpickle.loads", "dill.load", "dill.loads",
              "joblib.load", "mlflow.pytorch.load_model", "mlflow.pyfunc.load_model", "yaml.load", "yaml.unsafe_load",
              "shelve.open", "marshal.loads")


def test_library_code_never_unpickles():
    """wsvad, extraction and sweeps never call a loader that can run pickled code (a test may, e.g.
    to check that MLflow can serve a logged model)."""
    for path in python_files():
        if path.relative_to(ROOT).parts[0] not in ("wsvad", "extraction", "sweeps"):
            continue
        for name, call in calls(path):
            assert not name.endswith(UNPICKLERS), f"{where(path, call)}: {name}"


class WritesMarker:
    """Unpickling this object creates ``path``: proof that a loader ran pickled code."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _hostile_checkpoints(tmp_path: Path) -> dict[str, Path]:
    import torch

    marker = str(tmp_path / "UNPICKLED")
    files = {}
    files["torch-save"] = tmp_path / "evil-torch.pt"        # zip container, object among the tensors
    torch.save({"fc.weight": torch.zeros(2, 2), "evil": WritesMarker(marker)}, files["torch-save"])
    files["wrapped"] = tmp_path / "evil-wrapped.pt"         # inside the usual {"state_dict": ...} wrapper
    torch.save({"state_dict": {"fc.weight": torch.zeros(2)}, "args": WritesMarker(marker)}, files["wrapped"])
    files["plain-pickle"] = tmp_path / "evil-plain.pt"      # legacy (non-zip) pickle
    files["plain-pickle"].write_bytes(pickle.dumps({"fc.weight": WritesMarker(marker)}, protocol=2))
    return files


@pytest.mark.parametrize("kind", ["torch-save", "wrapped", "plain-pickle"])
def test_convert_refuses_a_checkpoint_holding_a_pickled_object(tmp_path, capsys, kind):
    from wsvad.cli.main import main

    official = _hostile_checkpoints(tmp_path)[kind]
    code = main(["convert", "--method", "rtfm", "--official", str(official), "--out", str(tmp_path / "out.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = err.strip().split("\n")
    assert len(lines) == 1 and str(official) in lines[0] and "weights_only=True" in lines[0], err
    assert not (tmp_path / "UNPICKLED").exists(), "the converter ran pickled code"
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("kind", ["torch-save", "plain-pickle"])
def test_a_wsvad_checkpoint_holding_a_pickled_object_is_refused(tmp_path, kind):
    from wsvad.errors import CheckpointError
    from wsvad.train import load_checkpoint

    path = _hostile_checkpoints(tmp_path)[kind]
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert "\n" not in str(caught.value) and "refusing to unpickle" in str(caught.value)
    assert not (tmp_path / "UNPICKLED").exists()


def test_convert_refuses_an_empty_file_in_one_line(tmp_path, capsys):
    from wsvad.cli.main import main

    (tmp_path / "empty.pt").write_bytes(b"")
    code = main(["convert", "--method", "rtfm", "--official", str(tmp_path / "empty.pt"), "--out",
                 str(tmp_path / "o.pt")])
    assert code == 2 and len(capsys.readouterr().err.strip().split("\n")) == 1


# --- no shell -------------------------------------------------------------------------------------

SHELLS = ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
          "asyncio.create_subprocess_shell", "pty.spawn")
# Known today, reported: a fixed command (shlex-quoted) for unpacking a test-data package.
SHELL_TRUE_KNOWN = {"extraction/sample_videos.py"}


def _shell_uses(path: Path) -> list[str]:
    found = []
    for name, call in calls(path):
        if name.endswith(SHELLS):
            found.append(f"{where(path, call)}: {name}")
        elif _keyword(call, "shell") not in (None, False):
            found.append(f"{where(path, call)}: {name}(shell=...)")
    return found


def test_no_shell_command_is_built_anywhere():
    found = [f for path in python_files() if str(path.relative_to(ROOT)) not in SHELL_TRUE_KNOWN
             for f in _shell_uses(path)]
    assert found == []


def test_sample_videos_uses_no_shell():
    assert _shell_uses(ROOT / "extraction" / "sample_videos.py") == []


def test_subprocess_calls_pass_argument_lists():
    """A command given as one string would need a shell to split it: every subprocess call in library
    code passes a list (or a name built into one)."""
    for path in python_files():
        if path.is_relative_to(ROOT / "tests") or str(path.relative_to(ROOT)) in SHELL_TRUE_KNOWN:
            continue
        for name, call in calls(path):
            if name in ("subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call",
                        "subprocess.check_output") and call.args:
                first = call.args[0]
                assert not isinstance(first, (ast.Constant, ast.JoinedStr, ast.BinOp)), \
                    f"{where(path, call)}: command given as a string"


def test_checks_above_see_what_they_look_for(tmp_path):
    """The AST rules catch the patterns they name (so an empty result above means something)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os, subprocess, torch, numpy as np\n"
                   "os.system('ls')\nsubprocess.run('ls', shell=True)\ntorch.load('x')\n"
                   "torch.load('x', weights_only=False)\nnp.load('x', allow_pickle=True)\n")
    assert len(_shell_uses(bad)) == 2
    loads = [c for n, c in calls(bad) if n == "torch.load"]
    assert [_keyword(c, "weights_only") for c in loads] == [None, False]
    assert [_keyword(c, "allow_pickle") for n, c in calls(bad) if n == "np.load"] == [True]
