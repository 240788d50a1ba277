"""Fine-tuning recipes: which layers train, in which mode, at which learning rate, in which order.

The four situations of the seed (section 10.9-10.10), plus the two-phase recipe:

=================  ==========================  ==========================================================
recipe             situation                   what trains
=================  ==========================  ==========================================================
``linear_probe``   small data, similar domain  a linear head on the frozen backbone's features
                                               (``cache_features``: the features are computed once)
``cut_and_probe``  small data, other domain    a linear head on an earlier layer's features
                                               (``finetune.cut_at``): lower layers are more general
``finetune_all``   large data, similar domain  everything, at the fine-tuning rate
                                               (``second_learning_rate``, default learning_rate / 10)
``retrain_all``    large data, other domain    everything at the full rate, from the pretrained
                                               weights, BatchNorm in training mode
``two_phase``      the common default          the head for ``head_epochs`` (backbone frozen), then
                                               the top ``unfreeze`` layers too (or all), recompiled
                                               at the fine-tuning rate
=================  ==========================  ==========================================================

Every recipe but ``retrain_all`` runs the backbone in inference mode (BatchNormalization on its
moving statistics, Dropout off) through :class:`~kerasdl.layers.transfer.FrozenMode`; in Keras 3
``base(x, training=False)`` alone does not pin it (see that module). A change of ``trainable``
takes effect only when the model is compiled again, so every phase compiles.
``layer_lr_decay`` gives the backbone discriminative learning rates (ULMFiT) in the phases that
train it (:mod:`kerasdl.layerwise`).

A recipe is a plan: :func:`plan_phases` returns its :class:`Phase` list (what trains, at which
rate, for how many epochs, on cached features or not), :class:`RecipeWork` does its work around
each phase, and :func:`kerasdl.training.fit_phases` runs it (the one place where a phase is
compiled and fitted). The runner calls :func:`build_transfer_model`; library users call
:func:`make_transfer_model` and :func:`train_recipe` (the same phase loop, without an
Experiment).

Reference:
    Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural networks?"
    NIPS 2014.
    Howard, Ruder. "Universal Language Model Fine-tuning for Text Classification." ACL 2018
    (gradual unfreezing, discriminative fine-tuning).
    Kornblith, Shlens, Le. "Do Better ImageNet Models Transfer Better?" CVPR 2019 (linear probes
    on frozen features vs fine-tuning).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

import keras
import numpy as np

from kerasdl.config import RECIPES, ConfigError, Experiment, Recipe
from kerasdl.errors import unknown_name
from kerasdl.logs import Log, quiet
from kerasdl.training import (CompileFn, FitPart, Phase, Resumed, fit_phases,  # noqa: F401
                              phase_at, phase_spans, single_phase)

#: names of the parts of a transfer model (``model.get_layer(name)``)
PREPROCESS, BACKBONE, FEATURES, CLASSIFIER = "preprocess", "backbone", "features", "classifier"
#: head_pooling="auto" flattens feature maps of at most this many values, and averages larger ones
FLATTEN_MAX_VALUES = 4096

#: the recipes by name (:class:`kerasdl.config.Recipe`: what each trains, how its phases go)
RECIPE_SPECS = RECIPES


def recipe_spec(recipe: str) -> Recipe:
    """The :class:`~kerasdl.config.Recipe` named ``recipe``; an unknown name is a ConfigError."""
    if recipe not in RECIPE_SPECS:
        raise ConfigError(unknown_name("recipe", recipe, RECIPE_SPECS, "finetune.recipe"))
    return RECIPE_SPECS[recipe]


# === Building: backbone + preprocessing + head ===

def make_transfer_model(backbone, num_classes: int, recipe: str = "linear_probe",
                        input_shape: Optional[Sequence[int]] = None, input_scale: float = 1.0,
                        head_pooling: str = "auto",
                        classifier_activation: Optional[str] = "softmax"):
    """``inputs -> [preprocess] -> backbone -> features -> classifier``, frozen as ``recipe`` says.

    Args:
        backbone: a :class:`~kerasdl.transfer.backbones.Backbone` (see ``load_backbone``); a
            text backbone (a keras-hub text preset) makes a model of raw strings, its tokenizer
            inside (the ``preprocess`` layer).
        num_classes: units of the new classifier.
        recipe: one of :data:`RECIPE_SPECS`; decides whether the backbone starts frozen and
            whether it runs in inference mode.
        input_shape: the images' shape; default: the backbone's (text: None or ``()``).
        input_scale: multiplies the inputs before a keras.applications preprocessing (255 for
            pipelines that rescale pixels to [0, 1]).
        head_pooling: how feature maps become a vector: "avg", "max", "flatten", or "auto"
            (flatten maps of at most 4,096 values, keeping their layout for a linear head;
            average larger ones, as keras.applications' ``pooling="avg"``).
        classifier_activation: of the classifier (None: logits).

    Returns:
        A functional ``keras.Model`` with layers named ``preprocess`` (where the backbone needs
        one), ``backbone`` (a FrozenMode around the backbone), ``features``, ``classifier``.
    """
    from kerasdl.models.base import head_layers
    from kerasdl.layers.transfer import FrozenMode

    spec = recipe_spec(recipe)
    inputs = _transfer_input(backbone, input_shape)
    x = inputs
    preprocessing = backbone.preprocessing(input_scale)
    if preprocessing is not None:
        try:
            x = preprocessing(x)
        except ValueError:        # images the preprocessing cannot take (e.g. its channels)
            if backbone.takes_text:
                raise
            raise _shape_error(backbone, tuple(inputs.shape[1:])) from None
    if not backbone.takes_text:
        _check_image_shape(backbone, tuple(inputs.shape[1:]), tuple(x.shape[1:]))
    wrapper = FrozenMode(backbone.model, inference=spec.backbone_inference, name=BACKBONE)
    x = wrapper(x)
    x = _features_layer(tuple(x.shape[1:]), head_pooling)(x)
    (classifier,) = head_layers(num_classes, True, None, classifier_activation, name=CLASSIFIER)
    outputs = classifier(x)
    model = keras.Model(inputs, outputs, name=f"transfer_{recipe}")
    if spec.starts_frozen:
        wrapper.trainable = False
    return model


def _transfer_input(backbone, input_shape: Optional[Sequence[int]]):
    """The transfer model's input: raw strings for a text backbone, else images of its shape."""
    if backbone.takes_text:
        if input_shape not in (None, ()):
            raise ConfigError(f"the backbone ({backbone.description}) takes raw strings, one per "
                              f"example; the data have examples of shape {tuple(input_shape)}")
        return keras.Input((), dtype="string", name="text")
    expected = tuple(backbone.model.input_shape[1:])
    shape = tuple(input_shape) if input_shape is not None else expected
    if len(shape) != len(expected):
        raise _shape_error(backbone, shape)
    return keras.Input(shape, name="image")


def _check_image_shape(backbone, shape: tuple, seen: tuple) -> None:
    """Refuse data of ``shape`` whose preprocessed images do not fit the backbone's input.

    ``seen`` is their shape after the preprocessing: a preset's converter may resize them."""
    expected = tuple(backbone.model.input_shape[1:])
    if any(e is not None and e != s for e, s in zip(expected, seen)) or len(expected) != len(seen):
        raise _shape_error(backbone, shape, seen)


def _shape_error(backbone, shape: tuple, seen: Optional[tuple] = None) -> ConfigError:
    resized = f" ({seen} after its preprocessing)" if seen not in (None, shape) else ""
    return ConfigError(f"the backbone ({backbone.description}) takes inputs of shape "
                       f"{tuple(backbone.model.input_shape[1:])}; the data have {shape}{resized}: "
                       "set data.image_size and data.channels to match")


def _features_layer(shape: tuple, head_pooling: str):
    if head_pooling not in ("auto", "avg", "max", "flatten"):
        raise ConfigError(f"head_pooling must be 'auto', 'avg', 'max' or 'flatten'; "
                          f"got {head_pooling!r}")
    if len(shape) == 1 or head_pooling == "flatten":
        return keras.layers.Flatten(name=FEATURES)
    if head_pooling == "auto":
        head_pooling = "flatten" if int(np.prod(shape)) <= FLATTEN_MAX_VALUES else "avg"
        if head_pooling == "flatten":
            return keras.layers.Flatten(name=FEATURES)
    pooling = {(2, "avg"): keras.layers.GlobalAveragePooling1D,
               (2, "max"): keras.layers.GlobalMaxPooling1D,
               (3, "avg"): keras.layers.GlobalAveragePooling2D,
               (3, "max"): keras.layers.GlobalMaxPooling2D}.get((len(shape), head_pooling))
    if pooling is None:
        raise ConfigError(f"cannot pool backbone features of shape {shape}; use head_pooling="
                          "'flatten'")
    return pooling(name=FEATURES)


def backbone_of(model):
    """The backbone ``keras.Model`` inside a transfer model."""
    return model.get_layer(BACKBONE).backbone


def layers_with_weights(model) -> list:
    """The backbone's top-level layers that hold weights, input to output."""
    return [layer for layer in backbone_of(model).layers if layer.weights]


def freeze_backbone(model) -> None:
    """Freeze the whole backbone (its BatchNorm layers included). Compile again afterwards."""
    model.get_layer(BACKBONE).trainable = False


def unfreeze_backbone(model, top: Union[int, str] = "all") -> list[str]:
    """Make the top ``top`` layers with weights of the backbone trainable (or "all").

    Layers without weights (activations, pooling) do not count. Compile again afterwards.

    Returns:
        The names of the backbone layers that are now trainable.
    """
    layers = layers_with_weights(model)
    check_unfreeze(top, len(layers))
    model.get_layer(BACKBONE).trainable = True          # sets every layer inside trainable
    if top != "all":
        for layer in layers[:len(layers) - top]:
            layer.trainable = False
    return [layer.name for layer in layers if layer.trainable]


def check_unfreeze(top: Union[int, str], available: int) -> None:
    """A ConfigError unless ``top`` is "all" or a number of layers in 1..``available``."""
    if top != "all" and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ConfigError(f"finetune.unfreeze must be 'all' or a number of layers >= 1; got {top!r}")
    if top != "all" and top > available:
        raise ConfigError(f"finetune.unfreeze={top}, but the backbone has only {available} "
                          "layers with weights; use 'all' or a smaller number")


def discriminative_optimizer(model, optimizer, decay: float):
    """Wrap ``optimizer`` so the backbone's k-th layer from the top trains at ``decay ** k`` times its rate.

    The head trains at the full rate (``decay ** 0``)."""
    from kerasdl.layerwise import LayerwiseLearningRate, layer_multipliers

    head = [model.get_layer(CLASSIFIER)]
    return LayerwiseLearningRate(optimizer, layer_multipliers(head, backbone_of(model).layers, decay))


def use_layerwise_learning_rates(model, decay: float) -> None:
    """Recompile ``model`` as it is compiled, its optimizer wrapped for ``decay``.

    See :func:`discriminative_optimizer`."""
    config = model.get_compile_config()
    config["optimizer"] = keras.saving.serialize_keras_object(
        discriminative_optimizer(model, model.optimizer, decay))
    model.compile_from_config(config)


# === The plan: phases ===

def plan_phases(recipe: str, epochs: int, learning_rate: float, head_epochs: int = 5,
                unfreeze: Union[int, str] = "all", second_learning_rate: Optional[float] = None,
                layer_lr_decay: Optional[float] = None, cache_features: bool = False
                ) -> list[Phase]:
    """The phases of ``recipe`` within ``epochs`` epochs in all (empty phases dropped)."""
    spec = recipe_spec(recipe)
    if not spec.trains_backbone:
        return [Phase("head", epochs, learning_rate, None, cache_features=cache_features)]
    phases = []
    head_epochs = min(head_epochs, epochs) if spec.head_first else 0
    if head_epochs:
        phases.append(Phase("head", head_epochs, learning_rate, None))
    fine_rate = second_learning_rate if second_learning_rate is not None else learning_rate / 10
    unfreeze = unfreeze if spec.head_first else "all"
    phases.append(Phase("all" if unfreeze == "all" else f"top {unfreeze}", epochs - head_epochs,
                        fine_rate if spec.fine_rate else learning_rate, unfreeze, layer_lr_decay))
    return [phase for phase in phases if phase.epochs > 0]


def experiment_phases(experiment: Experiment) -> list[Phase]:
    """The phases of ``experiment``: its recipe's, or one ``train`` phase without a recipe."""
    ft, trainer = experiment.finetune, experiment.trainer
    if not ft.recipe:
        return single_phase(trainer.epochs, trainer.learning_rate)
    return plan_phases(ft.recipe, trainer.epochs, trainer.learning_rate, ft.head_epochs,
                       ft.unfreeze, ft.second_learning_rate, ft.layer_lr_decay, ft.cache_features)


def check_options(recipe: str, layer_lr_decay: Optional[float], cache_features: bool,
                  augment: Sequence[str] = ()) -> None:
    """Raise a ConfigError for options that do not fit the recipe, before anything is built."""
    spec = recipe_spec(recipe)
    training, frozen = ([name for name, r in RECIPES.items() if r.trains_backbone == trains]
                        for trains in (True, False))
    if layer_lr_decay is not None and not spec.trains_backbone:
        raise ConfigError(f"finetune.layer_lr_decay applies to recipes that train the backbone "
                          f"({', '.join(training)}); '{recipe}' trains only the head")
    if cache_features and spec.trains_backbone:
        raise ConfigError(f"finetune.cache_features needs a backbone that stays frozen "
                          f"({', '.join(frozen)}); '{recipe}' trains it")
    if cache_features and augment:
        raise ConfigError(f"finetune.cache_features computes the features once, so data.augment="
                          f"{tuple(augment)} would be applied once and frozen; set data.augment=() "
                          "or finetune.cache_features=False")


# === What a phase sets before it compiles and fits ===

def apply_phase(model, phase: Phase) -> str:
    """Make trainable what ``phase`` trains in a transfer model, and say what that is.

    A change of ``trainable`` counts only after the model is compiled again."""
    if phase.unfreeze is None:
        freeze_backbone(model)
        return "the head (backbone frozen)"
    names = unfreeze_backbone(model, phase.unfreeze)
    return (f"the head and {len(names)} backbone layers ({names[0]} .. {names[-1]})"
            if names else "the head")


@dataclass
class RecipeWork:
    """A recipe's work around each of its phases (:class:`kerasdl.training.PhaseWork`).

    Before a phase compiles: freeze or unfreeze the backbone; after: wrap the optimizer for
    per-layer rates (``layer_lr_decay``); for the fit: the classifier on cached features
    (``cache_features``, in batches of ``batch_size`` shuffled by ``shuffle_seed`` and epoch).
    """

    batch_size: int = 32
    shuffle_seed: int = 0

    def set_trainable(self, model, phase: Phase) -> str:
        return apply_phase(model, phase)

    def after_compile(self, model, phase: Phase) -> str:
        if phase.layer_lr_decay is None:
            return ""
        use_layerwise_learning_rates(model, phase.layer_lr_decay)
        return f"layer-wise rates x{phase.layer_lr_decay:g} per layer downwards"

    def part_to_fit(self, model, phase: Phase, train, validation, log: Log) -> FitPart:
        if not phase.cache_features:
            return FitPart()
        cached = cache_features(model, train, validation, self.batch_size, self.shuffle_seed, log)
        return FitPart(cached.head, cached.train, cached.validation, cached.callbacks)


@dataclass
class CachedFeatures:
    """The classifier of a transfer model on its frozen part's features, computed once.

    ``head`` (features -> the model's own classifier layer) is compiled as the whole model is,
    with the whole model's optimizer instance: the backbone is frozen, so both have the same
    trainable variables, and training the head trains the whole model's classifier. ``train``
    comes in an order that is a function of (shuffle seed, epoch), as the data pipeline's does;
    ``callbacks`` tell it the epoch.
    """

    head: Any
    train: Any
    validation: Any
    callbacks: list


def cache_features(model, train, validation, batch_size: int, shuffle_seed: int,
                   log: Optional[Log] = None) -> CachedFeatures:
    """Run the frozen part of the compiled ``model`` once over ``train`` and ``validation``."""
    import tensorflow as tf

    from kerasdl.data.batching import per_epoch, shuffled_batches

    log = log or quiet
    x_train, y_train = extract_features(model, train)
    cached_validation = None
    if validation is not None:
        x_val, y_val = extract_features(model, validation)
        cached_validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch_size)
    log(f"[kerasdl] transfer: cached features of {len(x_train)} training"
        + (f" and {len(x_val)} validation" if validation is not None else "")
        + f" examples, shape {x_train.shape[1:]} (one pass of the backbone)")
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="cached_features_epoch")
    cached_train = per_epoch(
        lambda seed: shuffled_batches((x_train, y_train), len(x_train), batch_size, seed),
        epoch, shuffle_seed, steps=-(-len(x_train) // batch_size))
    set_epoch = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs=None: epoch.assign(e))
    features = keras.Input(x_train.shape[1:], name="features")
    head = keras.Model(features, model.get_layer(CLASSIFIER)(features), name=f"{model.name}_head")
    settings = model.get_compile_config()           # the head: as the whole model is compiled,
    settings.pop("optimizer")                       # with its optimizer itself, not a copy
    head.compile(optimizer=model.optimizer, **keras.saving.deserialize_keras_object(settings))
    return CachedFeatures(head, cached_train, cached_validation, [set_epoch])


def extract_features(model, dataset) -> tuple[np.ndarray, np.ndarray]:
    """One pass of the frozen part of a transfer model over ``dataset``: (features, labels)."""
    extractor = keras.Model(model.inputs, model.get_layer(FEATURES).output,
                            name=f"{model.name}_features")
    features, labels = [], []
    for x, y in dataset:
        features.append(np.asarray(extractor.predict_on_batch(x)))
        labels.append(np.asarray(y))
    return np.concatenate(features), np.concatenate(labels)


# === Library use: the runner's phase loop without an Experiment ===

def compile_with(optimizer: str = "adam", loss: str = "sparse_categorical_crossentropy",
                 metrics: Sequence[str] = ("accuracy",), **compile_kwargs) -> CompileFn:
    """A ``compile_fn(model, learning_rate)`` for :func:`train_recipe` (library use).

    ``optimizer`` is a ``keras.optimizers`` class name or alias ("adam", "sgd", ...).
    """
    def compile_fn(model, learning_rate: float) -> None:
        config = {"class_name": optimizer, "config": {"learning_rate": learning_rate}}
        model.compile(optimizer=keras.optimizers.get(config), loss=loss, metrics=list(metrics),
                      **compile_kwargs)

    return compile_fn


def train_recipe(model, train, validation=None, *, recipe: str, epochs: int,
                 learning_rate: float, compile_fn: Optional[CompileFn] = None,
                 callbacks: Sequence = (), fit_kwargs: Optional[dict] = None, head_epochs: int = 5,
                 unfreeze: Union[int, str] = "all", second_learning_rate: Optional[float] = None,
                 layer_lr_decay: Optional[float] = None, cache_features: bool = False,
                 batch_size: int = 32, shuffle_seed: int = 0, initial_epoch: int = 0,
                 restore_optimizer: Optional[Callable[[Any], None]] = None,
                 log: Optional[Log] = None) -> dict[str, list[float]]:
    """Train a model from :func:`make_transfer_model` with ``recipe``; return the history.

    The phases of :func:`plan_phases` run in the runs' phase loop
    (:func:`kerasdl.training.fit_phases`): every phase sets what trains, compiles through
    ``compile_fn(model, learning_rate)`` and fits for its epochs, continuing the epoch count; the
    histories are concatenated (with ``learning_rate`` per epoch).

    Args:
        model: a transfer model (:func:`make_transfer_model`).
        train, validation: batched ``tf.data`` datasets of (images, labels) (validation: or None).
        recipe, epochs, learning_rate: the recipe, the epochs of all phases together, and the
            full learning rate (the head's).
        compile_fn: compiles a model at a learning rate; default :func:`compile_with` ().
        callbacks: Keras callbacks, shared by the phases (a later phase's ``fit`` calls their
            ``on_train_begin`` again: give a ``CSVLogger`` ``append=True``). With
            ``cache_features`` the model being fit is the classifier on the cached features,
            which shares its variables and optimizer with ``model``; kerasdl's
            :class:`~kerasdl.callbacks.BestCheckpoint` and
            :class:`~kerasdl.callbacks.EpochBackup` write ``model`` itself.
        fit_kwargs: more ``model.fit`` arguments (verbose, ...).
        head_epochs, unfreeze, second_learning_rate, layer_lr_decay, cache_features: as in
            :class:`kerasdl.config.Finetune`.
        batch_size, shuffle_seed: batches of the cached features, in an order that is a
            function of (``shuffle_seed``, epoch).
        initial_epoch: epochs already done (a resumed run): earlier phases are skipped, and the
            phase it falls in starts there with its trainable layers and learning rate.
        restore_optimizer: a resumed run's: called with the model after its phase's compile,
            when ``initial_epoch`` falls inside that phase (the backup holds that phase's
            optimizer); a phase that starts at ``initial_epoch`` starts with a fresh optimizer,
            as it did in the run that never stopped.
        log: receives one line per phase (default: quiet).
    """
    from kerasdl.callbacks import LearningRateLogger

    check_options(recipe, layer_lr_decay, cache_features)
    phases = plan_phases(recipe, epochs, learning_rate, head_epochs, unfreeze,
                         second_learning_rate, layer_lr_decay, cache_features)
    return fit_phases(model, phases, train, validation, [LearningRateLogger(), *callbacks],
                      compile_phase=compile_fn or compile_with(),
                      fit_kwargs={"shuffle": False, **(fit_kwargs or {})},
                      work=RecipeWork(batch_size, shuffle_seed),
                      resumed=Resumed(initial_epoch, restore_optimizer=restore_optimizer),
                      log=log, label=f"transfer {recipe}")


# === The runner's entry point ===

def build_transfer_model(experiment: Experiment, data):
    """The transfer model of ``experiment.finetune`` for ``data`` (not compiled).

    The backbone is ``finetune.backbone`` (built with ``model.kwargs`` for keras:/kerasdl:
    backbones, cut at ``finetune.cut_at``); the head has ``data.num_classes`` units; the input
    scale undoes ``data.rescale`` for keras.applications' preprocessing.
    """
    from kerasdl.transfer.backbones import load_backbone

    ft = experiment.finetune
    if not ft.recipe:
        raise ConfigError("build_transfer_model needs finetune.recipe; this experiment has none")
    check_options(ft.recipe, ft.layer_lr_decay, ft.cache_features, experiment.data.augment)
    if not data.num_classes:
        raise ConfigError(f"transfer recipes train a classifier, and dataset "
                          f"'{experiment.data.name}' has no classes")
    x_spec = data.train.element_spec[0]
    input_shape = tuple(x_spec.shape[1:])
    text = getattr(x_spec, "dtype", None) == "string"
    if text and not ft.backbone.startswith("hub:"):
        raise ConfigError(_kind_mismatch(experiment, "text", x_spec))
    backbone = load_backbone(ft.backbone, input_shape=input_shape, weights=ft.weights,
                             cut_at=ft.cut_at, builder_kwargs=dict(experiment.model.kwargs))
    if backbone.takes_text != text:
        raise ConfigError(_kind_mismatch(experiment, "text" if text else "images", x_spec))
    rescale = experiment.data.rescale
    model = make_transfer_model(backbone, data.num_classes, recipe=ft.recipe,
                                input_shape=input_shape, input_scale=1 / rescale if rescale else 1.0)
    if RECIPE_SPECS[ft.recipe].head_first:   # fail now, not after the head's epochs
        check_unfreeze(ft.unfreeze, len(layers_with_weights(model)))
    return model


def _kind_mismatch(experiment: Experiment, data_kind: str, x_spec) -> str:
    """The one line for a text backbone on image data, or a non-text backbone on text."""
    name, backbone = experiment.data.name, experiment.finetune.backbone
    if data_kind == "text":
        return (f"dataset '{name}' gives raw strings, and finetune.backbone={backbone!r} is not a "
                "text backbone; use a keras-hub text preset (hub:bert_tiny_en_uncased, or "
                "hub:/path/to/preset saved with save_to_preset), or image data")
    return (f"finetune.backbone={backbone!r} is a text backbone (it takes raw strings), and "
            f"dataset '{name}' gives {x_spec.dtype.name} examples of shape "
            f"{tuple(x_spec.shape[1:])}; use text data (data.name='textfolder:PATH', or a TFDS "
            "text dataset such as glue/sst2) or an image backbone")
