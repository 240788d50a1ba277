"""Smoke checks of the benchmark scripts of bench/: each still runs at its smallest size and prints
its figures in the expected form.

They prove no figure: a ratio or throughput is only checked to be positive (accuracies to be
above chance), because one or two short rounds on a shared machine measure noise. The figures
themselves are measured at full size and recorded in bench/README.md. All marked slow: .ci/run
runs them after the default suite."""
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


def test_smoke_seed_comparison_runs_and_prints_a_positive_speed_up_and_accuracies():
    """Smoke: the script runs; the speed-up is only checked to be positive."""
    out = _bench("lenet5_vs_seed.py", "--epochs", "2", "--rounds", "1")
    assert _figure(r"speed-up of kerasdl defaults:\s+([\d.]+)x", out) > 0
    assert 0.1 < _figure(r"kerasdl defaults .* test accuracy ([\d.]+)", out) <= 1
    assert 0.1 < _figure(r"seed-style script .* test accuracy ([\d.]+)", out) <= 1


def test_smoke_zoo_table_has_a_row_per_model_with_its_unit_and_a_positive_throughput():
    """Smoke: one row per model asked for, in its unit; throughputs only checked positive."""
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
def test_smoke_paired_benchmark_runs_and_prints_a_positive_ratio(script, pattern):
    """Smoke: the script runs and prints its ratio; only its sign is checked."""
    out = _bench(script, "--epochs", "2", "--rounds", "1")
    assert _figure(pattern, out) > 0


def test_smoke_callback_costs_runs_and_prints_a_positive_checkpoint_cost():
    """Smoke: the per-hook table lists the best checkpoint; its cost is only checked positive."""
    out = _bench("callback_costs.py", "--epochs", "2")
    assert _figure(r"BestCheckpoint.on_epoch_end\s+([\d.]+) ms", out) > 0


def test_smoke_predict_throughput_runs_and_prints_a_positive_ratio():
    """Smoke: a run directory is trained on a small folder and predicted from; the ratio of
    predict to model.predict is only checked to be positive."""
    out = _bench("predict_throughput.py", "--quick", "--models", "lenet5")
    line = out.replace(",", "")
    assert _figure(r"lenet5 .*: predict (\d+) images/s", line) > 0
    assert _figure(r"model\.predict (\d+) images/s", line) > 0
    assert _figure(r"; ratio ([\d.]+) \(range", line) > 0


def test_full_mnist_bench_writes_idx_files_that_tfds_mnist_builder_parses_back(tmp_path):
    """bench/lenet5_full_mnist.py rebuilds MNIST's IDX files for TFDS's own mnist builder; its
    parser must read back exactly the images and labels written (shape, order, bytes)."""
    import numpy as np
    from tensorflow_datasets.image_classification import mnist as tfds_mnist

    sys.path.insert(0, str(REPO / "bench"))
    from lenet5_full_mnist import write_idx

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7).astype(np.uint8)
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels", labels)
    parsed = tfds_mnist._extract_mnist_images(str(tmp_path / "images"), 7)
    np.testing.assert_array_equal(parsed[..., 0], images)
    np.testing.assert_array_equal(tfds_mnist._extract_mnist_labels(str(tmp_path / "labels"), 7),
                                  labels)
    assert (tmp_path / "images").read_bytes()[:4] == bytes([0, 0, 8, 3])   # MNIST's magic 2051


def test_smoke_hub_vs_scratch_pretrains_a_preset_and_prints_every_recipe_against_scratch():
    """Smoke of bench/hub_vs_scratch.py --quick (about 2 min on 2 shared cores): the preset is
    pretrained on digits 0-4 above chance, and seed 0 has a row per recipe with an accuracy and
    a wall time; the figures themselves are in bench/README.md."""
    out = _bench("hub_vs_scratch.py", "--quick")
    assert 0.5 < _figure(r"pretrained \d-stage preset: test accuracy ([\d.]+) on digits 0-4", out) <= 1
    for recipe in ("two_phase", "retrain_all", "scratch"):
        row = re.search(rf"^\| 0 \| {recipe} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", out, re.M)
        assert row, f"no seed-0 row of {recipe} in:\n{out}"
        validation, test, wall = map(float, row.groups())
        assert 0 < validation <= 1 and 0 < test <= 1 and wall > 0, row.group(0)
        assert re.search(rf"^\| {recipe} \| [\d.]+ ± ", out, re.M), out
