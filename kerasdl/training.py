"""The training loop at the bottom of every run: phases, each compiled and fitted in turn.

A run is a list of :class:`Phase` objects: one ``train`` phase for a plain run, a transfer
recipe's plan otherwise (:func:`kerasdl.transfer.recipes.plan_phases`). :func:`fit_phases` is
the only place where a run calls ``fit``: for each phase it sets what trains and compiles (the
phase's :class:`PhaseWork` and ``compile_phase``), puts a resumed run's optimizer state back and
fits, continuing the epoch count; a run with no epochs left still passes through ``fit`` once,
for the callbacks' train-end work. This module knows nothing of transfer learning: a recipe
supplies its per-phase work through :class:`PhaseWork`, so a plain run never imports
:mod:`kerasdl.transfer`.

In the manner of flax's ``examples/mnist/train.py`` and big_vision's ``train.py``: the loop is
small and the work around it is named.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence, Union

from kerasdl.logs import Log, quiet

#: ``compile_phase(model, learning_rate)``: compiles ``model`` at a phase's rate
CompileFn = Callable[[Any, float], None]


@dataclass(frozen=True)
class Phase:
    """One fit of a run: ``epochs`` epochs at ``learning_rate``, with what trains set first.

    Attributes:
        name: "head", "all", "top N" (a transfer run's phases) or "train" (any other run).
        epochs: epochs of this phase.
        learning_rate: the rate it compiles at (the head's, under ``layer_lr_decay``).
        unfreeze: the backbone's trainable part: None (frozen), N (its top N layers with
            weights) or "all".
        layer_lr_decay: per-layer learning-rate decay into the backbone (ULMFiT), or None.
        cache_features: the backbone runs once and the classifier trains on its features.
        recompile: set ``trainable`` and compile before the phase (False: the model is fit as
            it was compiled, as in a run without a recipe).
    """

    name: str
    epochs: int
    learning_rate: float
    unfreeze: Union[None, int, str]
    layer_lr_decay: Optional[float] = None
    cache_features: bool = False
    recompile: bool = True


def single_phase(epochs: int, learning_rate: float) -> list[Phase]:
    """The one phase of a run without a recipe: the model fit as it was compiled."""
    return [Phase("train", epochs, learning_rate, "all", recompile=False)]


def phase_spans(phases: Sequence[Phase]) -> list[tuple[Phase, int, int]]:
    """(phase, epochs done before it, epochs done after it) for each phase in turn.

    These are the ``initial_epoch`` and ``epochs`` of its ``fit``."""
    spans, done = [], 0
    for phase in phases:
        spans.append((phase, done, done + phase.epochs))
        done += phase.epochs
    return spans


def phase_at(phases: Sequence[Phase], epoch: int) -> str:
    """The phase that ``epoch`` (1-based) ends in, as a backup records it ("2/2 all")."""
    for index, (phase, first, end) in enumerate(phase_spans(phases)):
        if first < epoch <= end:
            return f"{index + 1}/{len(phases)} {phase.name}"
    return "after the last phase"


def is_phased(phases: Sequence[Phase]) -> bool:
    """Whether ``phases`` is a recipe's plan (phases that set what trains), not a plain run."""
    return any(phase.recompile for phase in phases)


def phase_records(phases: Sequence[Phase]) -> list[dict[str, Any]]:
    """The phases as the manifest records them: name, first and last epoch (1-based), rate.

    Empty for a plain run."""
    if not is_phased(phases):
        return []
    return [{"name": phase.name, "first_epoch": first + 1, "last_epoch": end,
             "learning_rate": phase.learning_rate}
            for phase, first, end in phase_spans(phases)]


@dataclass
class FitPart:
    """What a phase fits: the model itself, or a part of it on other data (cached features).

    ``callbacks`` are the part's own (run before the run's); ``model is None`` means the whole
    model on the run's data."""

    model: Any = None
    train: Any = None
    validation: Any = None
    callbacks: list = field(default_factory=list)


class PhaseWork(Protocol):
    """A recipe's work around each of its phases (:mod:`kerasdl.transfer` supplies one)."""

    def set_trainable(self, model, phase: Phase) -> str:
        """Make trainable what ``phase`` trains; return a description ("the head")."""

    def after_compile(self, model, phase: Phase) -> str:
        """Adjust the compiled model (e.g. per-layer rates); return a note for the log or ""."""

    def part_to_fit(self, model, phase: Phase, train, validation, log: Log) -> FitPart:
        """What ``phase`` fits (``FitPart()``: the whole model on the run's data)."""


@dataclass
class Resumed:
    """Where a resumed run stands: epochs done, and how to put the optimizer back."""

    epoch: int = 0
    stopped: bool = False                     # stopped early: its phase has no epochs left
    restore_optimizer: Optional[Callable[[Any], None]] = None


def fit_phases(model, phases: Sequence[Phase], train, validation, callbacks: list, *,
               compile_phase: CompileFn, fit_kwargs: Optional[dict] = None,
               work: Optional[PhaseWork] = None, resumed: Optional[Resumed] = None,
               log: Optional[Log] = None, label: str = "run") -> dict[str, list[float]]:
    """Fit ``model`` phase by phase: the one place where a run compiles a phase and fits.

    For each phase that ends after the resumed epoch: ``work.set_trainable`` and
    ``compile_phase(model, phase.learning_rate)`` then ``work.after_compile`` (a phase with
    ``recompile``); the resumed optimizer state goes back (``resumed.restore_optimizer``) when
    the resumed epoch falls inside the phase, since the backup holds that phase's optimizer;
    then ``fit`` from the phase's first epoch (or the resumed one) to its last on
    ``work.part_to_fit`` (the whole model, or its classifier on cached features). The callbacks
    that write the model (:class:`kerasdl.callbacks.SavesModel`) write the whole ``model``.

    A resumed run whose backup ends a phase (early-stopped in it, or after its last epoch) first
    fits zero epochs in that phase, so that the callbacks' train-end work runs (EarlyStopping
    restoring the best weights, the checkpoint written) and the model holds the optimizer that
    trained it; then the phases after it, as the uninterrupted run (an early stop ends its phase:
    Keras resets ``stop_training`` at each ``fit``).

    Returns:
        The history of the epochs fitted, concatenated per key.
    """
    log = log or quiet
    resumed = resumed or Resumed()
    spans = phase_spans(phases)
    history: dict[str, list[float]] = {}
    if not spans:
        return history
    after = 0
    stop = _phase_to_end(spans, resumed)
    if stop is not None:            # the train end of the fit the interrupted run was in
        _setup(model, stop, spans, compile_phase, work, resumed, log, label, end=False)
        part = _part(model, spans[stop][0], work, train, validation, log)
        _fit(model, part, train, validation, callbacks, resumed.epoch, resumed.epoch,
             fit_kwargs, history)
        if stop == len(spans) - 1 or _run_ended(callbacks):
            return history
        after = stop + 1
    for index, (phase, first, end) in enumerate(spans):
        if index < after or end <= resumed.epoch:         # finished before a resume
            continue
        start = _setup(model, index, spans, compile_phase, work, resumed, log, label, end=True)
        part = _part(model, phase, work, train, validation, log)
        _fit(model, part, train, validation, callbacks, start, end, fit_kwargs, history)
        if _run_ended(callbacks):          # fit() forgets stop_training between phases
            break
    return history


def _phase_to_end(spans, resumed: Resumed) -> Optional[int]:
    """The phase whose ``fit`` a resumed run must end first (zero epochs), or None.

    That is the phase its backup's epoch ends: where EarlyStopping stopped it (the phase has no
    epochs left), or the phase's last epoch. Its ``fit`` then ends as the uninterrupted run's
    did (EarlyStopping puts its best weights back, the checkpoint is written) before the next
    phase starts, as in the uninterrupted run; a stop ends the phase, not the run."""
    ends = [end for _, _, end in spans]
    if not resumed.epoch or not (resumed.stopped or resumed.epoch in ends
                                 or resumed.epoch >= ends[-1]):
        return None
    return next((i for i, (_, first, end) in enumerate(spans) if first < resumed.epoch <= end),
                len(spans) - 1)


def epochs_left(phases: Sequence[Phase], resumed: Resumed) -> int:
    """How many epochs :func:`fit_phases` will fit at most, from where ``resumed`` stands."""
    spans = phase_spans(phases)
    stop = _phase_to_end(spans, resumed) if spans else None
    if stop is not None:
        return sum(phase.epochs for phase, _, _ in spans[stop + 1:])
    return sum(end - max(first, resumed.epoch) for _, first, end in spans if end > resumed.epoch)


def _part(model, phase: Phase, work: Optional[PhaseWork], train, validation, log: Log) -> FitPart:
    """What ``phase`` fits: the recipe's part (the classifier on cached features) or the model.

    The same in a resumed run's zero-epoch fit, so that EarlyStopping's best weights (of the
    part it watched) go back into that part."""
    if work is None or not phase.recompile:
        return FitPart()
    return work.part_to_fit(model, phase, train, validation, log)


def _run_ended(callbacks: list) -> bool:
    """Whether the run ends here, whatever phases are left.

    It does where callbacks.target was reached, or the NaN guard tripped (the runner then
    refuses the run)."""
    from kerasdl.callbacks.guard import NaNGuard
    from kerasdl.callbacks.target import StopAtTarget

    return any((isinstance(c, StopAtTarget) and c.reached_epoch is not None)
               or (isinstance(c, NaNGuard) and c.tripped) for c in callbacks)


def _setup(model, index: int, spans, compile_phase: CompileFn, work: Optional[PhaseWork],
           resumed: Resumed, log: Log, label: str, end: bool) -> int:
    """Set what phase ``index`` trains, compile it, put a resumed optimizer back; its 1st epoch."""
    phase, first, last = spans[index]
    start = max(first, resumed.epoch)
    trained = ""
    if phase.recompile:
        trained = work.set_trainable(model, phase) if work is not None else "everything"
        compile_phase(model, phase.learning_rate)
        note = work.after_compile(model, phase) if work is not None else ""
        trained += f", {note}" if note else ""
    if resumed.restore_optimizer is not None and start > first:   # resumed inside this phase
        resumed.restore_optimizer(model)
    if phase.recompile and end:
        log(f"[kerasdl] {label}, phase {index + 1}/{len(spans)} '{phase.name}': "
            f"epochs {start + 1}-{last} at learning rate {phase.learning_rate:g}, "
            f"training {trained}" + (" on cached features" if phase.cache_features else "")
            + f"; {len(model.trainable_weights)} trainable weight tensors")
    return start


def _fit(model, part: FitPart, train, validation, callbacks: list, start: int, end: int,
         fit_kwargs: Optional[dict], history: dict[str, list[float]]) -> None:
    """One ``fit`` call, its history appended to ``history``."""
    from kerasdl.callbacks.saves import SavesModel

    fitted = part.model if part.model is not None else model
    for callback in callbacks:              # checkpoints and backups hold the whole model
        if isinstance(callback, SavesModel):
            callback.saves = model if fitted is not model else None
    result = fitted.fit(part.train if part.model is not None else train,
                        validation_data=part.validation if part.model is not None else validation,
                        initial_epoch=start, epochs=end, callbacks=[*part.callbacks, *callbacks],
                        **(fit_kwargs or {}))
    for key, values in result.history.items():
        history.setdefault(key, []).extend(float(v) for v in values)


def compile_model(experiment, model, data, devices, learning_rate: Optional[float] = None) -> None:
    """Compile ``model`` as ``experiment`` says (at ``learning_rate`` if given).

    The one compile of a run: :func:`kerasdl.runner.prepare` calls it, and so does every phase
    of a transfer recipe (through ``compile_phase``)."""
    from kerasdl.config import LOSSES, with_overrides
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
