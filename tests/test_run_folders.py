"""Run folders read through one reader (issue 29, 5 and 6): a damaged file of a run is named in
one line by ``report`` and ``compare``; ``compare`` leaves a bad run out and compares the rest,
tells apart runs of the same folder name, and stays readable at 50 runs.

The run folders are written by hand (the files a finished run holds, no training), and read by
``python -m kerasdl`` in fresh processes that never import TensorFlow.
"""
from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from kerasdl.config import Data, Experiment, Model

from conftest import run_cli, run_python

GOOD_HISTORY = ("epoch,accuracy,loss,val_accuracy,val_loss\n"
                "0,0.5,1.2,0.48,1.3\n1,0.7,0.8,0.66,0.9\n2,0.8,0.6,0.75,0.7\n")


def _run_folder(run_dir: Path, history: str = GOOD_HISTORY, accuracy: float = 0.9) -> Path:
    """The files of a finished run, as a run writes them, in ``run_dir`` (made)."""
    run_dir.mkdir(parents=True)
    experiment = Experiment(name="lenet", data=Data(name="digits", source="embedded"),
                            model=Model(name="mlp"))
    (run_dir / "config.json").write_text(json.dumps(experiment.to_dict()))
    (run_dir / "manifest.json").write_text(json.dumps({
        "data": {"source": "embedded"}, "epochs_run": 3, "best_epoch": 3, "wall_time_s": 4.2,
        "epoch_end_s": [1.0, 2.0, 3.0], "throughput": {"samples_per_s": 1000.0}}))
    (run_dir / "metrics.json").write_text(json.dumps({"accuracy": accuracy, "loss": 0.6}))
    (run_dir / "history.csv").write_text(history)
    (run_dir / "report.txt").write_text("[kerasdl] done in 4.2 s: lenet\n")
    return run_dir


#: (case, file, what is written there (bytes; None: the file removed), what the message says)
DAMAGE = [
    ("config truncated", "config.json", b'{"name": "lenet", "da', "is not valid JSON"),
    ("config empty", "config.json", b"", "is empty"),
    ("config a list", "config.json", b"[1, 2]", "holds a JSON list, not the object"),
    ("config wrong type", "config.json", b'{"data": 3, "model": {"name": "mlp"}}',
     "'data' is 3, not an object"),
    ("config not utf-8", "config.json", b'{"name": "l\xe9net"}', "is not UTF-8 text (byte 11"),
    ("config missing", "config.json", None, "(missing config.json)"),
    ("manifest truncated", "manifest.json", b'{"data": {"sour', "is not valid JSON"),
    ("manifest empty", "manifest.json", b"  \n", "is empty"),
    ("manifest no data", "manifest.json", b'{"epochs_run": 3}', "has no 'data'"),
    ("manifest wrong type", "manifest.json", b'{"data": {"source": "embedded"}, '
     b'"wall_time_s": "4.2"}', "'wall_time_s' is \"4.2\", not a number of seconds"),
    ("manifest not utf-8", "manifest.json", b"\xff\xfe{}", "is not UTF-8 text (byte 0"),
    ("manifest missing", "manifest.json", None, "(missing manifest.json)"),
    ("metrics truncated", "metrics.json", b'{"accuracy": 0.9', "is not valid JSON"),
    ("metrics empty", "metrics.json", b"", "is empty"),
    ("metrics wrong type", "metrics.json", b'{"accuracy": "high"}',
     "'accuracy' is \"high\", not a number"),
    ("metrics a number", "metrics.json", b"0.9", "holds a JSON float, not the object"),
    ("metrics not utf-8", "metrics.json", b'{"accuracy": 0.9}\x80', "is not UTF-8 text (byte 17"),
    ("metrics missing", "metrics.json", None, "(missing metrics.json)"),
    ("history cut off", "history.csv", GOOD_HISTORY.encode()[:-6], "is cut off: line 4 has no end"),
    ("history short row", "history.csv", b"epoch,loss,val_loss\n0,1.2,1.3\n1,0.8\n",
     "line 3 has 2 values for the 3 columns"),
    ("history empty", "history.csv", b"", "is empty"),
    ("history not a number", "history.csv", b"epoch,loss\n0,1.2\n1,low\n",
     "line 3, column 'loss': 'low' is not a number"),
    ("history not utf-8", "history.csv", b"epoch,loss\n0,1.2\n1,\xff\n",
     "is not UTF-8 text (byte 19, line 3)"),
    ("closing report not utf-8", "report.txt", b"[kerasdl] done \xe9\n", "is not UTF-8 text"),
]

REPORT_EACH = """
import contextlib, io, json, sys
from kerasdl.cli import main
results = {{}}
for case, run_dir in json.loads({cases!r}).items():
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["report", run_dir])
        except SystemExit as exit:
            code = exit.code
    results[case] = [code, out.getvalue(), err.getvalue()]
print(json.dumps(results))
print("TF_IMPORTED", "tensorflow" in sys.modules)
"""


def test_report_names_each_damaged_file_in_one_line(tmp_path):
    """Each run file truncated, empty, of the wrong type, not UTF-8 or missing: ``kerasdl report``
    exits 1 with one line naming the file and what is wrong (before: JSONDecodeError, KeyError,
    "Unknown format code 'f'", UnicodeDecodeError, or a cut-off history read as if whole)."""
    cases = {}
    for index, (case, name, content, _) in enumerate(DAMAGE):
        run_dir = _run_folder(tmp_path / f"run-{index:02d}")
        if content is None:
            (run_dir / name).unlink()
        else:
            (run_dir / name).write_bytes(content)
        cases[case] = str(run_dir)
    result = run_python(REPORT_EACH.format(cases=json.dumps(cases)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.splitlines()[0])
    assert "TF_IMPORTED False" in result.stdout
    for case, name, _, says in DAMAGE:
        code, out, err = answers[case]
        assert code == 1, (case, code, out, err)
        assert out == "", (case, out)                           # nothing printed before it
        assert err.count("\n") == 1 and err.startswith("error: "), (case, err)
        assert "Traceback" not in err and "Error:" not in err, (case, err)
        named = str(Path(cases[case]) / name) if "missing" not in case else cases[case]
        assert named in err and says in err, (case, err)


def test_a_good_run_still_reports_and_the_cli_says_the_bad_file(tmp_path):
    good = _run_folder(tmp_path / "good")
    report = run_cli("report", str(good), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "test accuracy" in report.stdout and "[kerasdl] done in 4.2 s" in report.stdout
    bad = _run_folder(tmp_path / "bad")
    (bad / "metrics.json").write_text('{"accuracy": "high"}')
    result = run_cli("report", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"error: {bad / 'metrics.json'}: 'accuracy' is \"high\", not a "
                             "number; the run's file was edited or damaged: restore it, or start a "
                             "new run\n")


def test_compare_leaves_out_the_bad_runs_naming_them_and_compares_the_rest(tmp_path):
    runs = [_run_folder(tmp_path / f"run-{i}", accuracy=0.5 + i / 10) for i in range(4)]
    (runs[1] / "history.csv").write_text(GOOD_HISTORY[:-9])             # cut off
    (runs[2] / "manifest.json").write_text("{}")                        # no data
    output = tmp_path / "compare.png"
    result = run_cli("compare", *map(str, runs), "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert warnings == [
        f"warning: left out of the comparison: {runs[1] / 'history.csv'} is cut off: line 4 has "
        "no end (a run writes the file whole); restore it, or start a new run",
        f"warning: left out of the comparison: {runs[2] / 'manifest.json'} has no 'data' (an "
        "object); the run's file was edited or written by another program: restore it, or start "
        "a new run"]
    table = result.stdout.splitlines()
    assert [line.split()[0] for line in table[1:3]] == ["run-0", "run-3"]
    assert table[3] == f"(2 left out, unreadable: {runs[1]}, {runs[2]})"
    assert table[-1] == f"wrote {output}" and output.stat().st_size > 10_000
    # none readable: one line naming the first problem, exit 1
    nothing = run_cli("compare", str(runs[1]), str(runs[2]), cwd=tmp_path)
    assert nothing.returncode == 1
    assert nothing.stderr.splitlines()[-1].startswith(
        f"error: compare: no run could be read (2 left out; the first: {runs[1]}: ")


def test_compare_tells_apart_runs_of_the_same_folder_name(tmp_path, monkeypatch):
    """Runs are keyed by their path: two ``lenet-1`` folders under different parents are two
    rows and two curves, labelled by the shortest path suffix that tells them apart."""
    from kerasdl import plots
    from kerasdl.reports import compare, path_labels

    first = _run_folder(tmp_path / "mnist" / "lenet-1")
    second = _run_folder(tmp_path / "fashion" / "lenet-1",
                         history=GOOD_HISTORY.replace("0.75,0.7", "0.55,1.1"))
    other = _run_folder(tmp_path / "fashion" / "lenet-2")
    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, *a: drawn.append(fig) or path)
    table = compare([first, second, other], tmp_path / "c.png", log=lambda line: None)
    assert [line.split()[0] for line in table.splitlines()[1:]] == \
        ["mnist/lenet-1", "fashion/lenet-1", "lenet-2"]
    ax = drawn[0].axes[0]
    assert ax.get_title() == "val_accuracy"
    curves = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert curves == {"mnist/lenet-1": [0.48, 0.66, 0.75], "fashion/lenet-1": [0.48, 0.66, 0.55],
                      "lenet-2": [0.48, 0.66, 0.75]}
    # the same run given twice is one run; deeper twins go up as far as they differ
    assert path_labels([first, first, tmp_path / "x" / "mnist" / "lenet-1"]) == \
        [f"{tmp_path.name}/mnist/lenet-1"] * 2 + ["x/mnist/lenet-1"]


def test_compare_of_fifty_runs_keeps_its_legend_off_the_curves_in_distinct_colours(tmp_path):
    """At 50 runs (two parents, 25 folder names each) the figure's legend lies outside every
    panel, and no two runs share a colour (before: the legend covered the plots and tab10's
    colours repeated every 10 runs)."""
    from kerasdl import plots

    template = _run_folder(tmp_path / "template")
    runs = []
    for i in range(50):
        run_dir = tmp_path / "runs" / f"host{i % 2}" / f"lenet-{i // 2:02d}"
        shutil.copytree(template, run_dir)
        rows = [f"{e},0.5,1.0,{0.3 + 0.05 * e + 0.004 * i},{1.2 - 0.1 * e - 0.004 * i}"
                for e in range(8)]
        (run_dir / "history.csv").write_text(
            "epoch,accuracy,loss,val_accuracy,val_loss\n" + "\n".join(rows) + "\n")
        runs.append(run_dir)
    output = tmp_path / "fifty.png"
    result = run_cli("compare", *map(str, runs), "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    labels = [line.split()[0] for line in result.stdout.splitlines()[1:51]]
    assert len(set(labels)) == 50 and labels[:2] == ["host0/lenet-00", "host1/lenet-00"]
    import matplotlib.image

    image = matplotlib.image.imread(output)
    assert image.shape[1] > image.shape[0] > 300, image.shape

    from kerasdl.reports import read_run

    histories = [read_run(run_dir)["history"] for run_dir in runs]
    panels = {name: {label: history[name] for label, history in zip(labels, histories)}
              for name in ("val_accuracy", "val_loss")}
    fig = plots.runs_figure(panels, labels)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    for ax in fig.axes:
        assert not legend.overlaps(ax.get_window_extent()), (legend, ax.get_window_extent())
    assert fig.bbox.contains(legend.x1 - 1, legend.y0 + 1)       # and inside the figure
    assert len(fig.legends[0].get_texts()) == 50
    lines = fig.axes[0].get_lines()
    assert len({tuple(line.get_color()) for line in lines}) == 50
    plots.pyplot().close(fig)


def test_the_closing_reports_tensorboard_command_quotes_its_path(tmp_path):
    from kerasdl.reports import run_report

    logdir = tmp_path / "my runs" / "lenet-1" / "tensorboard"
    result = SimpleNamespace(
        test_metrics={"accuracy": 0.9}, best_epoch=None, published=False,
        publish_reason="no better", wall_time_s=1.0, data_source="embedded", epochs_run=1,
        throughput=None, run_dir=logdir.parent, model_path=logdir.parent / "model.keras",
        tensorboard_dir=logdir)
    experiment = Experiment(name="lenet", data=Data(name="digits"), model=Model(name="mlp"))
    line = run_report(result, experiment).splitlines()[-1]
    assert line == f"  TensorBoard    tensorboard --logdir '{logdir}'"
    assert shlex.split(line.split("TensorBoard", 1)[1]) == ["tensorboard", "--logdir", str(logdir)]


@pytest.mark.parametrize("history", ["epoch,loss\n", "epoch,loss,lr\n0,1.0,\n1,0.5,0.1\n"])
def test_history_of_a_run_before_its_first_epoch_and_with_late_keys(tmp_path, history):
    """A header alone (no epoch yet) and a key first logged later (empty cells) read as before."""
    from kerasdl.rundir import RunDir

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "history.csv").write_text(history)
    expected = {} if history.count("\n") == 1 else {"loss": [1.0, 0.5], "lr": [0.1]}
    assert RunDir(run_dir).history() == expected
    assert RunDir(tmp_path / "none").history() == {}
