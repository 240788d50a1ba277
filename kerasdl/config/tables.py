"""The names a config may use, one table per vocabulary, checked without importing TensorFlow.

Optimizers, losses, metrics (and which way each is better), augmentations, device policies, the
smoke defaults and the transfer-learning recipes. Every other module asks these tables; none
spells a vocabulary again.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

#: optimizer name -> (keras.optimizers class name, default kwargs)
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "adagrad": ("Adagrad", {}),
    "adadelta": ("Adadelta", {}),
    "adamax": ("Adamax", {}),
    "nadam": ("Nadam", {}),
}

#: loss name -> (keras loss identifier, what the labels must look like)
#:   sparse:  integer class ids, shape (batch,) or (batch, 1), model output (batch, classes)
#:   one_hot: one row per class, shape (batch, classes) == model output
#:   same:    same shape as the model output (binary, hinge, regression losses)
LOSSES: dict[str, tuple[str, str]] = {
    "mse": ("mean_squared_error", "same"),
    "mean_squared_error": ("mean_squared_error", "same"),
    "msle": ("mean_squared_logarithmic_error", "same"),
    "mean_squared_logarithmic_error": ("mean_squared_logarithmic_error", "same"),
    "mae": ("mean_absolute_error", "same"),
    "mean_absolute_error": ("mean_absolute_error", "same"),
    "huber": ("huber", "same"),
    "binary_crossentropy": ("binary_crossentropy", "same"),
    "categorical_crossentropy": ("categorical_crossentropy", "one_hot"),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy", "sparse"),
    "hinge": ("hinge", "same"),
    "squared_hinge": ("squared_hinge", "same"),
    "categorical_hinge": ("categorical_hinge", "one_hot"),
    "kl_divergence": ("kl_divergence", "one_hot"),
    "kld": ("kl_divergence", "one_hot"),
}

#: metric names; Keras logs each under the name it was given (``val_`` + name on validation data)
METRICS: frozenset[str] = frozenset({
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision",
    "recall", "mae", "mse", "mean_absolute_error", "mean_squared_error", "root_mean_squared_error",
})

#: metrics where a larger value is better (used to compare runs); everything else: smaller is better
HIGHER_IS_BETTER: frozenset[str] = frozenset({
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
})

#: the prefix Keras gives a metric computed on the validation data
VALIDATION_PREFIX = "val_"


def metric_base(name: str) -> str:
    """The metric a logged name measures, without its validation prefix: 'val_auc' -> 'auc'."""
    return name.removeprefix(VALIDATION_PREFIX)


def metric_direction(name: str) -> Literal["max", "min"]:
    """'max' where a larger value of the logged metric ``name`` is better, else 'min'.

    The one rule for every comparison of runs, checkpoints and sweep trials: ``val_`` is ignored,
    metrics in :data:`HIGHER_IS_BETTER` (accuracy, AUC, ...) go up, the rest (losses) go down,
    as Keras's ``mode="auto"`` decides.
    """
    return "max" if metric_base(name) in HIGHER_IS_BETTER else "min"


#: train-time augmentations (keras preprocessing layers applied to training batches only)
AUGMENTATIONS: frozenset[str] = frozenset({"translate", "rotate", "zoom", "flip"})

#: device.policy values -> what a run uses (kerasdl/devices.py); ``N`` in a name stands for a number
DEVICE_POLICIES: dict[str, str] = {
    "auto": "all GPUs, mirrored if several; else the CPU",
    "cpu": "the CPU",
    "gpu": "the first GPU",
    "gpu:N": "GPU number N (gpu:0, gpu:1, ...)",
    "prefer:gpu": "the first GPU if there is one, else the CPU",
    "mirrored": "device.devices, or all GPUs, or all logical CPUs, in sync",
    "multiworker": "the cluster in TF_CONFIG (or --workers/--worker-index)",
}

#: matches every policy of :data:`DEVICE_POLICIES`, a pattern entry's ``N`` as any number
DEVICE_POLICY = re.compile("^(" + "|".join(re.escape(name).replace("N", r"\d+")
                                           for name in DEVICE_POLICIES) + ")$")


def device_policy_names() -> str:
    """The device policies as a sentence's list: 'auto, cpu, ..., mirrored or multiworker'."""
    names = list(DEVICE_POLICIES)
    return f"{', '.join(names[:-1])} or {names[-1]}"


#: applied by ``--smoke`` before the user's ``--set`` overrides: tiny data, one epoch
DEFAULT_SMOKE: dict[str, Any] = {
    "trainer.epochs": 1,
    "data.train_limit": 256,
    "data.test_limit": 128,
    "output.publish": "never",
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A transfer-learning recipe (kerasdl/transfer): what it trains, and how its phases go.

    ``kerasdl.transfer.recipes.plan_phases`` turns these facts into phases: a recipe that does
    not train the backbone has one phase, the head at the full learning rate; one that does has
    (``head_first``) a head-only phase of ``finetune.head_epochs``, then a phase training
    ``finetune.unfreeze`` (all of the backbone without ``head_first``) at the fine-tuning rate
    (``fine_rate``: ``finetune.second_learning_rate``, default a tenth) or the full one.
    """

    name: str
    trains_backbone: bool          # some phase trains the backbone (layer_lr_decay applies)
    starts_frozen: bool            # the backbone is frozen when the model is built
    backbone_inference: bool       # the backbone (BatchNorm) always runs in inference mode
    head_first: bool = False       # a head-only phase before the backbone trains
    fine_rate: bool = False        # the backbone trains at the fine-tuning rate
    needs_cut_at: bool = False     # the backbone is cut at finetune.cut_at, which must be set
    summary: str = ""


#: transfer-learning recipes: seed 002's four situations, plus two-phase; the one table of them
RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (
    Recipe("linear_probe", trains_backbone=False, starts_frozen=True, backbone_inference=True,
           summary="frozen backbone, linear head (small data, similar domain)"),
    Recipe("finetune_all", trains_backbone=True, starts_frozen=False, backbone_inference=True,
           fine_rate=True, summary="everything at the fine-tuning rate, BatchNorm in inference "
                                   "mode (large data, similar domain)"),
    Recipe("cut_and_probe", trains_backbone=False, starts_frozen=True, backbone_inference=True,
           needs_cut_at=True,
           summary="backbone cut at an earlier layer, frozen; linear head (small data, different "
                   "domain)"),
    Recipe("retrain_all", trains_backbone=True, starts_frozen=False, backbone_inference=False,
           summary="everything at the full rate from the pretrained weights, BatchNorm in "
                   "training mode (large data, different domain)"),
    Recipe("two_phase", trains_backbone=True, starts_frozen=True, backbone_inference=True,
           head_first=True, fine_rate=True,
           summary="head first on the frozen backbone, then the top layers too at the "
                   "fine-tuning rate, BatchNorm in inference mode"),
)}
