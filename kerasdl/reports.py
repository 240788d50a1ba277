"""Reading finished runs back: ``kerasdl report RUN_DIR`` and ``kerasdl compare RUN_DIR...``.

Reading a run changes nothing in it and imports no TensorFlow: :func:`report` prints the metrics
table, a classifier's per-class table (its ``per_class.json``, by class name) and the run's closing
``report.txt``. Only ``redraw=True`` (``kerasdl report --redraw``) loads the model and the data
again and overwrites the run's figures.
"""
from __future__ import annotations

import csv
import shlex
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from kerasdl.config import Experiment, flat_config
from kerasdl.errors import ConfigError, KerasdlError
from kerasdl.rundir import CONFIG, MANIFEST, METRICS, MODEL, RunDir


def read_run(run_dir: Path) -> dict:
    """config, manifest, metrics, history, per-class results and closing report of a run.

    Read through :class:`kerasdl.rundir.RunDir`: a missing or damaged file is a one-line error
    naming it, before anything is printed."""
    run = RunDir(run_dir).require(CONFIG, MANIFEST, METRICS)
    return {"config": run.config(), "manifest": run.manifest(), "metrics": run.metrics(),
            "history": run.history(), "per_class": run.per_class(),
            "closing": run.closing_report(), "dir": Path(run_dir)}


def expand_sweeps(run_dirs: Sequence[Path]) -> list[Path]:
    """``run_dirs`` with each sweep directory replaced by its trials' finished run directories.

    A sweep directory holds ``trials.csv``; its trials come in trial order."""
    expanded: list[Path] = []
    for directory in map(Path, run_dirs):
        if (directory / "trials.csv").is_file():
            finished = sorted(p.parent for p in directory.glob("trial-*/*/report.txt"))
            if not finished:
                raise KerasdlError(f"sweep directory {directory} has no finished trial yet")
            expanded += finished
        else:
            expanded.append(directory)
    return expanded


def sweep_trials(run_dirs: Sequence[Path]) -> dict[Path, dict[str, str]]:
    """Run directory -> its trial in the sweep directories of ``run_dirs``.

    ``{"trial": "3", "metric": "val_accuracy", "value": "0.9312"}``, from each sweep's
    ``trials.csv`` (the metric the sweep optimized, its best epoch); a trial that a later one
    resumed gives way to that one."""
    trials: dict[Path, dict[str, str]] = {}
    for directory in map(Path, run_dirs):
        if not (directory / "trials.csv").is_file():
            continue
        with open(directory / "trials.csv", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if "state" not in header or "run_dir" not in header:
                continue
            metric = header[header.index("state") + 1]
            for row in map(lambda cells: dict(zip(header, cells)), reader):
                if row.get("run_dir") and row.get("state") == "COMPLETE":
                    trials[Path(row["run_dir"]).resolve()] = {
                        "trial": row["trial"], "metric": metric, "value": row.get(metric, "")}
    return trials


def read_history(run_dir: Path) -> dict[str, list[float]]:
    """A run's ``history.csv`` as ``{metric: [value per epoch]}``; ``{}`` where it has none yet.

    :meth:`kerasdl.rundir.RunDir.history`: a damaged file is a RunFileError (a ValueError) naming
    it, its line and column."""
    return RunDir(run_dir).history()


def read_per_class(run_dir: Path) -> Optional[dict[str, dict]]:
    """The run's per_class.json (class name -> test results), or None (RunDir.per_class)."""
    return RunDir(run_dir).per_class()


def model_description(config: dict) -> str:
    """:meth:`Experiment.model_description` of a run's config.json ("lenet5, functional").

    A transfer run is described by its recipe and backbone; a config that no longer validates (a
    run of an older kerasdl) by its model name and style as written."""
    try:
        return Experiment(**config).model_description()
    except (KerasdlError, TypeError, ValueError):
        model = config["model"]                   # RunDir.config checked model.name
        return ", ".join(str(part) for part in (model["name"], model.get("style")) if part)


def metrics_table(runs: Sequence[dict]) -> str:
    """Runs side by side, as a text table.

    Columns: model, data, the config keys whose values differ between them (a sweep's
    parameters), epochs, test metrics, wall time, throughput."""
    metric_names = sorted({k for run in runs for k in run["metrics"]})
    flat = [flat_config(run["config"]) for run in runs]
    differing = [key for key in dict.fromkeys(k for f in flat for k in f)
                 if key not in ("name", "description", "trainer.verbose", "device.threads",
                                "output.publish")
                 and len({repr(f.get(key)) for f in flat}) > 1]
    swept = list(dict.fromkeys(run["trial"]["metric"] for run in runs if run.get("trial")))
    header = ["run", "model", "data", *differing, *(f"sweep {m}" for m in swept), "epochs",
              *(f"test {m}" for m in metric_names), "wall s", "samples/s"]
    rows = [header]
    for run, settings in zip(runs, flat):
        config, manifest = run["config"], run["manifest"]
        throughput = manifest.get("throughput") or {}
        trial = run.get("trial") or {}
        rows.append([
            run_label(run),
            model_description(config),
            f"{config['data']['name']} [{manifest['data']['source']}]",
            *(_cell(settings.get(key, "-")) for key in differing),
            *(trial.get("value") or "-" if trial.get("metric") == m else "-" for m in swept),
            str(manifest.get("epochs_run", "")),
            *(f"{run['metrics'][m]:.4f}" if m in run["metrics"] else "-" for m in metric_names),
            f"{manifest.get('wall_time_s', 0):.1f}",
            f"{throughput['samples_per_s']:,.0f}" if throughput else "-",
        ])
    return _aligned(rows)


def run_label(run: dict) -> str:
    """How a table or legend names a run.

    Its ``label`` (:func:`label_runs`), else ``trial 3`` for a sweep's trial, else its folder
    name."""
    if run.get("label"):
        return run["label"]
    return f"trial {run['trial']['trial']}" if run.get("trial") else Path(run["dir"]).name


def path_labels(paths: Sequence[Path]) -> list[str]:
    """Each path's shortest suffix that no other (different) path of ``paths`` ends with.

    ``a/lenet5-1`` and ``b/lenet5-1`` are told apart by their parents; a path given twice gets
    one label."""
    parts = [Path(path).resolve().parts for path in paths]
    labels = []
    for mine in parts:
        others = [theirs for theirs in set(parts) if theirs != mine]
        length = 1
        while length < len(mine) and any(theirs[-length:] == mine[-length:] for theirs in others):
            length += 1
        labels.append("/".join(mine[-length:]).replace("//", "/"))
    return labels


def label_runs(runs: Sequence[dict]) -> None:
    """Give each run a ``label`` that tells it apart from the others.

    ``trial 3`` for a sweep's trial where no other run is called that, else the shortest path
    suffix unique among the runs (:func:`path_labels`), with the trial where it is one."""
    paths = path_labels([run["dir"] for run in runs])
    trials = [f"trial {run['trial']['trial']}" if run.get("trial") else None for run in runs]
    for run, path, trial in zip(runs, paths, trials):
        unique = trial is not None and sum(
            other == trial and Path(o["dir"]).resolve() != Path(run["dir"]).resolve()
            for o, other in zip(runs, trials)) == 0
        run["label"] = trial if unique else (f"{path} ({trial})" if trial else path)


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _aligned(rows: list[list[str]], numbers_from: Optional[int] = None) -> str:
    """``rows`` (the header first) as text columns two spaces apart.

    Columns are left-aligned, those from index ``numbers_from`` on right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = len(widths) if numbers_from is None else numbers_from
    return "\n".join("  ".join(cell.rjust(width) if i >= right else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths))).rstrip()
                     for row in rows)


def per_class_table(per_class: dict[str, dict]) -> str:
    """One row per class, by name: test examples, those right, precision, recall and F1.

    Recall is the class's accuracy; "-" stands where a ratio is undefined."""
    def ratio(value) -> str:
        return "-" if value is None else f"{value:.4f}"

    rows = [["class", "examples", "right", "precision", "recall", "f1"]]
    for name, results in per_class.items():
        rows.append([str(name), str(results.get("count", "-")), str(results.get("correct", "-")),
                     *(ratio(results.get(key)) for key in ("precision", "recall", "f1"))])
    return _aligned(rows, numbers_from=1)      # the class name left, the numbers right


def epoch_times(run: dict) -> Optional[list[float]]:
    """Each epoch's end in seconds since training started (the manifest's ``epoch_end_s``).

    None where the run has no such time for every epoch of its history (an older kerasdl's)."""
    times = run["manifest"].get("epoch_end_s") or []
    epochs = len(next(iter(run["history"].values()), []))
    return times if times and len(times) == epochs else None


def time_to(run: dict, target: str) -> str:
    """The first epoch whose ``METRIC`` reaches ``VALUE`` and its time, as one line.

    ``target`` is "METRIC=VALUE"; the time is since training started (the manifest's
    ``epoch_end_s``). "Reaches" is ">=" for metrics where higher is better (accuracy, AUC, ...),
    "<=" for the rest (losses)."""
    from kerasdl.config import metric_direction

    metric, _, value = target.partition("=")
    try:
        goal = float(value)
    except ValueError:
        raise ConfigError(f"--time-to takes METRIC=VALUE (e.g. val_accuracy=0.97); got "
                          f"{target!r}") from None
    values = run["history"].get(metric)
    if values is None:
        raise ConfigError(f"--time-to: the run logged no {metric!r}; it logged "
                          f"{', '.join(sorted(run['history'])) or 'nothing'}")
    higher = metric_direction(metric) == "max"
    reached = [i for i, v in enumerate(values) if (v >= goal if higher else v <= goal)]
    sign = ">=" if higher else "<="
    if not reached:
        best = max(values) if higher else min(values)
        return f"{metric} {sign} {goal:g}: not reached in {len(values)} epochs (best {best:.4f})"
    epoch = reached[0]
    times = epoch_times(run)
    when = (f", {times[epoch]:.1f} s after training started" if times
            else " (this run recorded no epoch times)")
    return f"{metric} {sign} {goal:g}: first at epoch {epoch + 1} ({values[epoch]:.4f}){when}"


def report(run_dir: Path, log: Callable[[str], None] = print, redraw: bool = False,
           time_to_targets: Sequence[str] = ()) -> list[Path]:
    """Print the metrics, per-class and closing report of ``run_dir``; return what was written.

    The per-class table is printed where the run wrote per_class.json.

    Without ``redraw`` nothing is written and TensorFlow is not imported. With ``redraw`` the
    figures are drawn again from the saved model, config and history (overwriting the PNGs the
    run drew, and its per_class.json, which a run of an older kerasdl thus gains; ``samples.png``
    may show other images, as the data are loaded anew) and returned.
    """
    run = read_run(run_dir)                        # a damaged file fails before anything prints
    lines = [time_to(run, target) for target in time_to_targets]   # bad targets fail first
    figures = redraw_figures(run, log) if redraw else []
    log(metrics_table([run]))
    for line in lines:
        log(line)
    per_class = read_per_class(run_dir) if redraw else run["per_class"]
    if per_class:
        log("")
        log("per class (test split):")
        log(per_class_table(per_class))
    if run["closing"] is not None:
        log("")
        log(run["closing"].rstrip("\n"))
    return figures


def redraw_figures(run: dict, log: Callable[[str], None] = print) -> list[Path]:
    """Draw the figures of the run that :func:`read_run` read, from its model.keras and data."""
    from kerasdl.config import LOSSES, with_overrides
    from kerasdl.data import load_data
    from kerasdl.figures import write_figures
    from kerasdl.loading import load_model

    run_dir = Path(run["dir"])
    # the same data as the run: the source it actually used (e.g. the offline fallback)
    experiment = with_overrides(Experiment(**run["config"]),
                                {"data.source": run["manifest"]["data"]["source"]})
    model = load_model(RunDir(run_dir).file(MODEL))
    data = load_data(experiment.data, LOSSES[experiment.trainer.loss][1])
    return write_figures(model, data, run["history"], run_dir, experiment.name, log=log,
                         best_epoch=run["manifest"].get("best_epoch"),
                         phases=run["manifest"].get("phases", ()))


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def compare(run_dirs: Sequence[Path], output: Optional[Path] = None, x: str = "epoch",
            log: Callable[[str], None] = _warn) -> str:
    """The metrics table of several runs, and with ``output`` their validation curves in one PNG.

    The curves are against the epoch or (``x="time"``) the seconds since each run's training
    started. A sweep directory (``kerasdl sweep``) stands for its trials' finished runs. Runs
    are told apart by their paths (:func:`label_runs`). A run that cannot be read is left out,
    its problem logged (stderr) naming its file; only when no run is left is it an error."""
    if x not in ("epoch", "time"):
        raise ConfigError(f"--x takes epoch or time; got {x!r}")
    runs, skipped = [], []
    for run_dir in expand_sweeps(run_dirs):
        try:
            runs.append(read_run(run_dir))
        except KerasdlError as error:
            skipped.append(f"{run_dir}: {error}")
            log(f"warning: left out of the comparison: {error}")
    if not runs:
        raise KerasdlError(f"compare: no run could be read ({len(skipped)} left out; the first: "
                           f"{skipped[0]})")
    trials = sweep_trials(run_dirs)
    for run in runs:
        run["trial"] = trials.get(Path(run["dir"]).resolve())
    label_runs(runs)
    if output is not None:
        from kerasdl.plots import plot_curves

        x_values = None
        if x == "time":
            untimed = [str(run["dir"]) for run in runs if epoch_times(run) is None]
            if untimed:
                raise KerasdlError(f"--x time: {', '.join(untimed)} recorded no epoch times (a "
                                   "run of an older kerasdl); compare them with --x epoch")
            x_values = {run_label(run): epoch_times(run) for run in runs}
        names = sorted({k for run in runs for k in run["history"] if k.startswith("val_")}) or \
            sorted({k for run in runs for k in run["history"]})
        plot_curves({name: {run_label(run): run["history"][name] for run in runs
                            if name in run["history"]} for name in names}, output,
                    runs=list(dict.fromkeys(map(run_label, runs))), x_values=x_values,
                    xlabel="seconds since training started" if x == "time" else "epoch")
    table = metrics_table(runs)
    if skipped:
        table += f"\n({len(skipped)} left out, unreadable: " + \
            ", ".join(entry.split(": ", 1)[0] for entry in skipped) + ")"
    return table


def shown_path(path) -> str:
    """``path`` as a user reads it: relative to the working directory when inside it.

    Runs record their paths absolute (so a resume from elsewhere writes the same places); the
    closing report shows ``runs/lenet5-...`` where that is where the user stands."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _target_line(target: dict, epochs_run: int) -> str:
    """callbacks.target in words: reached in which epoch and how many seconds, or not."""
    sign = ">=" if target["mode"] == "max" else "<="
    wanted = f"{target['metric']} {sign} {target['target']:g}"
    if target.get("reached_epoch") is None:
        return f"{wanted} not reached in {epochs_run} epoch(s)"
    seconds = target.get("seconds")
    return (f"{wanted} reached in epoch {target['reached_epoch']}"
            + (f", {seconds:.1f} s after training began" if seconds is not None else ""))


def run_report(result, experiment: Experiment) -> str:
    """The closing report of a run (a :class:`kerasdl.runner.RunResult`), as printed and in report.txt."""
    metrics = "   ".join(f"test {k} {v:.4f}" for k, v in result.test_metrics.items())
    best = (f" (best epoch {result.best_epoch} by {experiment.callbacks.monitor})"
            if result.best_epoch else "")
    if result.published:
        published = f"published {shown_path(result.published_path)} ({result.publish_reason})"
    else:
        published = f"not published: {result.publish_reason}"
    lines = [
        f"[kerasdl] done in {result.wall_time_s:.1f} s: {experiment.name} "
        f"({experiment.model_description()}) on {experiment.data.name} "
        f"[{result.data_source}]",
        f"  {metrics}",
        f"  epochs run     {result.epochs_run} of {experiment.trainer.epochs}{best}",
    ]
    if getattr(result, "target", None):       # a stand-in result may have no target record
        lines.append(f"  target         {_target_line(result.target, result.epochs_run)}")
    if result.throughput:
        t = result.throughput
        lines.append(f"  throughput     {t['samples_per_s']:,.0f} samples/s, "
                     f"{t['step_time_ms']:.1f} ms/step, {t['epoch_time_s']:.2f} s/epoch (training), "
                     f"peak memory {t['peak_memory_mb']:,.0f} MB")
    lines += [
        f"  run directory  {shown_path(result.run_dir)}",
        f"  model          {shown_path(result.model_path)}",
        f"  saved_models   {published}",
    ]
    if result.tensorboard_dir:
        logdir = shlex.quote(shown_path(result.tensorboard_dir))    # a path with spaces: one argument
        lines.append(f"  TensorBoard    tensorboard --logdir {logdir}")
    return "\n".join(lines)
