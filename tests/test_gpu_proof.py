"""bench/gpu_proof.py on a machine without a GPU: every section named, the GPU ones skipped with
the reason, the CPU smoke rows ok; a section that fails is an error row and a non-zero exit."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

SECTIONS = ("1. environment", "2. zoo", "3. ResNet-50", "4. LeNet-5", "5. mnist_fast")


def _proof(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "bench/gpu_proof.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _gpu_proof_module():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import gpu_proof
    finally:
        sys.path.remove(str(REPO / "bench"))
    return gpu_proof


def test_a_spent_budget_skips_every_section_by_name_and_passes():
    result = _proof("--budget-s", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    for section in SECTIONS:
        rows = [line for line in table if line.startswith(f"| {section}")]
        assert rows and all("| skipped: " in row for row in rows), (section, table)
    assert "| 1. environment | environment | skipped: --budget-s 0 spent |" in result.stdout


def test_a_section_whose_process_fails_is_an_error_row_with_its_log(tmp_path):
    gpu_proof = _gpu_proof_module()
    proof = gpu_proof.Proof(budget_s=60, zoo_xla=False, scratch=tmp_path)
    rows = proof.run(gpu_proof.Section("no_such_section", "9. broken", 30))
    assert [row["status"] for row in rows] == ["error: its process exited 1"]
    assert proof.failed() and "StopIteration" in proof.logs["9. broken"]


@pytest.mark.slow
def test_on_a_cpu_the_gpu_sections_are_skipped_by_reason_and_the_smoke_rows_are_ok(tmp_path):
    """The quick CPU run (sections 2 and 3 at toy size): about 1 minute on 2 quiet cores."""
    result = _proof("--quick", "--json", str(tmp_path / "proof.json"))
    report = json.loads((tmp_path / "proof.json").read_text())
    if report["gpus"]:
        pytest.skip("a GPU is visible: this checks the CPU-only behaviour")
    assert result.returncode == 0 and report["passed"], result.stdout + result.stderr[-3000:]
    by_section: dict[str, list[dict]] = {}
    for row in report["rows"]:
        by_section.setdefault(row["section"], []).append(row)
    for section in SECTIONS:
        assert any(title.startswith(section) for title in by_section), (section, list(by_section))
        assert f"| {section}" in result.stdout
    no_gpu = _gpu_proof_module().NO_GPU
    for title, rows in by_section.items():
        if title.endswith("(GPU)"):
            assert len(rows) == 1 and rows[0]["status"].startswith(no_gpu), (title, rows)
    smoke = {title: rows for title, rows in by_section.items() if "CPU smoke" in title}
    zoo = next(rows for title, rows in smoke.items() if title.startswith("2s."))
    resnet = next(rows for title, rows in smoke.items() if title.startswith("3s."))
    assert [row["item"] for row in zoo] == ["lenet5", "lstm"]
    assert all(row["status"] == "ok" for row in zoo + resnet), smoke
    assert any(row["item"].startswith("images/s") and float(row["result"].replace(",", "")) > 0
               for row in resnet), resnet

