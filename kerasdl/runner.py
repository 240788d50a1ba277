"""The one compile/fit/evaluate/save path, used by the CLI and by library users alike.

:func:`prepare` (seed, devices, data, model, compile, pre-flight checks) is shared by :func:`run`
and by ``kerasdl bench``; :func:`run` adds the callbacks, the fit, evaluation, saving, figures,
publishing and the report.
"""
from __future__ import annotations

import contextlib

import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from kerasdl.config import LOSSES, OPTIMIZERS, Experiment, with_overrides
from kerasdl.errors import ConfigError, DataError, KerasdlError, ModelError

#: files every finished run directory holds (besides tensorboard/, checkpoints/ and the figures)
RUN_FILES = ("config.json", "manifest.json", "history.csv", "metrics.json", "model.keras",
             "summary.txt", "curves.png", "report.txt")
#: written last: a run directory holding it is finished (and cannot be resumed)
FINISHED = "report.txt"

Log = Callable[[str], None]


@dataclass
class RunResult:
    """What a run produced; every path is inside ``run_dir`` except the published model."""

    experiment: str
    run_dir: Path
    model_path: Path
    tensorboard_dir: Optional[Path]
    test_metrics: dict[str, float]
    epochs_run: int
    best_epoch: Optional[int]
    history: dict[str, list[float]]
    data_source: str
    published: bool
    published_path: Path
    publish_reason: str
    wall_time_s: float
    throughput: dict[str, float] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    model: Any = field(default=None, repr=False)   # the trained keras.Model (best weights restored)


@dataclass
class Prepared:
    """A compiled model and its data, checked against each other, ready to fit."""

    model: Any
    data: Any                 # kerasdl.data.DataBundle
    devices: Any              # kerasdl.devices.DeviceSetup


def prepare(experiment: Experiment, log: Log = print) -> Prepared:
    """Seed everything, pick the devices, load the data, build and compile the model, and check
    (before any training) that data, model, loss and monitored metric fit together."""
    phase = lambda text: log(f"[kerasdl] {text}")  # noqa: E731
    phase("importing TensorFlow")
    from kerasdl.quiet import import_tensorflow, say_the_once_per_process_notices

    tf = import_tensorflow()
    import keras

    from kerasdl.data import load_data
    from kerasdl.devices import setup_devices

    devices = setup_devices(experiment.device)          # before TensorFlow makes any tensor
    say_the_once_per_process_notices()
    keras.utils.set_random_seed(experiment.trainer.seed)
    if experiment.trainer.deterministic:
        tf.config.experimental.enable_op_determinism()
    phase(f"devices: {devices.plan.describe()}; {devices.replicas} replica(s)"
          + ("" if devices.chief else "; a non-chief worker: its files go to a temporary folder"))

    phase(f"loading data '{experiment.data.name}'")
    _, label_kind = LOSSES[experiment.trainer.loss]
    data = load_data(experiment.data, label_kind, log=log)
    phase(f"data: {data.source}: {data.description}; examples {data.counts}")

    with devices.scope():
        if experiment.finetune.recipe:
            from kerasdl.transfer import build_transfer_model

            phase(f"building transfer model: recipe {experiment.finetune.recipe} on backbone "
                  f"'{experiment.finetune.backbone}'")
            model = build_transfer_model(experiment, data)
        else:
            phase(f"building model '{experiment.model.name}' ({experiment.model.style})")
            model = _build_model(experiment, data)
    compile_model(experiment, model, data, devices)
    multiworker = devices.plan.strategy == "multiworker"
    _preflight(experiment, model, data, run_a_batch=not multiworker)
    if multiworker:
        from kerasdl.compat import build_for_multiworker

        build_for_multiworker(model, devices.strategy, next(iter(data.train)))
    output_dtype = model.layers[-1].compute_dtype if model.layers else "float32"
    if output_dtype != "float32":
        log(f"WARNING: under {devices.plan.precision} the model's output is {output_dtype}; "
            "give its last layer dtype='float32' (kerasdl's heads do) for exact probabilities")
    phase(f"model: {model.count_params():,} parameters")
    return Prepared(model=model, data=data, devices=devices)


def compile_model(experiment: Experiment, model, data, devices,
                  learning_rate: Optional[float] = None) -> None:
    """Compile ``model`` as ``experiment`` says (at ``learning_rate`` if given): the one compile
    of prepare() and of every phase of a transfer recipe."""
    from kerasdl.devices import resolve_jit, resolve_steps_per_execution

    if learning_rate is not None:
        experiment = with_overrides(experiment, {"trainer.learning_rate": learning_rate})
    loss_name, _ = LOSSES[experiment.trainer.loss]
    steps = int(data.train.cardinality())
    with devices.scope():
        model.compile(optimizer=_make_optimizer(experiment, devices.replicas, steps),
                      loss=loss_name,
                      metrics=list(experiment.trainer.metrics),
                      steps_per_execution=resolve_steps_per_execution(
                          experiment.trainer.steps_per_execution, devices.plan),
                      jit_compile=resolve_jit(experiment.trainer.jit_compile, devices.plan))


def run(experiment: Experiment, workdir: Optional[str | os.PathLike] = None,
        log: Log = print, resume: Optional[str | os.PathLike] = None) -> RunResult:
    """Run ``experiment`` end to end and return what it produced.

    Seeds everything; builds the data pipeline and the model; checks that they fit each other and
    that the monitored metric will exist; compiles; fits with the default callbacks; restores the
    best weights; evaluates on the test split; saves to the run directory; publishes to
    ``saved_models/`` under the rule in :mod:`kerasdl.saving`; writes figures and a manifest.

    The run directory is made only once all of that preparation has succeeded, so a run that
    fails before training (no GPU, a missing backbone, an unknown dataset, a model that does not
    fit the data) leaves nothing behind. A run that fails or is killed later keeps its directory:
    ``--resume`` continues it (see :mod:`kerasdl.resume`); ``report.txt``, written last, marks a
    finished run.

    Args:
        experiment: a validated :class:`~kerasdl.config.Experiment`.
        workdir: folder that receives the run directory (default: ``experiment.output.runs_dir``).
        log: receives one line per phase and the closing report.
        resume: a run directory of this experiment to continue from its last epoch backup; the
            result equals that of a run that was never interrupted (see kerasdl.resume).
    """
    started = time.time()
    if resume is not None:
        run_dir = check_resumable(experiment, Path(resume))
        return _train_in(experiment, prepare(experiment, log), run_dir, started, log,
                         resuming=True)
    from kerasdl.devices import is_chief, tf_config_from_env

    # in a multi-worker cluster only the chief writes the run directory and saved_models/;
    # the other workers write into a temporary folder, removed at the end (TF's multi-worker rule)
    chief = experiment.device.policy != "multiworker" or is_chief(tf_config_from_env())
    if chief:   # folders are checked before any work, made after the preparation succeeded
        parent = _runs_parent(experiment, workdir)
        _check_writable(Path(experiment.output.saved_models_dir), "output.saved_models_dir",
                        create=experiment.output.publish != "never")
    else:
        experiment = with_overrides(experiment, {"output.publish": "never"})
    prepared = prepare(experiment, log)
    if chief:
        run_dir = _make_run_dir(experiment, parent)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix=f"kerasdl-worker-{experiment.name}-"))
    try:
        from kerasdl.saving import atomic_write_json

        atomic_write_json(run_dir / "config.json", experiment.to_dict())
        return _train_in(experiment, prepared, run_dir, started, log)
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)


def _train_in(experiment: Experiment, prepared: Prepared, run_dir: Path, started: float,
              log: Log, resuming: bool = False) -> RunResult:
    log(f"[kerasdl] run directory {run_dir}")
    from kerasdl.compat import multiworker_metric_reduction

    multiworker = prepared.devices.plan.strategy == "multiworker"
    with prepared.devices.scope(), (multiworker_metric_reduction() if multiworker
                                    else contextlib.nullcontext()):
        return _train_and_report(experiment, prepared, run_dir, started, log, resuming)


def _train_and_report(experiment: Experiment, prepared: Prepared, run_dir: Path, started: float,
                      log: Log, resuming: bool) -> RunResult:
    """Fit (or go on fitting) the prepared model, evaluate, save, publish and report."""
    phase = lambda text: log(f"[kerasdl] {text}")  # noqa: E731
    from kerasdl.saving import atomic_write_json, atomic_write_text

    model, data = prepared.model, prepared.data
    with open(run_dir / "summary.txt", "w") as handle:
        model.summary(print_fn=lambda line, **_: handle.write(line + "\n"))

    from kerasdl.callbacks import TENSORBOARD, build_callbacks
    from kerasdl.errors import TrainingDiverged
    from kerasdl.resume import (BACKUP_DIR, best_weights, has_backup, read_backup,
                                restore_optimizer, restore_variables)
    from kerasdl.saving import kill_point

    first_epoch, history_so_far, state, saved_best, stopped = 0, {}, None, None, False
    if resuming:
        backup = read_backup(run_dir, log) if has_backup(run_dir) else None
        if backup is None:
            phase(f"resuming {run_dir}: it has no epoch backup yet, so training starts at epoch 1")
        else:
            state, arrays = backup
            # a transfer run compiles a new optimizer per phase: its state goes back in the
            # phase the run stopped in (restore_optimizer below)
            restore_variables(model, arrays, optimizer=not experiment.finetune.recipe)
            first_epoch, history_so_far = state["epoch"], state["history"]
            stopped = state.get("stopped", False)
            state, saved_best = state["callbacks"], best_weights(arrays)
            phase(f"resuming after epoch {first_epoch} from {run_dir / BACKUP_DIR}")
    callback_set = build_callbacks(experiment, run_dir, data, history_so_far, state, saved_best)
    # an early-stopped run (or one whose last epoch is backed up) has no epochs left; fit() still
    # runs the callbacks' train-end work, e.g. EarlyStopping restoring the best epoch's weights
    last_epoch = first_epoch if stopped else experiment.trainer.epochs
    if first_epoch < last_epoch:
        phase(f"training for up to {_count(last_epoch - first_epoch, 'epoch')}"
              + (f" (epochs {first_epoch + 1}-{last_epoch})" if first_epoch else ""))
    else:
        phase(f"training already finished after epoch {first_epoch}")
    history = dict(history_so_far)
    fit_kwargs = dict(verbose=_verbosity(experiment),
                      shuffle=False)  # the pipeline shuffles, per epoch, with its own seed
    if experiment.finetune.recipe and first_epoch < last_epoch:
        from kerasdl.transfer import fit_transfer

        fitted = fit_transfer(
            experiment, model, data, callback_set.callbacks,
            compile_fn=lambda m, rate: compile_model(experiment, m, data, prepared.devices, rate),
            fit_kwargs=fit_kwargs, log=log, initial_epoch=first_epoch,
            restore_optimizer=(lambda m: restore_optimizer(m, arrays)) if first_epoch else None)
    else:
        fitted = model.fit(data.train, initial_epoch=first_epoch, epochs=last_epoch,
                           validation_data=data.validation, callbacks=callback_set.callbacks,
                           **fit_kwargs).history
    for key, values in fitted.items():
        history[key] = [*history.get(key, []), *map(float, values)]
    epochs_run = len(next(iter(history.values()), []))
    if callback_set.guard.tripped:
        trip = callback_set.guard.tripped
        where = f"epoch {trip['epoch']}" + (f", at or before batch {trip['batch']}"
                                            if trip["batch"] else "")
        raise TrainingDiverged(
            f"training stopped: {trip['metric']} became {trip['value']} in {where}; the last "
            f"good checkpoint ({run_dir / 'checkpoints'}) and backup ({run_dir / BACKUP_DIR}) are "
            "kept, no NaN weights were saved and nothing was published; lower "
            "trainer.learning_rate or set trainer.clipnorm")
    # From here on every step can be killed and resumed: the last backup holds the finished
    # training, and each step below rewrites its own file whole (KERASDL_KILL_AT=<point> names
    # the moments between them; tests/test_resume.py kills the run at each).
    kill_point("train-end")

    phase("evaluating on the test split")
    test_metrics = {k: float(v) for k, v in
                    model.evaluate(data.test, verbose=0, return_dict=True).items()}
    atomic_write_json(run_dir / "metrics.json", test_metrics)
    kill_point("metrics-written")

    from kerasdl.figures import write_figures
    from kerasdl.manifest import base_manifest
    from kerasdl.saving import publish_model, save_model_atomically

    model_path = run_dir / "model.keras"
    save_model_atomically(model, model_path, kill_at="model-write")
    kill_point("model-saved")
    phase("writing figures")
    best_epoch = _best_epoch(experiment, history)
    from kerasdl.transfer.recipes import phase_epochs

    phases = phase_epochs(experiment)
    figures = write_figures(model, data, history, run_dir, experiment.name, log=log,
                            best_epoch=best_epoch, phases=phases)
    kill_point("figures-written")
    publish = publish_model(model_path, experiment, test_metrics, _data_fingerprint(experiment, data),
                            run_dir, inference=data.inference_record())
    kill_point("published")

    wall = time.time() - started
    manifest = {**base_manifest(), "experiment": experiment.name, "seed": experiment.trainer.seed,
                "devices": prepared.devices.manifest(), "data": data.manifest(),
                "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
                "wall_time_s": round(wall, 2), "epochs_run": epochs_run, "best_epoch": best_epoch,
                "resumed": resuming,
                # seconds since training started at each epoch's end (kerasdl report --time-to)
                "epoch_end_s": callback_set.clock.epoch_end_s,
                **({"phases": phases} if phases else {}),
                "throughput": callback_set.throughput.summary(),
                "published": {"done": publish.published, "path": str(publish.path),
                              "reason": publish.reason}}
    atomic_write_json(run_dir / "manifest.json", manifest)
    kill_point("manifest-written")
    tensorboard_dir = run_dir / TENSORBOARD if experiment.callbacks.tensorboard.enabled else None
    result = RunResult(experiment=experiment.name, run_dir=run_dir, model_path=model_path,
                       tensorboard_dir=tensorboard_dir, test_metrics=test_metrics,
                       epochs_run=epochs_run, best_epoch=best_epoch, history=history,
                       data_source=data.source, published=publish.published,
                       published_path=publish.path, publish_reason=publish.reason,
                       wall_time_s=wall, throughput=callback_set.throughput.summary(),
                       figures=figures,
                       model=model)
    atomic_write_text(run_dir / FINISHED, format_report(result, experiment) + "\n")  # finished
    kill_point("report-written")
    shutil.rmtree(run_dir / BACKUP_DIR, ignore_errors=True)   # finished: nothing to resume
    log(format_report(result, experiment))
    return result


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def format_report(result: RunResult, experiment: Experiment) -> str:
    metrics = "   ".join(f"test {k} {v:.4f}" for k, v in result.test_metrics.items())
    best = (f" (best epoch {result.best_epoch} by {experiment.callbacks.monitor})"
            if result.best_epoch else "")
    if result.published:
        published = f"published {result.published_path} ({result.publish_reason})"
    else:
        published = f"not published: {result.publish_reason}"
    lines = [
        f"[kerasdl] done in {result.wall_time_s:.1f} s: {experiment.name} "
        f"({experiment.model_description()}) on {experiment.data.name} "
        f"[{result.data_source}]",
        f"  {metrics}",
        f"  epochs run     {result.epochs_run} of {experiment.trainer.epochs}{best}",
    ]
    if result.throughput:
        t = result.throughput
        lines.append(f"  throughput     {t['samples_per_s']:,.0f} samples/s, "
                     f"{t['step_time_ms']:.1f} ms/step, {t['epoch_time_s']:.2f} s/epoch (training), "
                     f"peak memory {t['peak_memory_mb']:,.0f} MB")
    lines += [
        f"  run directory  {result.run_dir}",
        f"  model          {result.model_path}",
        f"  saved_models   {published}",
    ]
    if result.tensorboard_dir:
        lines.append(f"  TensorBoard    tensorboard --logdir {result.tensorboard_dir}")
    return "\n".join(lines)


def check_resumable(experiment: Experiment, run_dir: Path) -> Path:
    """``run_dir`` if it is an unfinished run of exactly this experiment, else a clear error.

    Needs no TensorFlow, so the CLI calls it before importing it."""
    import json

    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"--resume {run_dir}: not a kerasdl run directory (no config.json)")
    saved = json.loads(config_path.read_text())
    current = json.loads(json.dumps(experiment.to_dict(), default=str))
    changed = sorted(_differences(saved, current))
    if changed:
        raise ConfigError(f"--resume {run_dir}: the experiment differs from the interrupted run at "
                          f"{', '.join(changed)}; a resumed run must be the same experiment "
                          "(drop those --set overrides, or start a new run)")
    if (run_dir / FINISHED).exists():
        raise ConfigError(f"--resume {run_dir}: that run already finished "
                          f"(see {run_dir / FINISHED})")
    return run_dir


def _differences(a, b, prefix: str = ""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in set(a) | set(b):
            yield from _differences(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip(".")


def latest_run_dir(experiment: Experiment, workdir: Optional[str | os.PathLike] = None
                   ) -> Path:
    """The newest unfinished run directory of ``experiment`` (for ``--resume latest``)."""
    parent = Path(workdir) if workdir is not None else Path(experiment.output.runs_dir)
    candidates = sorted((d for d in parent.glob(f"{experiment.name}-*")
                         if (d / "config.json").is_file() and not (d / FINISHED).exists()),
                        key=lambda d: d.stat().st_mtime)
    if not candidates:
        raise ConfigError(f"--resume latest: no unfinished run of '{experiment.name}' under "
                          f"{parent}")
    return candidates[-1]


def _verbosity(experiment: Experiment) -> int:
    verbose = experiment.trainer.verbose
    return (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose


def _best_epoch(experiment: Experiment, history: dict[str, list[float]]) -> Optional[int]:
    values = history.get(experiment.callbacks.monitor)
    if not values:
        return None
    pick = max if experiment.monitor_mode() == "max" else min
    return values.index(pick(values)) + 1


def _data_fingerprint(experiment: Experiment, data) -> dict[str, Any]:
    """What makes two test scores comparable (the publishing rule compares only equal ones)."""
    return {"name": experiment.data.name, "source": data.source,
            "test_split": experiment.data.test_split, "test_limit": experiment.data.test_limit,
            "split_seed": experiment.data.split_seed, "test_examples": data.counts["test"]}


def _runs_parent(experiment: Experiment, workdir) -> Path:
    """The folder that receives run directories, made and checked writable."""
    parent = Path(workdir) if workdir is not None else Path(experiment.output.runs_dir)
    _check_writable(parent, "--workdir" if workdir is not None else "output.runs_dir", create=True)
    return parent


def _make_run_dir(experiment: Experiment, parent: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = parent / f"{experiment.name}-{stamp}"
    suffix = 1
    while True:
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            suffix += 1
            run_dir = parent / f"{experiment.name}-{stamp}-{suffix}"


def _check_writable(directory: Path, key: str, create: bool) -> None:
    try:
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        if directory.exists() and not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {directory}")
    except OSError as error:
        raise ConfigError(f"cannot write to {key} = {directory}: {error}; choose a writable folder")


def _make_optimizer(experiment: Experiment, replicas: int = 1, steps_per_epoch: int = 1):
    """The optimizer by name, with clipping and the learning-rate schedule (whose position is the
    optimizer's step count, so it survives a resume with the optimizer's state)."""
    import keras

    trainer = experiment.trainer
    learning_rate = trainer.learning_rate * (replicas if trainer.scale_learning_rate else 1)
    if trainer.lr_schedule == "exponential":
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=max(1, steps_per_epoch), decay_rate=trainer.lr_decay_rate,
            staircase=True)
    elif trainer.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=max(1, steps_per_epoch * trainer.epochs))
    class_name, defaults = OPTIMIZERS[trainer.optimizer]
    clipping = {k: getattr(trainer, k) for k in ("clipnorm", "clipvalue") if getattr(trainer, k)}
    kwargs = {**defaults, **clipping, **trainer.optimizer_kwargs}
    try:
        return getattr(keras.optimizers, class_name)(learning_rate=learning_rate, **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"trainer.optimizer_kwargs {kwargs} do not fit optimizer "
                          f"'{trainer.optimizer}' (keras.optimizers.{class_name}): {error}") from None


def _build_model(experiment: Experiment, data):
    """Build the registered model, its arguments completed from the data (input_shape, ...)."""
    from kerasdl.models.registry import build, check_kwargs, get_model_class

    cls = get_model_class(experiment.model.name)
    check_kwargs(cls, dict(experiment.model.kwargs))
    try:
        kwargs = cls.kwargs_from_data(dict(experiment.model.kwargs), data)
        model = build(experiment.model.name, style=experiment.model.style, **kwargs)
    except (ValueError, TypeError) as error:
        if isinstance(error, KerasdlError):
            raise
        features = data.train.element_spec[0]
        raise ModelError(f"cannot build model '{experiment.model.name}' for dataset "
                         f"'{experiment.data.name}' (features {features}): {error}") from error
    return _with_normalization(model, data.normalization) if data.normalization else model


def _with_normalization(model, normalization):
    """``model`` behind a ``keras.layers.Normalization`` holding the training features' mean and
    variance, so that the saved model takes raw rows (csv: data)."""
    import keras

    mean, variance = normalization
    inputs = keras.Input(shape=(len(mean),), name="features")
    normalized = keras.layers.Normalization(mean=mean, variance=variance, name="normalize")(inputs)
    return keras.Model(inputs, model(normalized), name=model.name)


def _preflight(experiment: Experiment, model, data, run_a_batch: bool = True) -> None:
    """Check model, data and loss against each other, and that the monitor will be logged.

    Shapes are compared first; then (``run_a_batch``) one batch is evaluated, which catches what
    shapes cannot and names the logged metrics. A multi-worker cluster skips that batch: a
    single-batch evaluation outside fit() is not supported there.
    """
    import tensorflow as tf

    from kerasdl.checks import check_model_fits_data, model_input_shape

    x_spec, y_spec = data.train.element_spec
    input_shape = model_input_shape(model)
    if hasattr(x_spec, "shape") and hasattr(y_spec, "shape"):   # single input and output
        output_shape = model.compute_output_shape(
            (None, *input_shape) if input_shape else tuple(x_spec.shape))
        check_model_fits_data(
            model_name=experiment.model.name, input_shape=input_shape,
            output_shape=tuple(output_shape), features_shape=tuple(x_spec.shape),
            labels_shape=tuple(y_spec.shape), labels_are_integers=y_spec.dtype.is_integer,
            loss=experiment.trainer.loss, num_classes=data.num_classes,
            dataset=experiment.data.name)
    if not run_a_batch:
        return
    x, y = next(iter(data.train.take(1)))
    try:
        logs = model.test_on_batch(x, y, return_dict=True)
    except (tf.errors.OpError, ValueError, TypeError) as error:
        raise DataError(f"model '{experiment.model.name}' cannot evaluate a batch of "
                        f"'{experiment.data.name}': {str(error).splitlines()[0]}") from error
    logged = set(logs) | ({f"val_{k}" for k in logs} if data.validation is not None else set())
    if experiment.callbacks.monitor not in logged:
        raise ConfigError(f"callbacks.monitor={experiment.callbacks.monitor!r} will not be logged; "
                          f"training logs: {', '.join(sorted(logged))}")
