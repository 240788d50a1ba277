"""The sections of an experiment's config: frozen dataclasses that check their own fields.

An experiment is a tree of sections (``data``, ``model``, ``trainer``, ``callbacks``, ``device``,
``output``, ``finetune``); each is made by :func:`kerasdl.config.checking.section`, so a typo or a
wrong type fails where the config is written, naming the full key path. Section classes end in
``Config`` where a Keras class has the plain name (``ModelConfig``, not ``Model``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, Optional, Union

from kerasdl.config.checking import section
from kerasdl.config.naming import check_name
from kerasdl.config.tables import (AUGMENTATIONS, DEFAULT_SMOKE, DEVICE_POLICIES, DEVICE_POLICY, LOSSES,
                                   METRICS, OPTIMIZERS, RECIPES, VALIDATION_PREFIX, device_policy_names,
                                   metric_base, metric_direction)
from kerasdl.errors import ConfigError, did_you_mean, unknown_name


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
class ModelConfig:
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
    # per optimizer step; one_cycle: linear warm-up to learning_rate then cosine decay (Smith
    # 2018), over all epochs
    lr_schedule: Literal["constant", "exponential", "cosine", "one_cycle"] = "constant"
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
class EarlyStoppingConfig:
    """keras.callbacks.EarlyStopping on ``callbacks.monitor``."""

    enabled: bool = True
    patience: int = 5
    min_delta: float = 0.0
    restore_best_weights: bool = True


@section("callbacks.checkpoint")
class CheckpointConfig:
    """keras.callbacks.ModelCheckpoint: the best model (by ``callbacks.monitor``) as a .keras file."""

    enabled: bool = True
    save_best_only: bool = True


@section("callbacks.tensorboard")
class TensorBoardConfig:
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
    early_stopping: EarlyStoppingConfig = dataclasses.field(default_factory=EarlyStoppingConfig)
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)
    tensorboard: TensorBoardConfig = dataclasses.field(default_factory=TensorBoardConfig)
    reduce_lr: ReduceLR = dataclasses.field(default_factory=ReduceLR)
    csv_logger: bool = True                  # history.csv
    terminate_on_nan: bool = True            # stop at the first NaN/Inf loss (never saved either way)
    backup: bool = True                      # epoch backups in backup/, for --resume
    # end training the moment callbacks.monitor reaches this value: >= for metrics where higher
    # is better, <= otherwise; recorded as the time to target
    target: Optional[float] = None


@section("device")
class Device:
    """Where and how precisely the model runs (see kerasdl/devices.py and the README).

    policy: one of :data:`~kerasdl.config.tables.DEVICE_POLICIES` (auto, cpu, gpu, gpu:N, ...).
    A GPU asked for and missing is an error, never a silent CPU run (``prefer:gpu`` falls back).
    """

    policy: str = "auto"                     # one of config.DEVICE_POLICIES
    devices: tuple[str, ...] = ()            # for mirrored, e.g. ("/gpu:0", "/gpu:1")
    logical_cpus: int = 0                    # split the CPU into N logical devices (N >= 2)
    memory_limit_mb: Optional[int] = None    # cap each GPU; None: grow as needed
    precision: Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"] = "auto"
    threads: int = 0                         # TensorFlow's intra- and inter-op threads; 0: all cores

    def _validate(self):
        if not DEVICE_POLICY.match(self.policy):
            raise ConfigError(f"config key 'device.policy' must be {device_policy_names()}; "
                              f"got {self.policy!r}{did_you_mean(self.policy, DEVICE_POLICIES)}")
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
    # "keras:ResNet50", "kerasdl:resnet18", "hub:<keras-hub preset or its folder>", or a saved
    # .keras / Keras 2 .h5 model or a run directory
    backbone: str = ""
    # keras: and hub: backbones' pretrained weights ("imagenet"; hub: also "preset"), a .h5 or
    # .weights.h5 file (keras:, kerasdl:, hub:), or None (random weights)
    weights: Optional[str] = "imagenet"
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
                              "'keras:ResNet50', 'kerasdl:resnet18', 'hub:resnet_18_imagenet' or "
                              "saved_models/x.keras")
        if self.recipe and RECIPES[self.recipe].needs_cut_at and not self.cut_at:
            raise ConfigError(f"finetune.recipe={self.recipe!r} needs finetune.cut_at, the name of "
                              "the layer where the backbone is cut")
        if self.layer_lr_decay is not None and not 0 < self.layer_lr_decay <= 1:
            raise ConfigError(f"finetune.layer_lr_decay must be in (0, 1]; got {self.layer_lr_decay}")


@section("")
class Experiment:
    """A whole experiment: what ``kerasdl run`` and ``kerasdl.run`` execute."""

    name: str
    description: str = ""
    data: Data = dataclasses.field(default_factory=Data)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    trainer: Trainer = dataclasses.field(default_factory=Trainer)
    callbacks: Callbacks = dataclasses.field(default_factory=Callbacks)
    device: Device = dataclasses.field(default_factory=Device)
    output: Output = dataclasses.field(default_factory=Output)
    finetune: Finetune = dataclasses.field(default_factory=Finetune)
    smoke: dict[str, Any] = dataclasses.field(default_factory=lambda: dict(DEFAULT_SMOKE))

    def _validate(self):
        check_name(self.name, "config key 'name'")
        monitor = self.callbacks.monitor
        base = metric_base(monitor)
        produced = self.logged_metrics()
        if base not in produced:
            raise ConfigError(
                f"config key 'callbacks.monitor' is {monitor!r}, but training logs only "
                f"{', '.join(sorted(produced))} (and their val_ forms){did_you_mean(base, produced)}; "
                "add the metric to trainer.metrics or monitor one of those")
        if monitor.startswith(VALIDATION_PREFIX) and self.data.validation_fraction == 0:
            raise ConfigError(f"config key 'callbacks.monitor' is {monitor!r}, but "
                              "data.validation_fraction is 0, so no validation metrics exist; "
                              f"set data.validation_fraction > 0 or monitor '{base}'")

    def to_dict(self) -> dict[str, Any]:
        """The whole config as nested dicts (``kerasdl show``, a run's config.json)."""
        return dataclasses.asdict(self)

    def logged_metrics(self) -> set[str]:
        """The metrics training logs, without their ``val_`` forms: the loss and trainer.metrics."""
        return {"loss", *self.trainer.metrics}

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
        if ft.backbone.startswith(("keras:", "kerasdl:", "hub:")):   # a saved model has its own
            text += {None: " (random weights)", "imagenet": " (ImageNet weights)",  # weights
                     "preset": " (preset weights)"}.get(ft.weights, f" (weights {ft.weights})")
        return text + (f", cut at {ft.cut_at}" if ft.cut_at else "")

    def monitor_mode(self) -> str:
        """'min' or 'max' for callbacks.monitor ('auto' resolved as Keras does, by metric name)."""
        if self.callbacks.mode != "auto":
            return self.callbacks.mode
        return metric_direction(self.callbacks.monitor)
