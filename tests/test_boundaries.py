"""House rules that keep the dependency arrows pointing one way (DESIGN.md)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_top_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_library_never_imports_ray_or_mlflow():
    offenders = {}
    for path in (ROOT / "wsvad").rglob("*.py"):
        if "cli" in path.relative_to(ROOT / "wsvad").parts:
            continue  # the CLI is where the packages meet
        bad = imported_top_modules(path) & {"ray", "mlflow", "extraction", "sweeps"}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offenders, offenders


def test_mlflow_folder_is_not_a_package():
    assert not (ROOT / "mlflow" / "__init__.py").exists()


def test_importing_wsvad_methods_pulls_no_ray_mlflow_or_open_clip():
    code = ("import sys, wsvad.methods, wsvad.train, wsvad.features\n"
            "print([m for m in ('ray', 'mlflow', 'open_clip') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_torch_is_pinned_with_its_torchvision():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"torch==2.14.1"' in text and '"torchvision==0.29.1"' in text
