"""What people look at: figures in the run directory, throughput, report/compare/bench commands."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kerasdl.config import Data, Model, Trainer
from kerasdl.runner import run

from conftest import REPO, run_cli, small_experiment


def _assert_real_png(path):
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100, path
    assert float(np.std(image[..., :3])) > 0.02, f"{path} is nearly blank"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("reports")
    experiment = small_experiment(tmp_path, trainer=Trainer(epochs=3, verbose=0))
    return run(experiment, log=lambda line: None)


def test_run_writes_every_figure(finished_run):
    names = {p.name for p in finished_run.figures}
    expected = {"curves.png", "samples.png", "confusion.png", "predictions.png"}
    import shutil
    if shutil.which("dot"):
        expected.add("model.png")
    assert expected <= names
    for path in finished_run.figures:
        _assert_real_png(path)


def test_throughput_is_measured_and_recorded(finished_run):
    throughput = finished_run.throughput
    assert throughput["samples_per_s"] > 0 and throughput["step_time_ms"] > 0
    assert throughput["peak_memory_mb"] > 10
    epoch_times = throughput["epoch_times_s"]
    assert len(epoch_times) == 3 and min(epoch_times) > 0
    assert throughput["epoch_time_s"] == pytest.approx(float(np.median(epoch_times[1:])), abs=1e-3)
    manifest = json.loads((finished_run.run_dir / "manifest.json").read_text())
    assert manifest["throughput"] == throughput
    assert "samples/s" in (finished_run.run_dir / "report.txt").read_text()


def test_missing_graphviz_is_said_clearly(monkeypatch, tmp_path):
    import keras

    from kerasdl import plots

    monkeypatch.setattr(plots.shutil, "which", lambda name: None)
    lines = []
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert plots.plot_model_diagram(model, tmp_path / "m.png", log=lines.append) is None
    assert "Graphviz's `dot` program is not installed" in lines[0] and "apt-get install" in lines[0]


def test_report_and_compare_commands(finished_run, tmp_path):
    for png in finished_run.run_dir.glob("*.png"):
        png.unlink()
    result = run_cli("report", str(finished_run.run_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test accuracy" in result.stdout and "wrote" in result.stdout
    for name in ("curves.png", "confusion.png", "predictions.png", "samples.png"):
        _assert_real_png(finished_run.run_dir / name)
    result = run_cli("compare", str(finished_run.run_dir), str(finished_run.run_dir),
                     "--output", str(tmp_path / "compare.png"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count(finished_run.run_dir.name) == 2
    _assert_real_png(tmp_path / "compare.png")
    not_a_run = run_cli("report", str(tmp_path), cwd=tmp_path)
    assert not_a_run.returncode == 1 and "is not a finished kerasdl run directory" in not_a_run.stderr


def test_bench_command_measures_without_writing(tmp_path):
    result = run_cli("bench", str(REPO / "experiments" / "mlp_digits.py"), "--epochs", "2",
                     "--set", "data.source=embedded", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[kerasdl] bench mlp_digits:" in result.stdout and "samples/s" in result.stdout
    assert not (tmp_path / "runs").exists() and not (tmp_path / "saved_models").exists()


def test_reconstruction_target_mismatch_is_said_before_fit(tmp_path):
    experiment = small_experiment(tmp_path, data=Data(name="digits", source="embedded",
                                                      target="features"),
                                  model=Model(name="mlp", kwargs={"hidden": (16,),
                                                                  "include_top": False}),
                                  trainer=Trainer(loss="mse", metrics=("mae",), epochs=1, verbose=0))
    # an MLP without its top outputs 16 features, not the 8x8 image it should reconstruct
    from kerasdl.errors import DataError
    with pytest.raises(DataError, match="compares labels with outputs of the same shape"):
        run(experiment, log=lambda line: None)
