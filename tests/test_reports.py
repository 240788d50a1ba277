"""What people look at: figures in the run directory, throughput, report/compare/bench/list."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kerasdl.config import Data, Model, Trainer
from kerasdl.runner import run

from conftest import REPO, run_cli, run_python, small_experiment


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


def _snapshot(run_dir):
    """Every file under ``run_dir``: its mtime (ns) and bytes."""
    return {str(p.relative_to(run_dir)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


REPORT_WITHOUT_TF = """
import sys
from kerasdl.cli import main
try:
    main(["report", {run_dir!r}])
except SystemExit as exit:
    print("EXIT", exit.code)
print("TF_IMPORTED", "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def test_report_prints_without_tensorflow_and_changes_nothing(finished_run, tmp_path):
    run_dir = finished_run.run_dir
    before = _snapshot(run_dir)
    result = run_python(REPORT_WITHOUT_TF.format(run_dir=str(run_dir)), cwd=tmp_path)
    assert "TF_IMPORTED False False" in result.stdout, result.stdout + result.stderr
    assert "EXIT" not in result.stdout and "wrote" not in result.stdout, result.stdout
    assert "test accuracy" in result.stdout and "mlp, functional" in result.stdout
    # the digits have no class names: the per-class table names them by their ids
    per_class = json.loads((run_dir / "per_class.json").read_text())
    assert list(per_class) == [str(digit) for digit in range(10)]
    assert "per class (test split):" in result.stdout
    assert all(f"\n{digit} " in result.stdout for digit in range(10)), result.stdout
    closing = (run_dir / "report.txt").read_text().strip()
    assert closing.splitlines()[0] in result.stdout and closing in result.stdout
    assert _snapshot(run_dir) == before                     # not a byte, not an mtime


def test_report_redraw_rewrites_the_figures(finished_run, tmp_path):
    run_dir = finished_run.run_dir
    figures = ("curves.png", "confusion.png", "predictions.png", "samples.png")
    for name in figures:
        os.utime(run_dir / name, ns=(0, 0))                  # 1970: any rewrite is newer
    (run_dir / "samples.png").unlink()
    result = run_cli("report", "--redraw", str(run_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test accuracy" in result.stdout
    for name in figures:
        assert f"wrote {run_dir / name}" in result.stdout, result.stdout
        assert (run_dir / name).stat().st_mtime_ns > 0, name
        _assert_real_png(run_dir / name)
    not_a_run = run_cli("report", str(tmp_path), cwd=tmp_path)
    assert not_a_run.returncode == 1 and "is not a finished kerasdl run directory" in not_a_run.stderr


def test_compare_command_says_where_it_wrote(finished_run, tmp_path):
    output = tmp_path / "compare.png"
    result = run_cli("compare", str(finished_run.run_dir), str(finished_run.run_dir),
                     "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count(finished_run.run_dir.name) == 2
    assert result.stdout.rstrip().splitlines()[-1] == f"wrote {output}"
    _assert_real_png(output)
    without = run_cli("compare", str(finished_run.run_dir), cwd=tmp_path)
    assert without.returncode == 0 and "wrote" not in without.stdout


def _written_run(run_dir: Path, experiment, source: str = "tfds") -> Path:
    """The three files that make ``run_dir`` a finished run for the readers (no training)."""
    (run_dir / "config.json").write_text(json.dumps(experiment.to_dict()))
    (run_dir / "manifest.json").write_text(json.dumps({"data": {"source": source}}))
    (run_dir / "metrics.json").write_text(json.dumps({"accuracy": 0.9}))
    return run_dir


def test_run_table_names_a_transfer_runs_recipe_and_backbone(tmp_path):
    """The table describes a transfer run by its recipe and backbone, not the unused model.name."""
    from kerasdl.config import Experiment, Finetune
    from kerasdl.reports import metrics_table, read_run

    experiment = Experiment(name="flowers", model=Model(name="lenet5"),
                            finetune=Finetune(recipe="finetune_all", backbone="keras:MobileNetV2"))
    table = metrics_table([read_run(_written_run(tmp_path, experiment))])
    assert "finetune_all on keras:MobileNetV2 (ImageNet weights)" in table
    assert "lenet5" not in table


def test_report_prints_per_class_results_by_folder_name_and_runs_without_them(tmp_path):
    """A folder: run's per_class.json is printed as an aligned table by class (folder) name; a
    run without the file (an older kerasdl, or not a classifier) reports as before."""
    from kerasdl.config import Experiment
    from kerasdl.figures import write_per_class
    from kerasdl.reports import report

    run_dir = _written_run(tmp_path, Experiment(name="shapes", data=Data(name="folder:shapes"),
                                                model=Model(name="mlp")), source="folder")
    lines: list[str] = []
    report(run_dir, log=lines.append)
    assert "per class" not in "\n".join(lines) and "test accuracy" in lines[0]
    truth = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])           # no 'triangle' in the test split
    predicted = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0])
    write_per_class(truth, predicted, 4, run_dir / "per_class.json",
                    class_names=("circle", "cross", "square", "triangle"))
    lines = []
    report(run_dir, log=lines.append)
    text = "\n".join(lines)
    table = text.split("per class (test split):\n")[1].splitlines()[:5]
    assert [row.split()[0] for row in table] == ["class", "circle", "cross", "square", "triangle"]
    assert table[1].split() == ["circle", "3", "2", "0.6667", "0.6667", "0.6667"]
    assert table[2].split() == ["cross", "2", "2", "0.6667", "1.0000", "0.8000"]
    assert table[3].split() == ["square", "4", "3", "1.0000", "0.7500", "0.8571"]
    assert table[4].split() == ["triangle", "0", "0", "-", "-", "-"]     # undefined, not 0
    # aligned: every column of numbers ends where its header does
    for column in ("examples", "right", "precision", "recall"):
        end = table[0].index(column) + len(column)
        assert all(row[end - 1] != " " and (len(row) == end or row[end] == " ")
                   for row in table[:4]), (column, table)


def test_list_aligns_descriptions_after_the_longest_name(tmp_path):
    from click.testing import CliRunner

    from kerasdl.catalog import catalog
    from kerasdl.cli import cli

    for stem in ("a", "a_much_longer_experiment_file_name_than_32_characters"):
        (tmp_path / f"{stem}.py").write_text(f'"""Experiment {stem}."""\n')
    result = CliRunner().invoke(cli, ["list", "--experiments-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("  ")]
    models, experiments = rows[:len(catalog())], rows[len(catalog()):]
    assert len(experiments) == 2

    def description_column(line: str) -> int:          # where the text after the name starts
        after_name = line[2 + len(line[2:].split()[0]):]
        return len(line) - len(after_name.lstrip())

    for section in (models, experiments):
        assert len({description_column(line) for line in section}) == 1, section
    longest = max(catalog(), key=len)
    assert any(line.startswith(f"  {longest}  ") for line in models)


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


def test_figures_caption_a_relabelled_subset_by_its_digits(tmp_path, monkeypatch):
    """mnist_5to9_10 trains on labels 0-4; samples.png, predictions.png and confusion.png say
    the digits 5-9 (the dataset's class names), and the manifest records them."""
    import kerasdl.figures

    captions = {}

    def capture(plot, path_index):      # image_grid(images, titles, path, ...) and
        def wrapper(*args, **kwargs):     # plot_confusion(truth, predicted, n, path, ...)
            captions[Path(args[path_index]).name] = kwargs.get("class_names") or args[1]
            return plot(*args, **kwargs)
        return wrapper

    for name, path_index in (("image_grid", 2), ("plot_confusion", 3)):
        monkeypatch.setattr(kerasdl.figures, name,
                            capture(getattr(kerasdl.figures, name), path_index))
    result = run(small_experiment(
        tmp_path, data=Data(name="mnist_5to9_10", source="embedded", batch_size=16,
                            validation_fraction=0.2),
        model=Model(name="mlp", kwargs={"hidden": (16,), "num_classes": 5}),
        trainer=Trainer(epochs=1, verbose=0)), log=lambda line: None)
    digits = {"5", "6", "7", "8", "9"}
    assert set(captions) == {"samples.png", "predictions.png", "confusion.png"}
    assert set(captions["samples.png"]) <= digits and len(set(captions["samples.png"])) > 1
    shown = {word for title in captions["predictions.png"] for word in
             title.replace("(true ", " ").replace(")", "").split()}
    assert shown <= digits and shown
    assert list(captions["confusion.png"]) == sorted(digits)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["data"]["class_names"] == sorted(digits)
    # per class, by digit: per_class.json and the report's table
    per_class = json.loads((result.run_dir / "per_class.json").read_text())
    assert list(per_class) == sorted(digits)
    assert [per_class[d]["id"] for d in sorted(digits)] == [0, 1, 2, 3, 4]
    assert sum(c["count"] for c in per_class.values()) == manifest["data"]["counts"]["test"]
    from kerasdl.reports import report

    lines: list[str] = []
    report(result.run_dir, log=lines.append)
    table = "\n".join(lines).split("per class (test split):\n")[1].splitlines()
    assert [row.split()[0] for row in table[1:6]] == sorted(digits)


def test_report_time_to_names_the_first_epoch_and_its_time(finished_run):
    """Every run keeps each epoch's end in seconds since training started (manifest
    ``epoch_end_s``; issue 15, 2); ``report --time-to METRIC=VALUE`` names the first epoch that
    reaches VALUE ('>=' for accuracies, '<=' for losses) and that time."""
    from kerasdl.errors import ConfigError
    from kerasdl.reports import read_run, report

    run_dir = finished_run.run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text())
    times = manifest["epoch_end_s"]
    assert len(times) == finished_run.epochs_run == 3
    assert 0 < times[0] < times[1] < times[2] <= manifest["wall_time_s"]
    history = read_run(run_dir)["history"]
    accuracy, loss = history["val_accuracy"], history["val_loss"]
    goal = accuracy[1]                                   # reached at epoch 2, or earlier
    first = next(i for i, v in enumerate(accuracy) if v >= goal)
    lines: list[str] = []
    report(run_dir, log=lines.append, time_to_targets=[
        f"val_accuracy={goal}", f"val_loss={min(loss)}", "val_accuracy=1.01"])
    assert (f"val_accuracy >= {goal:g}: first at epoch {first + 1} ({accuracy[first]:.4f}), "
            f"{times[first]:.1f} s after training started") in lines
    last = loss.index(min(loss))
    assert any(line.startswith(f"val_loss <= {min(loss):g}: first at epoch {last + 1} ")
               for line in lines), lines
    assert f"val_accuracy >= 1.01: not reached in 3 epochs (best {max(accuracy):.4f})" in lines
    with pytest.raises(ConfigError, match="logged no 'val_auc'; it logged accuracy, learning_rate, loss"):
        report(run_dir, log=lines.append, time_to_targets=["val_auc=0.9"])
    with pytest.raises(ConfigError, match="takes METRIC=VALUE"):
        report(run_dir, log=lines.append, time_to_targets=["val_accuracy"])


def test_compare_on_a_time_axis_and_curves_that_mark_the_best_epoch(finished_run, tmp_path,
                                                                     monkeypatch):
    """``compare --x time`` draws each run against its own epoch end times; a run without them
    is refused, naming it; the run's curves.png marks the best epoch and has the learning-rate
    panel where the run logged the rate (issue 15, 2)."""
    import shutil

    from kerasdl import plots
    from kerasdl.errors import KerasdlError
    from kerasdl.reports import compare

    drawn = []
    original = plots.plot_curves
    monkeypatch.setattr(plots, "plot_curves", lambda panels, path, *a, **k: (
        drawn.append((panels, k)), original(panels, path, *a, **k))[1])
    run_dir = finished_run.run_dir
    times = json.loads((run_dir / "manifest.json").read_text())["epoch_end_s"]
    compare([run_dir], tmp_path / "time.png", x="time")
    _assert_real_png(tmp_path / "time.png")
    assert drawn[-1][1]["x_values"] == {run_dir.name: times}
    assert drawn[-1][1]["xlabel"] == "seconds since training started"
    old = shutil.copytree(run_dir, tmp_path / "old-run")
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["epoch_end_s"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(KerasdlError, match="old-run recorded no epoch times.*--x epoch"):
        compare([run_dir, old], tmp_path / "refused.png", x="time")
    compare([run_dir, old], tmp_path / "epochs.png")                  # by epoch: fine

    history = {"loss": [0.9, 0.5, 0.6], "val_loss": [1.0, 0.7, 0.8],
               "learning_rate": [1e-3, 1e-3, 5e-4]}
    phases = [{"name": "head", "first_epoch": 1}, {"name": "all", "first_epoch": 3},
              {"name": "never reached", "first_epoch": 9}]
    plots.plot_history(history, tmp_path / "curves.png", best_epoch=2, phases=phases)
    panels, kwargs = drawn[-1]
    assert list(panels) == ["loss", "learning rate"]
    assert kwargs["marks"] == [(2.5, "phase 'all'", ":"), (2, "best epoch 2", "--")]
    _assert_real_png(tmp_path / "curves.png")
