"""Experiment configs: frozen, typed dataclasses, validated before TensorFlow is imported.

An experiment is a tree of sections (``data``, ``model``, ``trainer``, ``callbacks``, ``device``,
``output``). Every section is a frozen, keyword-only dataclass that checks its own fields when it is
created, so a typo or a wrong type fails where the config is written, naming the full key path
(``trainer.optimzer``) and the closest valid key. ``--set`` overrides go through the same checks.

This module imports no TensorFlow: ``kerasdl show``, ``kerasdl list`` and config errors stay fast.
"""
from __future__ import annotations

import ast
import contextvars
import dataclasses
import functools
import json
import math
import re
import typing
from typing import Any, Literal, Mapping, Optional, Sequence, Union

from kerasdl.errors import ConfigError, did_you_mean, unknown_name

# === Names a config may use, checked without importing TensorFlow ===

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

#: train-time augmentations (keras preprocessing layers applied to training batches only)
AUGMENTATIONS: frozenset[str] = frozenset({"translate", "rotate", "zoom", "flip"})

DEVICE_POLICY = re.compile(r"^(auto|cpu|gpu|gpu:\d+|prefer:gpu|mirrored|multiworker)$")

#: applied by ``--smoke`` before the user's ``--set`` overrides: tiny data, one epoch
DEFAULT_SMOKE: dict[str, Any] = {
    "trainer.epochs": 1,
    "data.train_limit": 256,
    "data.test_limit": 128,
    "output.publish": "never",
}


# === Sections: frozen dataclasses that check their fields ===

#: set while several overrides are applied: the experiment's cross-field checks (the monitor
#: against the metrics, ...) wait for the last one, so their order does not matter
_DEFER_CROSS_CHECKS: contextvars.ContextVar[bool] = contextvars.ContextVar("defer", default=False)


def section(path: str):
    """Make ``cls`` a frozen, keyword-only config section living at ``path`` in the experiment.

    The section rejects unknown keys (naming ``path.key`` and the closest valid key) and checks
    and normalises every field against its annotation (ints become floats where a float is
    expected, lists become tuples, dicts become sub-sections).
    """
    def decorate(cls):
        cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        cls._path = path
        dataclass_init = cls.__init__

        @functools.wraps(dataclass_init)
        def __init__(self, **kwargs):
            names = [f.name for f in dataclasses.fields(cls)]
            for key in kwargs:
                if key not in names:
                    raise ConfigError(
                        f"unknown config key '{_join(path, key)}'{did_you_mean(key, names)}; "
                        f"valid keys of '{path or 'experiment'}': {', '.join(names)}")
            dataclass_init(self, **kwargs)
            for f in dataclasses.fields(cls):
                value = _check(getattr(self, f.name), _hints(cls)[f.name], _join(path, f.name))
                object.__setattr__(self, f.name, value)
            validate = getattr(self, "_validate", None)
            if validate and not _DEFER_CROSS_CHECKS.get():
                validate()

        cls.__init__ = __init__
        return cls
    return decorate


#: the rule for every name that becomes a file or folder name (experiment, sweep study): no
#: separators, quotes or spaces, and not all dots ('.', '..')
NAME_PATTERN = re.compile(r"^(?!\.+$)[A-Za-z0-9_.-]+$")
#: the longest such name: file names are at most 255 bytes (ext4, xfs, btrfs, APFS, NTFS), and
#: kerasdl adds up to 100 characters to a name (a publish name's "-<data stem>", at most 61; a
#: temporary file's ".<name>.previous.json.XXXXXXXX.tmp", 29; a run's "-YYYYmmdd-HHMMSS-N", 19)
MAX_NAME_LENGTH = 150


def check_name(name: str, what: str, names: str = "files and folders", hint: str = "") -> None:
    """Raise a ConfigError unless ``name`` may name files: the name rule and the length limit.

    ``what`` is the key or option ("config key 'name'", "--study"), ``names`` what the name
    becomes, ``hint`` an example of a good name."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        dots = ", which is all dots" if isinstance(name, str) and name and set(name) == {"."} else ""
        raise ConfigError(f"{what} must use letters, digits, '_', '-' or '.' only (it names {names}); "
                          f"got {_shown(name)}{dots}{hint}")
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"{what} is {len(name)} characters long; at most {MAX_NAME_LENGTH} fit (file "
                          f"names hold 255, and kerasdl adds suffixes to it): shorten it{hint}")


def _shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters with its full length said (error lines stay short)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(annotation))
    if origin is Union:
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin in (tuple, dict):
        return f"{origin.__name__} ({annotation})".replace("typing.", "")
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _check(value: Any, annotation: Any, path: str) -> Any:
    """Return ``value`` normalised to ``annotation`` or raise a ConfigError naming ``path``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    wrong = ConfigError(f"config key '{path}' must be {_type_name(annotation)}; "
                        f"got {value!r} ({type(value).__name__})")
    if annotation is Any:
        return value
    if isinstance(annotation, type) and hasattr(annotation, "_path"):      # a sub-section
        if isinstance(value, annotation):
            return value
        if isinstance(value, Mapping):
            return annotation(**value)
        raise wrong
    if origin is Literal:
        if value in args and all(type(value) is type(a) or value != a for a in args if a == value):
            return value
        raise ConfigError(f"config key '{path}' must be one of {', '.join(map(repr, args))}; "
                          f"got {value!r}{did_you_mean(value, [str(a) for a in args])}")
    if origin is Union:
        errors = []
        for option in args:
            try:
                return _check(value, option, path)
            except ConfigError as error:
                errors.append(error)
        raise wrong
    if annotation is type(None):
        if value is None:
            return None
        raise wrong
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise wrong
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise wrong
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):     # '1e400' parses as inf; no setting means infinity or NaN
                raise ConfigError(f"config key '{path}' must be a finite number; got {value!r}"
                                  f"{' (1e400 and the like overflow to inf)' if value > 0 else ''}")
            return float(value)
        raise wrong
    if annotation is str:
        if isinstance(value, str):
            return value
        raise wrong
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise wrong
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise wrong
        return tuple(_check(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise wrong
        return dict(value)
    raise TypeError(f"kerasdl.config cannot check annotation {annotation!r} at {path}")


@section("data")
class Data:
    """Where the examples come from and how they are prepared (a tf.data pipeline)."""

    name: str = "mnist"                      # TFDS name, an embedded dataset, or folder: / npz: /
                                             # csv: / textfolder:PATH
                                             # (the user's own data, kerasdl.data.local)
    source: Literal["auto", "tfds", "embedded"] = "auto"   # auto: TFDS, else the embedded copy
    data_dir: Optional[str] = None           # TFDS data dir; None: TFDS's default (~/tensorflow_datasets)
    train_split: str = "train"
    test_split: str = "test"
    validation_fraction: float = 0.1         # carved from the train split with split_seed
    test_fraction: float = 0.2               # local data without a test split: stratified, split_seed
    label_column: Optional[str] = None       # csv:PATH: the column holding the label
    # csv: / npz: labels: classes or a numeric target; auto: text and whole numbers are classes
    # (csv), integer arrays are (npz), other numbers a target (kerasdl.data.local)
    label_type: Literal["auto", "classes", "numeric"] = "auto"
    split_seed: int = 0                      # fixes the embedded train/test split and the validation carve
    shuffle_seed: int = 0                    # order of training examples per epoch
    shuffle_buffer: int = 10_000
    batch_size: int = 64                     # global batch (summed over replicas)
    image_size: Optional[tuple[int, int]] = None           # None: as the dataset has it
    resize_method: Literal["pad", "bilinear", "nearest"] = "pad"  # pad: zero-pad/crop around the centre
    channels: Optional[int] = None           # 3: grey images repeated to RGB (1: RGB to grey); None: as is
    rescale: Optional[float] = 1 / 255       # multiplies uint8 (pixel) features, cast to float32
    label_format: Literal["auto", "sparse", "one_hot"] = "auto"   # auto: what the loss expects
    target: Literal["label", "features"] = "label"   # features: reconstruct the input (autoencoders)
    augment: tuple[str, ...] = ()            # of config.AUGMENTATIONS, on training batches only
    cache: bool = True
    train_limit: Optional[int] = None        # use only the first N train examples (smoke runs)
    test_limit: Optional[int] = None

    def _validate(self):
        for name in self.augment:
            if name not in AUGMENTATIONS:
                raise ConfigError(unknown_name("augmentation", name, AUGMENTATIONS, "data.augment"))
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"config key 'data.channels' must be None, 1 or 3; got {self.channels}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError("config key 'data.validation_fraction' must be in [0, 1); "
                              f"got {self.validation_fraction}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"config key 'data.test_fraction' must be in (0, 1); "
                              f"got {self.test_fraction}" + (
                                  " (kerasdl evaluate RUN --data folder:PATH scores every image "
                                  "of a labelled folder without train/)"
                                  if self.test_fraction == 1 else ""))
        for key in ("batch_size", "shuffle_buffer"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key 'data.{key}' must be >= 1; got {getattr(self, key)}")
        if self.label_type != "auto" and self.name.partition(":")[0] not in ("csv", "npz"):
            raise ConfigError(f"config key 'data.label_type'={self.label_type!r} applies to csv: and "
                              f"npz: data; dataset '{self.name}' has its own labels: remove the key")
        for key in ("train_limit", "test_limit"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"config key 'data.{key}' must be >= 1 or None; "
                                  f"got {getattr(self, key)}")


@section("model")
class Model:
    """Which registered builder makes the model, in which Keras style, with which arguments.

    ``input_shape`` and ``num_classes`` are filled from the dataset when not given in ``kwargs``.
    """

    name: str = "lenet5"
    style: Literal["sequential", "functional", "subclassed"] = "functional"
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


@section("trainer")
class Trainer:
    """Optimizer, loss, metrics and the fit loop."""

    optimizer: str = "adam"                  # one of config.OPTIMIZERS
    learning_rate: float = 1e-3
    lr_schedule: Literal["constant", "exponential", "cosine"] = "constant"   # per optimizer step
    lr_decay_rate: float = 0.9               # exponential: factor per epoch
    optimizer_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. weight_decay
    clipnorm: Optional[float] = None         # gradient clipping by norm (per variable), any model
    clipvalue: Optional[float] = None        # gradient clipping by value
    loss: str = "sparse_categorical_crossentropy"          # one of config.LOSSES
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    seed: int = 42                           # Python, NumPy and TensorFlow seeds
    deterministic: bool = False              # TF op determinism (slower; exact repeats)
    scale_learning_rate: bool = False        # multiply learning_rate by the number of replicas
    steps_per_execution: Union[int, Literal["auto"]] = "auto"   # auto: 32 on one device, else 1
    jit_compile: Union[bool, Literal["auto"]] = "auto"   # auto: XLA on GPUs, not on CPUs
    # auto: a progress bar on a terminal, a line per epoch elsewhere
    verbose: Literal["auto", 0, 1, 2] = "auto"

    def _validate(self):
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(unknown_name("optimizer", self.optimizer, OPTIMIZERS, "trainer.optimizer"))
        if self.loss not in LOSSES:
            raise ConfigError(unknown_name("loss", self.loss, LOSSES, "trainer.loss"))
        for metric in self.metrics:
            if metric not in METRICS:
                raise ConfigError(unknown_name("metric", metric, METRICS, "trainer.metrics"))
        if self.epochs < 1:
            raise ConfigError(f"config key 'trainer.epochs' must be >= 1; got {self.epochs}")
        for key in ("clipnorm", "clipvalue"):
            if getattr(self, key) is not None and getattr(self, key) <= 0:
                raise ConfigError(f"config key 'trainer.{key}' must be > 0 or None; "
                                  f"got {getattr(self, key)}")
        if self.clipnorm is not None and self.clipvalue is not None:
            raise ConfigError("set one of trainer.clipnorm and trainer.clipvalue, not both "
                              "(Keras optimizers take one kind of clipping)")
        if self.learning_rate <= 0:
            raise ConfigError(f"config key 'trainer.learning_rate' must be > 0; got {self.learning_rate}")
        if self.steps_per_execution != "auto" and self.steps_per_execution < 1:
            raise ConfigError("config key 'trainer.steps_per_execution' must be >= 1; "
                              f"got {self.steps_per_execution}")


@section("callbacks.early_stopping")
class EarlyStopping:
    """keras.callbacks.EarlyStopping on ``callbacks.monitor``."""

    enabled: bool = True
    patience: int = 5
    min_delta: float = 0.0
    restore_best_weights: bool = True


@section("callbacks.checkpoint")
class Checkpoint:
    """keras.callbacks.ModelCheckpoint: the best model (by ``callbacks.monitor``) as a .keras file."""

    enabled: bool = True
    save_best_only: bool = True


@section("callbacks.tensorboard")
class TensorBoard:
    """keras.callbacks.TensorBoard: epoch scalars by default; histograms and profiling on request."""

    enabled: bool = True
    histogram_freq: int = 0
    update_freq: Union[Literal["epoch", "batch"], int] = "epoch"
    profile_batch: Union[int, tuple[int, int]] = 0
    write_graph: bool = False
    # where the logs go (their train/ and validation/ runs), from the run directory; None:
    # tensorboard/ in it. kerasdl sweep sets '..' (the trial's folder): TensorBoard then lists
    # trial-0003/train and trial-0003/validation
    log_dir: Optional[str] = None
    # the run's config as HParams (one session); a sweep's trials write none: the sweep writes
    # the searched keys and the objective itself
    hparams: bool = True


@section("callbacks.reduce_lr")
class ReduceLR:
    """keras.callbacks.ReduceLROnPlateau on ``callbacks.monitor`` (off by default)."""

    enabled: bool = False
    factor: float = 0.5
    patience: int = 3
    min_lr: float = 1e-6


@section("callbacks")
class Callbacks:
    """The default callback set: EarlyStopping, ModelCheckpoint, TensorBoard, CSV history, TerminateOnNaN."""

    monitor: str = "val_loss"                # watched by early stopping and the best checkpoint
    mode: Literal["auto", "min", "max"] = "auto"
    early_stopping: EarlyStopping = dataclasses.field(default_factory=EarlyStopping)
    checkpoint: Checkpoint = dataclasses.field(default_factory=Checkpoint)
    tensorboard: TensorBoard = dataclasses.field(default_factory=TensorBoard)
    reduce_lr: ReduceLR = dataclasses.field(default_factory=ReduceLR)
    csv_logger: bool = True                  # history.csv
    terminate_on_nan: bool = True            # stop at the first NaN/Inf loss (never saved either way)
    backup: bool = True                      # epoch backups in backup/, for --resume


@section("device")
class Device:
    """Where and how precisely the model runs (see kerasdl/devices.py and the README).

    policy: auto (all GPUs, mirrored if several; else the CPU), cpu, gpu, gpu:N, prefer:gpu,
    mirrored (``devices`` or all GPUs), multiworker (TF_CONFIG, or ``--workers``/``--worker-index``).
    A GPU asked for and missing is an error, never a silent CPU run (``prefer:gpu`` falls back).
    """

    policy: str = "auto"
    devices: tuple[str, ...] = ()            # for mirrored, e.g. ("/gpu:0", "/gpu:1")
    logical_cpus: int = 0                    # split the CPU into N logical devices (N >= 2)
    memory_limit_mb: Optional[int] = None    # cap each GPU; None: grow as needed
    precision: Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"] = "auto"
    threads: int = 0                         # TensorFlow's intra- and inter-op threads; 0: all cores

    def _validate(self):
        if not DEVICE_POLICY.match(self.policy):
            choices = ["auto", "cpu", "gpu", "prefer:gpu", "mirrored", "multiworker"]
            raise ConfigError(f"config key 'device.policy' must be auto, cpu, gpu, gpu:N, "
                              f"prefer:gpu, mirrored or multiworker; got {self.policy!r}"
                              f"{did_you_mean(self.policy, choices)}")
        if self.devices and self.policy != "mirrored":
            raise ConfigError("config key 'device.devices' is used only with "
                              f"device.policy='mirrored'; the policy is {self.policy!r}")
        if self.threads < 0:
            raise ConfigError(f"config key 'device.threads' must be 0 (TensorFlow's default) or "
                              f">= 1; got {self.threads}")
        if self.logical_cpus == 1 or self.logical_cpus < 0:
            raise ConfigError(f"config key 'device.logical_cpus' must be 0 (off) or >= 2; "
                              f"got {self.logical_cpus}")


@section("output")
class Output:
    """Where a run writes: its run directory, and the published model under saved_models/."""

    runs_dir: str = "runs"
    saved_models_dir: str = "saved_models"
    publish: Literal["if_better", "always", "never"] = "if_better"


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
    summary: str = ""


#: transfer-learning recipes: seed 002's four situations, plus two-phase; the one table of them
RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (
    Recipe("linear_probe", trains_backbone=False, starts_frozen=True, backbone_inference=True,
           summary="frozen backbone, linear head (small data, similar domain)"),
    Recipe("finetune_all", trains_backbone=True, starts_frozen=False, backbone_inference=True,
           fine_rate=True, summary="everything at the fine-tuning rate, BatchNorm in inference "
                                   "mode (large data, similar domain)"),
    Recipe("cut_and_probe", trains_backbone=False, starts_frozen=True, backbone_inference=True,
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


@section("finetune")
class Finetune:
    """Transfer learning from a pretrained backbone (kerasdl/transfer); off while recipe is None.

    linear_probe: small data, similar domain - freeze the backbone, train a linear head;
    finetune_all: large data, similar domain - train everything at a low learning rate;
    cut_and_probe: small data, different domain - cut at ``cut_at``, train a head on those features;
    retrain_all: large data, different domain - start from the pretrained weights, train everything;
    two_phase: head first with the backbone frozen, then unfreeze ``unfreeze`` and continue at
    ``second_learning_rate`` with BatchNorm kept in inference mode.
    """

    recipe: Optional[str] = None             # one of config.RECIPES; None: no transfer
    backbone: str = ""          # "keras:ResNet50", "kerasdl:resnet18", or a saved .keras / run dir
    weights: Optional[str] = "imagenet"      # keras.applications weights: imagenet, a file, None
    cut_at: Optional[str] = None             # layer name where the backbone is cut
    unfreeze: Union[int, Literal["all"]] = "all"     # two_phase: top N layers, or all
    head_epochs: int = 5                     # two_phase: epochs of phase 1 (head only)
    second_learning_rate: Optional[float] = None     # phase 2; None: learning_rate / 10
    layer_lr_decay: Optional[float] = None   # discriminative learning rates, per layer downwards
    cache_features: bool = False             # linear_probe: compute backbone features once

    def _validate(self):
        if self.recipe is not None and self.recipe not in RECIPES:
            raise ConfigError(unknown_name("recipe", self.recipe, RECIPES, "finetune.recipe"))
        if self.recipe and not self.backbone:
            raise ConfigError(f"finetune.recipe={self.recipe!r} needs finetune.backbone, e.g. "
                              "'keras:ResNet50', 'kerasdl:resnet18' or saved_models/x.keras")
        if self.recipe == "cut_and_probe" and not self.cut_at:
            raise ConfigError("finetune.recipe='cut_and_probe' needs finetune.cut_at, the name of "
                              "the layer where the backbone is cut")
        if self.layer_lr_decay is not None and not 0 < self.layer_lr_decay <= 1:
            raise ConfigError(f"finetune.layer_lr_decay must be in (0, 1]; got {self.layer_lr_decay}")


@section("")
class Experiment:
    """A whole experiment: what ``kerasdl run`` and ``kerasdl.run`` execute."""

    name: str
    description: str = ""
    data: Data = dataclasses.field(default_factory=Data)
    model: Model = dataclasses.field(default_factory=Model)
    trainer: Trainer = dataclasses.field(default_factory=Trainer)
    callbacks: Callbacks = dataclasses.field(default_factory=Callbacks)
    device: Device = dataclasses.field(default_factory=Device)
    output: Output = dataclasses.field(default_factory=Output)
    finetune: Finetune = dataclasses.field(default_factory=Finetune)
    smoke: dict[str, Any] = dataclasses.field(default_factory=lambda: dict(DEFAULT_SMOKE))

    def _validate(self):
        check_name(self.name, "config key 'name'")
        monitor = self.callbacks.monitor
        base = monitor[4:] if monitor.startswith("val_") else monitor
        produced = {"loss", *self.trainer.metrics}
        if base not in produced:
            raise ConfigError(
                f"config key 'callbacks.monitor' is {monitor!r}, but training logs only "
                f"{', '.join(sorted(produced))} (and their val_ forms){did_you_mean(base, produced)}; "
                "add the metric to trainer.metrics or monitor one of those")
        if monitor.startswith("val_") and self.data.validation_fraction == 0:
            raise ConfigError(f"config key 'callbacks.monitor' is {monitor!r}, but "
                              "data.validation_fraction is 0, so no validation metrics exist; "
                              f"set data.validation_fraction > 0 or monitor '{base}'")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def model_description(self) -> str:
        """What this experiment trains, for reports and run tables.

        ``"lenet5, functional"``; for a transfer run (``finetune.recipe`` set, where ``model.name``
        is unused) the recipe and its backbone: ``"two_phase on keras:MobileNetV2 (ImageNet
        weights)"``, ``"cut_and_probe on saved_models/transfer_pretrain.keras, cut at s4"``.
        """
        ft = self.finetune
        if not ft.recipe:
            return f"{self.model.name}, {self.model.style}"
        text = f"{ft.recipe} on {ft.backbone}"
        if ft.backbone.startswith(("keras:", "kerasdl:")):      # a saved model has its own weights
            text += {None: " (random weights)", "imagenet": " (ImageNet weights)"}.get(
                ft.weights, f" (weights {ft.weights})")
        return text + (f", cut at {ft.cut_at}" if ft.cut_at else "")

    def monitor_mode(self) -> str:
        """'min' or 'max' for callbacks.monitor ('auto' resolved as Keras does, by metric name)."""
        if self.callbacks.mode != "auto":
            return self.callbacks.mode
        monitor = self.callbacks.monitor
        base = monitor[4:] if monitor.startswith("val_") else monitor
        return "max" if base in HIGHER_IS_BETTER else "min"


# === Overrides: "trainer.epochs=3" ===

def parse_value(text: str) -> Any:
    """Parse a ``--set`` value.

    A Python literal (3, 1e-3, (32, 32), None, 'x'), true/false/null, or else the text itself.
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["a.b=1", ...]`` (or ``[("a.b", 1), ...]``) -> ``{"a.b": 1}``; a malformed item is a ConfigError."""
    if isinstance(items, (str, bytes)):
        items = [items]
    overrides = {}
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
            overrides[item[0].strip()] = item[1]
            continue
        if not isinstance(item, str):
            raise ConfigError(f"overrides are 'KEY=VALUE' strings, (KEY, VALUE) pairs or a {{KEY: VALUE}} "
                              f"mapping (e.g. 'trainer.epochs=3'); got {_shown(item)} "
                              f"({type(item).__name__})")
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE (e.g. trainer.epochs=3); got {_shown(item)}")
        overrides[key.strip()] = text
    return overrides


def flat_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten an experiment's config to dotted keys with scalar values.

    ``Experiment.to_dict()`` -> ``{"trainer.learning_rate": 0.001, "model.kwargs.dropout": 0.2,
    ...}``: every key but ``smoke``, as scalars (bool, int, float, str; others as JSON text), for
    TensorBoard's HParams and for tables of what differs between runs.
    """
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        else:                                           # None, tuples, {}
            flat[prefix] = json.dumps(value, default=str)

    walk("", {key: value for key, value in config.items() if key != "smoke"})
    return flat


def with_overrides(config, overrides: Mapping[str, Any]):
    """Return ``config`` with dotted-key ``overrides`` applied and re-validated.

    Values given as strings (from the command line) are parsed with :func:`parse_value`, except
    where the key expects a string. Keys inside dict fields (``model.kwargs.dropout``) are allowed.
    """
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a {{KEY: VALUE}} mapping (e.g. {{'trainer.epochs': 3}}); "
                          f"got {type(overrides).__name__}")
    bad = [key for key in overrides if not isinstance(key, str)]
    if bad:
        raise ConfigError(f"override keys are dotted config keys as text (e.g. 'trainer.epochs'); got "
                          f"{_shown(bad[0])} ({type(bad[0]).__name__})")
    token = _DEFER_CROSS_CHECKS.set(True)     # keys that go together may come in any order
    try:
        for key, value in overrides.items():
            config = _override(config, key.split("."), value, key)
    finally:
        _DEFER_CROSS_CHECKS.reset(token)
    _validate_sections(config)
    return dataclasses.replace(config)        # every check again, cross-field ones included


def _validate_sections(config) -> None:
    """Run the cross-field checks of every section below ``config`` (deferred by overrides)."""
    for f in dataclasses.fields(config):
        section = getattr(config, f.name)
        if dataclasses.is_dataclass(section):
            _validate_sections(section)
            if hasattr(section, "_validate"):
                section._validate()


def _unquoted(text: str) -> str:
    """Strip the quotes of a quoted Python string; return any other text as it is.

    ``'mnist'`` or ``"mnist"`` (a quoted Python string, as shells pass ``"data.name='mnist'"``)
    -> ``mnist``.
    """
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        try:
            literal = ast.literal_eval(stripped)
        except (ValueError, SyntaxError):
            return text
        if isinstance(literal, str):
            return literal
    return text


def _override(node, parts: list[str], value: Any, full_key: str):
    head, rest = parts[0], parts[1:]
    prefix = full_key[: len(full_key) - len(".".join(parts))].rstrip(".")
    if isinstance(node, dict):
        if not rest:
            return {**node, head: parse_value(value) if isinstance(value, str) else value}
        return {**node, head: _override(node.get(head, {}), rest, value, full_key)}
    names = [f.name for f in dataclasses.fields(node)]
    if head not in names:
        raise ConfigError(f"unknown config key '{_join(prefix, head)}'{did_you_mean(head, names)}; "
                          f"valid keys of '{prefix or 'experiment'}': {', '.join(names)}")
    current = getattr(node, head)
    if rest:
        if not (dataclasses.is_dataclass(current) or isinstance(current, dict)):
            raise ConfigError(f"config key '{_join(prefix, head)}' is a value, not a section; "
                              f"cannot set '{full_key}'")
        return dataclasses.replace(node, **{head: _override(current, rest, value, full_key)})
    if isinstance(value, str):
        value = _unquoted(value)
        annotation = _hints(type(node))[head]
        if value.strip().lower() in ("none", "null") and type(None) in typing.get_args(annotation):
            value = None            # finetune.recipe=None: None, not the recipe named 'None'
        else:
            try:
                _check(value, annotation, full_key)    # a string is what the key wants: keep it
            except ConfigError:
                value = parse_value(value)
    return dataclasses.replace(node, **{head: value})
