"""The optimizer factory: ``trainer.optimizer`` by name, with clipping and the learning-rate schedule."""
from __future__ import annotations

from kerasdl.config import OPTIMIZERS, Experiment
from kerasdl.errors import ConfigError


def make_optimizer(experiment: Experiment, replicas: int = 1, steps_per_epoch: int = 1):
    """The experiment's optimizer, its learning rate scaled and scheduled as ``trainer`` says.

    The rate is multiplied by ``replicas`` where ``trainer.scale_learning_rate`` is set (Goyal et
    al. 2017, "Accurate, Large Minibatch SGD"). A schedule's position is the optimizer's step
    count, so it survives a resume with the optimizer's state: ``exponential`` decays once per
    epoch of ``steps_per_epoch`` steps, ``cosine`` (Loshchilov & Hutter 2017, SGDR) over all
    ``trainer.epochs``, ``one_cycle`` as :func:`one_cycle_schedule` says.
    """
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
    elif trainer.lr_schedule == "one_cycle":
        learning_rate = one_cycle_schedule(learning_rate, steps_per_epoch * trainer.epochs)
    class_name, defaults = OPTIMIZERS[trainer.optimizer]
    clipping = {k: getattr(trainer, k) for k in ("clipnorm", "clipvalue") if getattr(trainer, k)}
    kwargs = {**defaults, **clipping, **trainer.optimizer_kwargs}
    try:
        return getattr(keras.optimizers, class_name)(learning_rate=learning_rate, **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"trainer.optimizer_kwargs {kwargs} do not fit optimizer "
                          f"'{trainer.optimizer}' (keras.optimizers.{class_name}): {error}") from None


ONE_CYCLE_WARMUP = 0.25          # share of all steps spent rising to the peak
ONE_CYCLE_START_DIVISOR = 25.0   # the rate starts at peak / 25
ONE_CYCLE_END_FACTOR = 1e-4      # and ends at peak * 1e-4


def one_cycle_schedule(peak: float, total_steps: int):
    """The one-cycle learning rate (Smith & Topin 2018, "Super-Convergence").

    A linear warm-up from ``peak / 25`` to ``peak`` over the first quarter of ``total_steps``,
    then a cosine decay to ``peak * 1e-4`` at the last step (and there it stays). It is Keras's
    own ``CosineDecay`` with a warm-up, so a .keras file saves and reloads it as it is.
    """
    import keras

    total_steps = max(2, int(total_steps))
    warmup_steps = max(1, round(total_steps * ONE_CYCLE_WARMUP))
    return keras.optimizers.schedules.CosineDecay(
        peak / ONE_CYCLE_START_DIVISOR, decay_steps=total_steps - warmup_steps,
        alpha=ONE_CYCLE_END_FACTOR, warmup_target=peak, warmup_steps=warmup_steps)
