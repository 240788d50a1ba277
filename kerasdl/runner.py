"""A run, end to end, as a few named steps; used by the CLI and by library users alike.

:func:`run` = :func:`prepare` (seed, devices, data, model, compile, pre-flight checks; shared
with ``kerasdl bench``), then in the run directory: :func:`_restore` (a resumed run's state),
:func:`_fit` (the callbacks and :func:`kerasdl.training.fit_phases`, the one place where a run
fits), and :func:`_finish` (evaluate, save, figures, publish, manifest, report). A transfer
recipe supplies its phases and their work (:mod:`kerasdl.transfer`); a plain run never imports
that package.
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
from typing import Any, Optional

from kerasdl.config import LOSSES, Experiment, with_overrides
from kerasdl.errors import ConfigError, DataError, KerasdlError, ModelError
from kerasdl.logs import Log, quiet
from kerasdl.rundir import FINISHED, RUN_FILES  # noqa: F401  (RUN_FILES: part of this API)
from kerasdl.training import Resumed, compile_model, fit_phases  # noqa: F401  (compile_model: API)



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
    #: callbacks.target's record: metric, target, reached (epoch, seconds since training began)
    target: Optional[dict] = None
    model: Any = field(default=None, repr=False)   # the trained keras.Model (best weights restored)


@dataclass
class Prepared:
    """A compiled model and its data, checked against each other, ready to fit."""

    model: Any
    data: Any                 # kerasdl.data.DataBundle
    devices: Any              # kerasdl.devices.DeviceSetup
    phases: list = field(default_factory=list)     # kerasdl.training.Phase: one, or a recipe's
    work: Any = None          # the recipe's kerasdl.training.PhaseWork; None for a plain run


def prepare(experiment: Experiment, log: Optional[Log] = None) -> Prepared:
    """Seed everything, pick the devices, load the data, build and compile the model.

    Then check, before any training, that data, model, loss and monitored metric fit together."""
    log = log or quiet
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
        model, phases, work = _build(experiment, data, phase)
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
    return Prepared(model=model, data=data, devices=devices, phases=phases, work=work)


def _build(experiment: Experiment, data, phase: Log):
    """The model, its phases and their work: a transfer recipe's, or one plain phase."""
    from kerasdl.training import single_phase

    if not experiment.finetune.recipe:
        phase(f"building model '{experiment.model.name}' ({experiment.model.style})")
        trainer = experiment.trainer
        return build_model(experiment, data), single_phase(trainer.epochs, trainer.learning_rate), None
    from kerasdl.transfer import build_transfer_model
    from kerasdl.transfer.recipes import RecipeWork, experiment_phases

    phase(f"building transfer model: recipe {experiment.finetune.recipe} on backbone "
          f"'{experiment.finetune.backbone}'")
    work = RecipeWork(experiment.data.batch_size, experiment.data.shuffle_seed)
    return build_transfer_model(experiment, data), experiment_phases(experiment), work


def run(experiment: Experiment | str | os.PathLike, workdir: Optional[str | os.PathLike] = None,
        log: Optional[Log] = None, resume: Optional[str | os.PathLike] = None) -> RunResult:
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
        log: receives one line per phase and the closing report (default: quiet; the CLI
            passes ``print``). Keras's progress follows ``trainer.verbose``.
        resume: a run directory of this experiment to continue from its last epoch backup; the
            result equals that of a run that was never interrupted (see kerasdl.resume).
    """
    started, log = time.time(), log or quiet
    if isinstance(experiment, (str, os.PathLike)):       # kerasdl.run("experiments/lenet5.py")
        from kerasdl.experiment import load_experiment

        experiment = load_experiment(experiment)
    elif not isinstance(experiment, Experiment):
        raise ConfigError(f"run() takes an Experiment (kerasdl.load_experiment(path)) or an experiment "
                          f"file's path or name; got {type(experiment).__name__}")
    if resume is not None:
        return _run_resumed(experiment, Path(resume).expanduser().resolve(), started, log)
    return _run_new(experiment, workdir, started, log)


def _run_resumed(experiment: Experiment, run_dir: Path, started: float, log: Log) -> RunResult:
    """Continue the interrupted run in ``run_dir``, holding its lock."""
    from kerasdl.resume import check_resumable, with_recorded_outputs
    from kerasdl.rundir import run_lock

    run_dir = check_resumable(experiment, run_dir)
    experiment = with_recorded_outputs(experiment, run_dir)   # writes where the run wrote
    with run_lock(run_dir):                                   # one writer per run directory
        check_resumable(experiment, run_dir)                  # (not finished meanwhile)
        return _train_in(experiment, prepare(experiment, log), run_dir, started, log,
                         resuming=True)


def _run_new(experiment: Experiment, workdir, started: float, log: Log) -> RunResult:
    """Prepare, then make the run directory and train in it, holding its lock.

    In a multi-worker cluster only the chief writes the run directory and saved_models/; the
    other workers write into a temporary folder, removed at the end (TF's multi-worker rule)."""
    from kerasdl.devices import is_chief, tf_config_from_env
    from kerasdl.files import atomic_write_json
    from kerasdl.rundir import (CONFIG, check_writable, make_run_dir, run_lock, runs_parent,
                                with_absolute_paths)

    experiment = with_absolute_paths(experiment)   # config.json means the same from any folder
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
        with run_lock(run_dir):
            atomic_write_json(run_dir / CONFIG, experiment.to_dict())
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


@dataclass
class _Restored:
    """What a resumed run takes from its epoch backup (nothing, for a fresh run)."""

    resumed: Resumed = field(default_factory=Resumed)
    history: dict = field(default_factory=dict)
    callback_state: Optional[dict] = None
    best_weights: Optional[list] = None


def _train_and_report(experiment: Experiment, prepared: Prepared, run_dir: Path, started: float,
                      log: Log, resuming: bool) -> RunResult:
    """The steps of a run in its directory: restore, fit, finish."""
    with open(run_dir / "summary.txt", "w") as handle:
        prepared.model.summary(print_fn=lambda line, **_: handle.write(line + "\n"))
    restored = _restore(prepared, run_dir, log) if resuming else _Restored()
    history, callback_set = _fit(experiment, prepared, run_dir, restored, log)
    return _finish(experiment, prepared, run_dir, history, callback_set, started, resuming, log)


def _restore(prepared: Prepared, run_dir: Path, log: Log) -> _Restored:
    """The model's weights, the history and the callbacks' state of a resumed run's backup.

    The optimizer's state goes back later, in the phase the run stopped in (fit_phases)."""
    from kerasdl.callbacks import BACKUP_DIR, best_weights, has_backup, read_backup
    from kerasdl.resume import check_backup_phase, restore_optimizer, restore_variables
    from kerasdl.training import phase_at

    backup = read_backup(run_dir, log) if has_backup(run_dir) else None
    if backup is None:
        log(f"[kerasdl] resuming {run_dir}: it has no epoch backup yet, so training starts at "
            "epoch 1")
        return _Restored()
    state, arrays = backup
    check_backup_phase(state, phase_at(prepared.phases, state["epoch"]), run_dir / BACKUP_DIR)
    restore_variables(prepared.model, arrays, optimizer=False)
    log(f"[kerasdl] resuming after epoch {state['epoch']} from {run_dir / BACKUP_DIR}")
    resumed = Resumed(state["epoch"], stopped=state.get("stopped", False),
                      restore_optimizer=lambda model: restore_optimizer(model, arrays))
    return _Restored(resumed, state["history"], state["callbacks"], best_weights(arrays))


def _fit(experiment: Experiment, prepared: Prepared, run_dir: Path, restored: _Restored,
         log: Log):
    """The callbacks, then every epoch left in :func:`kerasdl.training.fit_phases`.

    Returns the whole history (a resumed run's included) and the callback set."""
    from kerasdl.callbacks import build_callbacks
    from kerasdl.training import epochs_left, is_phased, phase_at

    phases, resumed = prepared.phases, restored.resumed
    callback_set = build_callbacks(
        experiment, run_dir, prepared.data, restored.history, restored.callback_state,
        restored.best_weights,
        phase=(lambda epoch: phase_at(phases, epoch)) if is_phased(phases) else None)
    left, last_epoch = epochs_left(phases, resumed), sum(phase.epochs for phase in phases)
    if left:
        log(f"[kerasdl] training for up to {_count(left, 'epoch')}"
            + (f" (epochs {last_epoch - left + 1}-{last_epoch})" if resumed.epoch else ""))
    else:
        log(f"[kerasdl] training already finished after epoch {resumed.epoch}")
    fitted = fit_phases(
        prepared.model, phases, prepared.data.train, prepared.data.validation,
        callback_set.callbacks,
        compile_phase=lambda m, rate: compile_model(experiment, m, prepared.data,
                                                    prepared.devices, rate),
        fit_kwargs=dict(verbose=_verbosity(experiment),
                        shuffle=False),   # the pipeline shuffles, per epoch, with its own seed
        work=prepared.work, resumed=resumed, log=log,
        label=(f"transfer {experiment.finetune.recipe}" if prepared.work is not None
               else experiment.name))
    history = dict(restored.history)
    for key, values in fitted.items():
        history[key] = [*history.get(key, []), *values]
    _refuse_diverged(callback_set.guard, run_dir)
    return history, callback_set


def _refuse_diverged(guard, run_dir: Path) -> None:
    """A TrainingDiverged error where the NaN guard stopped training; nothing is saved then."""
    from kerasdl.callbacks import BACKUP_DIR
    from kerasdl.errors import TrainingDiverged

    trip = guard.tripped
    if not trip:
        return
    where = f"epoch {trip['epoch']}" + (f", at or before batch {trip['batch']}"
                                        if trip["batch"] else "")
    raise TrainingDiverged(
        f"training stopped: {trip['metric']} became {trip['value']} in {where}; the last "
        f"good checkpoint ({run_dir / 'checkpoints'}) and backup ({run_dir / BACKUP_DIR}) are "
        "kept, no NaN weights were saved and nothing was published; lower "
        "trainer.learning_rate or set trainer.clipnorm")


def _finish(experiment: Experiment, prepared: Prepared, run_dir: Path, history: dict,
            callback_set, started: float, resuming: bool, log: Log) -> RunResult:
    """Evaluate, save, draw, publish, record and report a trained model.

    From here on every step can be killed and resumed: the last backup holds the finished
    training, and each step rewrites its own file whole (KERASDL_KILL_AT=<point> names the
    moments between them; tests/test_resume.py kills the run at each)."""
    from kerasdl.callbacks import BACKUP_DIR
    from kerasdl.files import atomic_write_text, kill_point
    from kerasdl.reports import run_report
    from kerasdl.training import phase_records

    kill_point("train-end")
    test_metrics = _evaluate(prepared, run_dir, log)
    model_path = _save_model(prepared.model, run_dir)
    records = phase_records(prepared.phases)
    best_epoch = _best_epoch(experiment, history)
    log("[kerasdl] writing figures")
    from kerasdl.figures import write_figures

    figures = write_figures(prepared.model, prepared.data, history, run_dir, experiment.name,
                            log=log, best_epoch=best_epoch, phases=records)
    kill_point("figures-written")
    publish = _publish(experiment, prepared, model_path, test_metrics, run_dir)
    kill_point("published")
    result = RunResult(
        experiment=experiment.name, run_dir=run_dir, model_path=model_path,
        tensorboard_dir=_tensorboard_dir(experiment, run_dir), test_metrics=test_metrics,
        epochs_run=len(next(iter(history.values()), [])), best_epoch=best_epoch,
        history=history, data_source=prepared.data.source, published=publish.published,
        published_path=publish.path, publish_reason=publish.reason,
        wall_time_s=time.time() - started, throughput=callback_set.throughput.summary(),
        figures=figures, target=_target_record(experiment, callback_set.target),
        model=prepared.model)
    _write_manifest(result, experiment, prepared, callback_set, records, started, resuming)
    atomic_write_text(run_dir / FINISHED, run_report(result, experiment) + "\n")  # finished
    kill_point("report-written")
    shutil.rmtree(run_dir / BACKUP_DIR, ignore_errors=True)   # finished: nothing to resume
    log(run_report(result, experiment))
    return result


def _evaluate(prepared: Prepared, run_dir: Path, log: Log) -> dict[str, float]:
    """The test split's metrics, written to metrics.json."""
    from kerasdl.files import atomic_write_json, kill_point
    from kerasdl.rundir import METRICS

    log("[kerasdl] evaluating on the test split")
    test_metrics = {k: float(v) for k, v in
                    prepared.model.evaluate(prepared.data.test, verbose=0,
                                            return_dict=True).items()}
    atomic_write_json(run_dir / METRICS, test_metrics)
    kill_point("metrics-written")
    return test_metrics


def _save_model(model, run_dir: Path) -> Path:
    """The trained model as the run's model.keras (finite weights only, written atomically)."""
    from kerasdl.files import kill_point, save_model_atomically
    from kerasdl.rundir import MODEL

    model_path = run_dir / MODEL
    save_model_atomically(model, model_path, kill_at="model-write")
    kill_point("model-saved")
    return model_path


def _publish(experiment: Experiment, prepared: Prepared, model_path: Path,
             test_metrics: dict[str, float], run_dir: Path):
    """Publish to saved_models/ under the rule of :mod:`kerasdl.publishing`."""
    from kerasdl.publishing import data_fingerprint, publish_model, publish_name

    data = prepared.data
    name, renamed = publish_name(experiment)      # not a stock name for the user's own data
    publish = publish_model(model_path, experiment, test_metrics, data_fingerprint(experiment, data),
                            run_dir, inference=data.inference_record(), name=name)
    if renamed and experiment.output.publish != "never":
        publish = dataclasses.replace(publish, reason=f"{publish.reason}; {renamed}")
    return publish


def _target_record(experiment: Experiment, stop) -> Optional[dict]:
    """Where callbacks.target was reached: the time to target (None without a target)."""
    if stop is None:
        return None
    return {"metric": experiment.callbacks.monitor, "mode": stop.mode, "target": stop.target,
            "reached_epoch": stop.reached_epoch, "seconds": stop.seconds}


def _tensorboard_dir(experiment: Experiment, run_dir: Path) -> Optional[Path]:
    from kerasdl.callbacks import tensorboard_dir

    return tensorboard_dir(experiment, run_dir) if experiment.callbacks.tensorboard.enabled else None


def _write_manifest(result: RunResult, experiment: Experiment, prepared: Prepared, callback_set,
                    records: list, started: float, resuming: bool) -> None:
    """manifest.json: what ran where, how long, and what was published."""
    from kerasdl.files import atomic_write_json, kill_point
    from kerasdl.manifest import base_manifest
    from kerasdl.rundir import MANIFEST

    manifest = {**base_manifest(), "experiment": experiment.name, "seed": experiment.trainer.seed,
                "devices": prepared.devices.manifest(), "data": prepared.data.manifest(),
                "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
                "wall_time_s": round(result.wall_time_s, 2), "epochs_run": result.epochs_run,
                "best_epoch": result.best_epoch, "resumed": resuming,
                # seconds since training started at each epoch's end (kerasdl report --time-to)
                "epoch_end_s": callback_set.clock.epoch_end_s,
                **({"phases": records} if records else {}),
                **({"target": result.target} if result.target else {}),
                "throughput": result.throughput,
                "published": {"done": result.published, "path": str(result.published_path),
                              "reason": result.publish_reason}}
    atomic_write_json(result.run_dir / MANIFEST, manifest)
    kill_point("manifest-written")


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
