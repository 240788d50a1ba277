"""The one compile/fit/evaluate/save path, used by the CLI and by library users alike.

:func:`prepare` (seed, devices, data, model, compile, pre-flight checks) is shared by :func:`run`
and by ``kerasdl bench``; :func:`run` adds the callbacks, the fit, evaluation, saving, figures,
publishing and the report. :func:`fit_phases` is the one place where training happens: a run is
a list of phases (one for a plain run; a transfer recipe's plan otherwise), and each phase sets
what trains, compiles, puts a resumed run's optimizer state back and fits.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from kerasdl.config import LOSSES, Experiment, with_overrides
from kerasdl.errors import ConfigError, DataError, KerasdlError, ModelError
from kerasdl.rundir import FINISHED, RUN_FILES  # noqa: F401  (RUN_FILES: part of this API)

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
    """Seed everything, pick the devices, load the data, build and compile the model.

    Then check, before any training, that data, model, loss and monitored metric fit together."""
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
            model = build_model(experiment, data)
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
    """Compile ``model`` as ``experiment`` says (at ``learning_rate`` if given).

    The one compile of prepare() and of every phase of a transfer recipe."""
    from kerasdl.devices import resolve_jit, resolve_steps_per_execution
    from kerasdl.optimizers import make_optimizer

    if learning_rate is not None:
        experiment = with_overrides(experiment, {"trainer.learning_rate": learning_rate})
    loss_name, _ = LOSSES[experiment.trainer.loss]
    steps = int(data.train.cardinality())
    with devices.scope():
        model.compile(optimizer=make_optimizer(experiment, devices.replicas, steps),
                      loss=loss_name,
                      metrics=list(experiment.trainer.metrics),
                      steps_per_execution=resolve_steps_per_execution(
                          experiment.trainer.steps_per_execution, devices.plan),
                      jit_compile=resolve_jit(experiment.trainer.jit_compile, devices.plan))


def fit_phases(model, phases, train, validation, callbacks: list,
               compile_phase: Callable[[Any, float], None], fit_kwargs: dict,
               initial_epoch: int = 0, restore_optimizer: Optional[Callable[[Any], None]] = None,
               batch_size: int = 32, shuffle_seed: int = 0, log: Log = print,
               label: str = "run") -> dict[str, list[float]]:
    """Fit ``model`` phase by phase: the one place where a phase is compiled and fitted.

    For each phase (:class:`kerasdl.transfer.recipes.Phase`) that ends after ``initial_epoch``:
    set what trains and compile at the phase's learning rate (``compile_phase(model, rate)``,
    with per-layer rates under ``layer_lr_decay``), unless the phase fits the model as prepared;
    put a resumed run's optimizer state back (``restore_optimizer(model)``) when
    ``initial_epoch`` falls inside the phase, since the backup holds that phase's optimizer; then
    ``fit`` from the phase's first epoch (or ``initial_epoch``) to its last, continuing the epoch
    count. A phase with ``cache_features`` fits the classifier on features the frozen backbone
    computes once (:func:`kerasdl.transfer.recipes.cache_features`); the callbacks that write
    the model (:class:`kerasdl.callbacks.SavesModel`) write the whole ``model`` then.

    Returns:
        The history of the phases run, concatenated per key.
    """
    from kerasdl.callbacks import SavesModel
    from kerasdl.transfer.recipes import (apply_phase, cache_features, phase_spans,
                                          use_layerwise_learning_rates)

    history: dict[str, list[float]] = {}
    for index, (phase, first, end) in enumerate(phase_spans(phases)):
        if end <= initial_epoch:                          # finished before a resume
            continue
        start = max(first, initial_epoch)
        trained = ""
        if phase.recompile:
            trained = apply_phase(model, phase)
            compile_phase(model, phase.learning_rate)
            if phase.layer_lr_decay is not None:
                use_layerwise_learning_rates(model, phase.layer_lr_decay)
                trained += f", layer-wise rates x{phase.layer_lr_decay:g} per layer downwards"
        if restore_optimizer is not None and start > first:     # resumed inside this phase
            restore_optimizer(model)
        fitted, fit_train, fit_validation, extra = model, train, validation, []
        if phase.cache_features:
            cached = cache_features(model, train, validation, batch_size, shuffle_seed, log)
            fitted, fit_train, fit_validation = cached.head, cached.train, cached.validation
            extra = cached.callbacks
        for callback in callbacks:           # checkpoints and backups hold the whole model
            if isinstance(callback, SavesModel):
                callback.saves = model if fitted is not model else None
        if phase.recompile:
            log(f"[kerasdl] {label}, phase {index + 1}/{len(phases)} '{phase.name}': "
                f"epochs {start + 1}-{end} at learning rate {phase.learning_rate:g}, "
                f"training {trained}"
                + (" on cached features" if phase.cache_features else "")
                + f"; {len(model.trainable_weights)} trainable weight tensors")
        result = fitted.fit(fit_train, validation_data=fit_validation, initial_epoch=start,
                            epochs=end, callbacks=[*extra, *callbacks], **fit_kwargs)
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    return history


def run(experiment: Experiment | str | os.PathLike, workdir: Optional[str | os.PathLike] = None,
        log: Log = print, resume: Optional[str | os.PathLike] = None) -> RunResult:
    """Run ``experiment`` end to end and return what it produced.

    Seeds everything; builds the data pipeline and the model; checks that they fit each other and
    that the monitored metric will exist; compiles; fits with the default callbacks; restores the
    best weights; evaluates on the test split; saves to the run directory; publishes to
    ``saved_models/`` under the rule in :mod:`kerasdl.publishing`; writes figures and a manifest.

    The run directory is made only once all of that preparation has succeeded, so a run that
    fails before training (no GPU, a missing backbone, an unknown dataset, a model that does not
    fit the data) leaves nothing behind. A run that fails or is killed later keeps its directory:
    ``--resume`` continues it (see :mod:`kerasdl.resume`); ``report.txt``, written last, marks a
    finished run.

    Args:
        experiment: a validated :class:`~kerasdl.config.Experiment`, or the path or name of an
            experiment file (loaded with :func:`kerasdl.load_experiment`).
        workdir: folder that receives the run directory (default: ``experiment.output.runs_dir``).
        log: receives one line per phase and the closing report.
        resume: a run directory of this experiment to continue from its last epoch backup; the
            result equals that of a run that was never interrupted (see kerasdl.resume).
    """
    started = time.time()
    if isinstance(experiment, (str, os.PathLike)):       # kerasdl.run("experiments/lenet5.py")
        from kerasdl.experiment import load_experiment

        experiment = load_experiment(experiment)
    elif not isinstance(experiment, Experiment):
        raise ConfigError(f"run() takes an Experiment (kerasdl.load_experiment(path)) or an experiment "
                          f"file's path or name; got {type(experiment).__name__}")
    from kerasdl.rundir import run_lock, with_absolute_paths

    if resume is not None:
        from kerasdl.resume import check_resumable, with_recorded_outputs

        run_dir = check_resumable(experiment, Path(resume).expanduser().resolve())
        experiment = with_recorded_outputs(experiment, run_dir)   # writes where the run wrote
        with run_lock(run_dir):                                   # one writer per run directory
            check_resumable(experiment, run_dir)                  # (not finished meanwhile)
            return _train_in(experiment, prepare(experiment, log), run_dir, started, log,
                             resuming=True)
    from kerasdl.devices import is_chief, tf_config_from_env
    from kerasdl.rundir import check_writable, make_run_dir, runs_parent

    experiment = with_absolute_paths(experiment)   # config.json means the same from any folder
    # in a multi-worker cluster only the chief writes the run directory and saved_models/;
    # the other workers write into a temporary folder, removed at the end (TF's multi-worker rule)
    chief = experiment.device.policy != "multiworker" or is_chief(tf_config_from_env())
    if chief:   # folders are checked before any work, made after the preparation succeeded
        parent = runs_parent(experiment, workdir)
        check_writable(Path(experiment.output.saved_models_dir), "output.saved_models_dir",
                       create=experiment.output.publish != "never")
    else:
        experiment = with_overrides(experiment, {"output.publish": "never"})
    prepared = prepare(experiment, log)
    if chief:
        run_dir = make_run_dir(experiment, parent)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix=f"kerasdl-worker-{experiment.name}-"))
    try:
        from kerasdl.files import atomic_write_json

        with run_lock(run_dir):
            atomic_write_json(run_dir / "config.json", experiment.to_dict())
            return _train_in(experiment, prepared, run_dir, started, log)
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)


def _train_in(experiment: Experiment, prepared: Prepared, run_dir: Path, started: float,
              log: Log, resuming: bool = False) -> RunResult:
    from kerasdl.reports import shown_path

    log(f"[kerasdl] run directory {shown_path(run_dir)}")
    from kerasdl.compat import multiworker_metric_reduction

    multiworker = prepared.devices.plan.strategy == "multiworker"
    try:
        with prepared.devices.scope(), (multiworker_metric_reduction() if multiworker
                                        else contextlib.nullcontext()):
            return _train_and_report(experiment, prepared, run_dir, started, log, resuming)
    except KeyboardInterrupt:
        import shlex

        log(f"[kerasdl] interrupted: {run_dir} is unfinished; continue it with the same command and "
            f"--resume {shlex.quote(str(run_dir))}")
        raise


def _train_and_report(experiment: Experiment, prepared: Prepared, run_dir: Path, started: float,
                      log: Log, resuming: bool) -> RunResult:
    """Fit (or go on fitting) the prepared model, evaluate, save, publish and report."""
    phase = lambda text: log(f"[kerasdl] {text}")  # noqa: E731
    from kerasdl.files import atomic_write_json, atomic_write_text, kill_point

    model, data = prepared.model, prepared.data
    with open(run_dir / "summary.txt", "w") as handle:
        model.summary(print_fn=lambda line, **_: handle.write(line + "\n"))

    from kerasdl.callbacks import (BACKUP_DIR, best_weights, build_callbacks, tensorboard_dir,
                                   has_backup, read_backup)
    from kerasdl.errors import TrainingDiverged
    from kerasdl.resume import check_backup_phase, restore_optimizer, restore_variables
    from kerasdl.transfer.recipes import experiment_phases, phase_at

    phases = experiment_phases(experiment)
    first_epoch, history_so_far, state, saved_best, arrays, stopped = 0, {}, None, None, None, False
    if resuming:
        backup = read_backup(run_dir, log) if has_backup(run_dir) else None
        if backup is None:
            phase(f"resuming {run_dir}: it has no epoch backup yet, so training starts at epoch 1")
        else:
            state, arrays = backup
            check_backup_phase(state, phase_at(phases, state["epoch"]), run_dir / BACKUP_DIR)
            # the optimizer's state goes back in the phase the run stopped in (fit_phases)
            restore_variables(model, arrays, optimizer=False)
            first_epoch, history_so_far = state["epoch"], state["history"]
            stopped = state.get("stopped", False)
            state, saved_best = state["callbacks"], best_weights(arrays)
            phase(f"resuming after epoch {first_epoch} from {run_dir / BACKUP_DIR}")
    callback_set = build_callbacks(
        experiment, run_dir, data, history_so_far, state, saved_best,
        phase=(lambda epoch: phase_at(phases, epoch)) if experiment.finetune.recipe else None)
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
    if first_epoch < last_epoch:
        fitted = fit_phases(
            model, phases, data.train, data.validation, callback_set.callbacks,
            lambda m, rate: compile_model(experiment, m, data, prepared.devices, rate),
            fit_kwargs=fit_kwargs, initial_epoch=first_epoch,
            restore_optimizer=(lambda m: restore_optimizer(m, arrays)) if arrays else None,
            batch_size=experiment.data.batch_size, shuffle_seed=experiment.data.shuffle_seed,
            log=log, label=(f"transfer {experiment.finetune.recipe}"
                            if experiment.finetune.recipe else experiment.name))
    else:
        if arrays and not experiment.finetune.recipe:
            restore_optimizer(model, arrays)      # model.keras holds the optimizer that trained
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
    from kerasdl.files import save_model_atomically
    from kerasdl.manifest import base_manifest
    from kerasdl.publishing import data_fingerprint, publish_model, publish_name

    model_path = run_dir / "model.keras"
    save_model_atomically(model, model_path, kill_at="model-write")
    kill_point("model-saved")
    phase("writing figures")
    best_epoch = _best_epoch(experiment, history)
    from kerasdl.transfer.recipes import phase_epochs

    phase_records = phase_epochs(experiment)
    figures = write_figures(model, data, history, run_dir, experiment.name, log=log,
                            best_epoch=best_epoch, phases=phase_records)
    kill_point("figures-written")
    name, renamed = publish_name(experiment)      # not a stock name for the user's own data
    publish = publish_model(model_path, experiment, test_metrics, data_fingerprint(experiment, data),
                            run_dir, inference=data.inference_record(), name=name)
    if renamed and experiment.output.publish != "never":
        publish = dataclasses.replace(publish, reason=f"{publish.reason}; {renamed}")
    kill_point("published")

    wall = time.time() - started
    manifest = {**base_manifest(), "experiment": experiment.name, "seed": experiment.trainer.seed,
                "devices": prepared.devices.manifest(), "data": data.manifest(),
                "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
                "wall_time_s": round(wall, 2), "epochs_run": epochs_run, "best_epoch": best_epoch,
                "resumed": resuming,
                # seconds since training started at each epoch's end (kerasdl report --time-to)
                "epoch_end_s": callback_set.clock.epoch_end_s,
                **({"phases": phase_records} if phase_records else {}),
                "throughput": callback_set.throughput.summary(),
                "published": {"done": publish.published, "path": str(publish.path),
                              "reason": publish.reason}}
    atomic_write_json(run_dir / "manifest.json", manifest)
    kill_point("manifest-written")
    logs = tensorboard_dir(experiment, run_dir) if experiment.callbacks.tensorboard.enabled else None
    result = RunResult(experiment=experiment.name, run_dir=run_dir, model_path=model_path,
                       tensorboard_dir=logs, test_metrics=test_metrics,
                       epochs_run=epochs_run, best_epoch=best_epoch, history=history,
                       data_source=data.source, published=publish.published,
                       published_path=publish.path, publish_reason=publish.reason,
                       wall_time_s=wall, throughput=callback_set.throughput.summary(),
                       figures=figures,
                       model=model)
    from kerasdl.reports import run_report

    atomic_write_text(run_dir / FINISHED, run_report(result, experiment) + "\n")  # finished
    kill_point("report-written")
    shutil.rmtree(run_dir / BACKUP_DIR, ignore_errors=True)   # finished: nothing to resume
    log(run_report(result, experiment))
    return result


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _verbosity(experiment: Experiment) -> int:
    verbose = experiment.trainer.verbose
    return (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose


def _best_epoch(experiment: Experiment, history: dict[str, list[float]]) -> Optional[int]:
    values = history.get(experiment.callbacks.monitor)
    if not values:
        return None
    pick = max if experiment.monitor_mode() == "max" else min
    return values.index(pick(values)) + 1


def build_model(experiment: Experiment, data):
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
    """``model`` behind a ``keras.layers.Normalization`` of the training features' statistics.

    The layer holds their mean and variance, so that the saved model takes raw rows (csv: data)."""
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
