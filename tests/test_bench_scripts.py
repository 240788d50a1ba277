"""The benchmark scripts of bench/ still run and print their figures (at the smallest sizes: these
check the scripts, not the figures, which bench/README.md records). All marked slow: .ci/run runs
them after the default suite."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def _bench(script: str, *args: str, timeout: float = 600) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _figure(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"no line matching {pattern!r} in:\n{text}"
    return float(match.group(1))


def test_seed_comparison_prints_speed_and_accuracy(tmp_path):
    out = _bench("lenet5_vs_seed.py", "--epochs", "2", "--rounds", "1")
    assert _figure(r"speed-up of kerasdl defaults:\s+([\d.]+)x", out) > 0
    assert 0.1 < _figure(r"kerasdl defaults .* test accuracy ([\d.]+)", out) <= 1
    assert 0.1 < _figure(r"seed-style script .* test accuracy ([\d.]+)", out) <= 1


def test_zoo_table_covers_image_sequence_and_text_models():
    out = _bench("zoo_step_time.py", "lenet5", "lstm", "seq2seq", "transformer_classifier",
                 "recursive", "--steps", "1", "--warmup", "1", "--markdown")
    rows = {line.split("|")[1].strip(): line for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| model")}
    assert set(rows) == {"lenet5", "lstm", "seq2seq", "transformer_classifier", "recursive"}
    assert "images/s" in rows["lenet5"] and "tokens/s" in rows["lstm"]
    assert "tokens/s" in rows["transformer_classifier"] and "subclassed" in rows["recursive"]
    for row in rows.values():
        throughput = float(row.split("|")[7].replace(",", ""))
        assert throughput > 0, row


@pytest.mark.parametrize("script, pattern", [
    ("runner_overhead.py", r"throughput ratio \(kerasdl/bare\)\s+([\d.]+)x"),
    ("input_pipeline.py", r"pipeline / fit\(x, y\) tensors:\s+([\d.]+)x"),
    ("strategy_overhead.py", r"tf.device vs OneDeviceStrategy: ([\d.]+)x"),
])
def test_paired_benchmarks_print_their_ratio(script, pattern):
    out = _bench(script, "--epochs", "2", "--rounds", "1")
    assert _figure(pattern, out) > 0


def test_callback_costs_lists_the_checkpoint():
    out = _bench("callback_costs.py", "--epochs", "2")
    assert _figure(r"BestCheckpoint.on_epoch_end\s+([\d.]+) ms", out) > 0
