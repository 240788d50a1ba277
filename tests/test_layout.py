"""The package's layout holds: the import layers, a plain run without transfer learning, short
functions and each run-file name spelled in one place (issue 25, "One house")."""
from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kerasdl"


def _sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(PACKAGE.rglob("*.py"))}


def test_the_import_contract_of_dot_importlinter_is_kept():
    """``lint-imports`` checks the layers of the README's layout (no import circle can return)."""
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]' installs it)")
    done = subprocess.run([lint, "--config", str(ROOT / ".importlinter"), "--no-cache"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_plain_run_imports_nothing_from_kerasdl_transfer(tmp_path):
    """A run without a recipe fits through kerasdl.training alone (a fresh process, a real run)."""
    script = (
        "import json, sys\n"
        "import kerasdl\n"
        "from kerasdl.config import with_overrides\n"
        "exp = with_overrides(kerasdl.load_experiment('mlp_xor'), {'trainer.epochs': 2,\n"
        "    'output.publish': 'never', 'output.runs_dir': 'runs',\n"
        "    'callbacks.tensorboard.enabled': False})\n"
        "result = kerasdl.run(exp)\n"
        "print(json.dumps({'finished': (result.run_dir / 'report.txt').is_file(),\n"
        "    'modules': sorted(m for m in sys.modules if m.startswith('kerasdl'))}))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["finished"]
    assert "kerasdl.training" in record["modules"]
    assert [m for m in record["modules"] if m.startswith("kerasdl.transfer")] == []


def test_no_function_in_the_package_is_over_80_lines():
    long = []
    for path, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []


@pytest.mark.parametrize("name", ["config.json", "model.keras", "history.csv", "manifest.json",
                                  "metrics.json"])
def test_each_run_file_name_is_spelled_in_at_most_two_modules(name):
    """kerasdl.rundir names the files of a run directory; others use its names."""
    spelled = [str(path.relative_to(ROOT)) for path, text in _sources().items()
               if f'"{name}"' in text or f"'{name}'" in text]
    assert "kerasdl/rundir.py" in spelled
    assert len(spelled) <= 2, spelled
