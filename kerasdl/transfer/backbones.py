"""Backbones for transfer learning: keras.applications, keras-hub presets, kerasdl builders, saved models.

:func:`load_backbone` takes one string and returns a :class:`Backbone` (a functional
``keras.Model`` without a classifier, and the preprocessing its weights expect):

* ``"keras:<Name>"``: any ``keras.applications`` model (``ResNet50``, ``VGG16``, ``MobileNetV2``,
  ``EfficientNetB0``, ...) built with ``include_top=False``. ``weights="imagenet"`` goes through
  Keras's own download path (``keras.utils.get_file``, cached in ``$KERAS_HOME/models``, default
  ``~/.keras/models``, so an offline machine uses a file placed there); a file path loads that
  file (``.weights.h5``, or the legacy ``.h5`` that Keras downloads); ``None`` is random.
  Its preprocessing is ``keras.applications.<family>.preprocess_input`` (:data:`APPLICATIONS`).
* ``"hub:<preset>"``: a keras-hub preset by name (downloaded and cached as keras-hub does) or a
  local preset directory, with the preset's image converter as its preprocessing; a text preset
  (BERT, ...) with its tokenizer, to ``builder_kwargs["sequence_length"]`` tokens
  (:mod:`kerasdl.transfer.hub`; ``pip install "kerasdl[hub]"``).
* ``"kerasdl:<name>"``: a kerasdl builder with ``include_top=False`` (random, or ``weights`` =
  a ``.weights.h5`` file). kerasdl models take the pipeline's inputs as they are.
* a path: a ``.keras`` file (e.g. ``saved_models/lenet5.keras``), a Keras 2 ``.h5`` model, or a
  run directory (its ``model.keras``), cut at ``cut_at`` (a layer name); by default just below
  its classifier (the input of its last layer with weights). A missing ``saved_models/<name>.keras`` that
  ``experiments/<name>.py`` publishes is an error that says to run that experiment first.

Weights files (``finetune.weights``) load with :func:`load_weights_file`: a ``.weights.h5``, or a
Keras 2 ``.h5`` (weights or whole model, matched by layer order, else by layer name, so a file
with a classifier fits the backbone without one); a file that does not fit names the layer.

Any backbone may be cut at a named layer (``cut_at``), the "cut the backbone at an earlier
layer" of the small-data, different-domain recipe: lower layers hold more general features.

Reference:
    Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural networks?"
    NIPS 2014 (features go from general to specific with depth).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from kerasdl.errors import ModelError, UnsafeModelFile, did_you_mean, unknown_name

#: keras.applications model name -> its module (which holds its ``preprocess_input``)
APPLICATIONS: dict[str, str] = {
    **{f"ConvNeXt{size}": "convnext" for size in ("Tiny", "Small", "Base", "Large", "XLarge")},
    **{f"DenseNet{depth}": "densenet" for depth in (121, 169, 201)},
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2{v}": "efficientnet_v2" for v in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    "InceptionResNetV2": "inception_resnet_v2",
    "InceptionV3": "inception_v3",
    "MobileNet": "mobilenet",
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3",
    "MobileNetV3Large": "mobilenet_v3",
    "NASNetMobile": "nasnet",
    "NASNetLarge": "nasnet",
    **{f"ResNet{depth}": "resnet" for depth in (50, 101, 152)},
    **{f"ResNet{depth}V2": "resnet_v2" for depth in (50, 101, 152)},
    "VGG16": "vgg16",
    "VGG19": "vgg19",
    "Xception": "xception",
}

SOURCES = ("keras", "hub", "kerasdl", "saved")
#: suffixes of the model files a backbone path may name (Keras 3 zip, Keras 2 HDF5)
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass
class Backbone:
    """A feature extractor and what its weights expect.

    Attributes:
        model: a functional ``keras.Model`` from the image to the features (no classifier).
        source: one of :data:`SOURCES`.
        family: the ``keras.applications`` module whose ``preprocess_input`` the weights expect
            (``None``: the inputs are used as the pipeline gives them).
        description: what was loaded, for logs and reports.
        converter: a keras-hub preset's ImageConverter (resizing, normalisation of [0, 255]
            pixels), the preprocessing of a ``hub:`` backbone; None for the others.
        text_preprocessor: a keras-hub text preset's TextClassifierPreprocessor (raw strings to
            its token dict); the backbone then takes text. None for the others.
    """

    model: Any
    source: str
    family: Optional[str]
    description: str
    converter: Any = None
    text_preprocessor: Any = None

    @property
    def takes_text(self) -> bool:
        """Whether the backbone's inputs are raw strings (a keras-hub text preset)."""
        return self.text_preprocessor is not None

    def preprocessing(self, input_scale: float = 1.0):
        """The preprocessing layer the weights expect (``None`` where there is none)."""
        import keras

        if self.text_preprocessor is not None:
            from kerasdl.layers.transfer import TextPreprocessing
            from kerasdl.transfer.hub import check_sequence_length

            check_sequence_length(self.model, self.text_preprocessor, self.description.split(" (")[0])

            return TextPreprocessing(self.text_preprocessor, name="preprocess")
        if self.converter is not None:          # Rescaling undoes the pipeline's rescale first
            scale = [keras.layers.Rescaling(input_scale)] if input_scale != 1.0 else []
            return keras.Sequential([*scale, self.converter], name="preprocess")
        if self.family is None:
            return None
        from kerasdl.layers.transfer import ApplicationPreprocessing

        return ApplicationPreprocessing(self.family, input_scale=input_scale, name="preprocess")


def load_backbone(spec: str, input_shape: Optional[Sequence[int]] = None,
                  weights: Optional[str] = "imagenet", cut_at: Optional[str] = None,
                  builder_kwargs: Optional[dict[str, Any]] = None) -> Backbone:
    """Load the backbone ``spec`` names; see the module docstring for the three forms.

    Args:
        spec: ``"keras:ResNet50"``, ``"hub:resnet_50_imagenet"``, ``"kerasdl:resnet18"``, or a
            ``.keras`` / ``.h5`` model file or a run directory.
        input_shape: ``(H, W, C)`` of the images (keras: and kerasdl: backbones; a saved model
            has its own).
        weights: keras: "imagenet", a weights file or None; hub: "imagenet" (or "preset": the
            preset's own), a weights file or None; kerasdl: None or a weights file; saved
            models keep their weights ("imagenet", the config default, and None are accepted
            and ignored).
        cut_at: name of the layer whose output are the features; None: the whole backbone
            (a saved model: just below its classifier).
        builder_kwargs: more arguments of the application or builder (e.g. ``{"alpha": 0.35}``);
            a hub: text preset reads ``sequence_length`` only (tokens per example).
    """
    builder_kwargs = dict(builder_kwargs or {})
    if spec.startswith("keras:"):
        backbone = _keras_application(spec[len("keras:"):], input_shape, weights, builder_kwargs)
    elif spec.startswith("hub:"):
        backbone = _hub_preset(spec[len("hub:"):], weights, builder_kwargs.get("sequence_length"))
    elif spec.startswith("kerasdl:"):
        backbone = _kerasdl_builder(spec[len("kerasdl:"):], input_shape, weights, builder_kwargs)
    else:
        backbone = _saved_model(spec, weights)
    if cut_at is not None and backbone.takes_text:
        raise ModelError(f"finetune.cut_at={cut_at!r} applies to image backbones; the features of "
                         f"the text backbone {spec} are its pooled [CLS] output: set "
                         "finetune.cut_at=None (and a recipe other than cut_and_probe)")
    if cut_at is not None or backbone.source == "saved":
        model = cut(backbone.model, cut_at, spec)
        where = f"cut at '{cut_at}'" if cut_at else "cut below its classifier"
        backbone = Backbone(model, backbone.source, backbone.family,
                            f"{backbone.description}, {where}: features {tuple(model.output.shape[1:])}",
                            backbone.converter)
    return backbone


def _keras_application(name: str, input_shape, weights, builder_kwargs) -> Backbone:
    import keras

    if name not in APPLICATIONS:
        raise ModelError(unknown_name("keras.applications model", name, APPLICATIONS,
                                      "finetune.backbone") + " (spell it as keras:<Name>)")
    if weights not in (None, "imagenet"):
        require_weights_file(weights)             # before building the model
    if weights == "imagenet" and input_shape is not None and input_shape[-1] != 3:
        raise ModelError(f"keras:{name} with ImageNet weights needs 3-channel (RGB) images; the "
                         f"data have shape {tuple(input_shape)}: set data.channels=3 (grey images "
                         "are repeated to RGB)")
    for reserved in ("include_top", "weights", "input_shape"):
        if reserved in builder_kwargs:
            raise ModelError(f"'{reserved}' is set by kerasdl.transfer for keras:{name}; remove it "
                             "from model.kwargs")
    application = getattr(keras.applications, name)
    try:
        model = application(include_top=False, weights=weights if weights == "imagenet" else None,
                            input_shape=tuple(input_shape) if input_shape else None,
                            **builder_kwargs)
    except (ValueError, TypeError) as error:
        raise ModelError(f"keras.applications.{name}(include_top=False, weights={weights!r}, "
                         f"input_shape={input_shape}) failed: {error}") from error
    except Exception as error:                  # Keras' get_file raises a bare Exception
        if "URL fetch failure" not in str(error):
            raise
        raise ModelError(_no_download(name, str(error))) from None
    if weights not in (None, "imagenet"):
        load_weights_file(model, weights, f"keras:{name}")
    weights_text = {None: "random weights", "imagenet": "ImageNet weights"}.get(weights, weights)
    return Backbone(model, "keras", APPLICATIONS[name],
                    f"keras.applications.{name} ({weights_text}), preprocessing "
                    f"keras.applications.{APPLICATIONS[name]}.preprocess_input")


def _kerasdl_builder(name: str, input_shape, weights, builder_kwargs) -> Backbone:
    from kerasdl.models.registry import build

    if weights == "imagenet":
        raise ModelError(f"kerasdl:{name} has no ImageNet weights; set finetune.weights=None "
                         "(random initialisation) or to a .weights.h5 file, or use a "
                         "keras.applications backbone such as 'keras:ResNet50'")
    kwargs = {k: v for k, v in builder_kwargs.items() if k not in ("num_classes", "include_top")}
    kwargs.update(include_top=False, pooling=kwargs.get("pooling"))
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    model = build(name, style="functional", **kwargs)
    if weights is not None:
        load_weights_file(model, weights, f"kerasdl:{name}")
    return Backbone(model, "kerasdl", None,
                    f"kerasdl '{name}' ({'random weights' if weights is None else weights})")


def _saved_model(spec: str, weights) -> Backbone:
    from kerasdl.loading import load_model
    from kerasdl.rundir import MODEL, RunDir

    path = Path(spec)
    if path.is_dir():
        model_path = RunDir(path).file(MODEL)
        if not model_path.is_file():
            found = sorted(p.name for p in path.iterdir())
            raise ModelError(f"run directory {path} has no model.keras (it holds: "
                             f"{', '.join(found) or 'nothing'}); give the .keras file itself or "
                             "a finished run directory")
        path = model_path
    elif not path.is_file():
        producer = producing_experiment(path)
        if producer is not None:
            raise ModelError(f"backbone '{spec}' not found: no such file. A run of {producer[0]} "
                             f"publishes it; run that experiment first: {producer[1]}")
        kind = "keras.applications model" if spec[:1].isupper() else "file"
        hint = (f"; did you mean 'keras:{spec}'?" if spec in APPLICATIONS else "")
        raise ModelError(f"backbone '{spec}' not found: no such {kind}{hint}. A backbone is "
                         "'keras:<Name>' (keras.applications), 'hub:<preset>' (keras-hub), "
                         "'kerasdl:<name>' (a kerasdl builder), or a path to a .keras or .h5 "
                         "model file or a run directory")
    elif path.suffix not in MODEL_SUFFIXES or is_weights_file(path):
        raise ModelError(f"backbone file {path} is not a .keras or Keras 2 .h5 model; save models "
                         "with model.save('x.keras') (weights files go in finetune.weights, with "
                         "a keras:, hub: or kerasdl: backbone of the same architecture)")
    if weights not in (None, "imagenet"):
        raise ModelError(f"finetune.weights={weights!r} applies to keras:, hub: and kerasdl: backbones; "
                         f"the saved model {path} has its own weights (set finetune.weights=None)")
    try:
        model = load_model(path, compile=False)
    except UnsafeModelFile:
        raise ModelError(f"backbone file {path} holds code (e.g. a Lambda layer) that safe mode "
                         "will not load, and a run never loads a backbone unsafely; replace the "
                         "Lambda with a layer class registered with "
                         "keras.saving.register_keras_serializable and save it again") from None
    return Backbone(model, "saved", None, f"saved model {path} ({model.name})")


def producing_experiment(path: Path) -> Optional[tuple[Path, str]]:
    """The experiment whose run publishes the model file ``path``, and the command that runs it.

    A run publishes ``<output.saved_models_dir>/<experiment name>.keras`` under the directory it
    runs in. For ``<dir>/<name>.keras`` the experiment is looked for as ``experiments/<name>.py``
    in the working directory and in the parent of ``<dir>`` (the project of an absolute path),
    and counts only if, run from there, it publishes exactly ``path``. Returns ``(experiment
    file, command)`` or None. Loading the experiment imports no TensorFlow.
    """
    from kerasdl.errors import KerasdlError
    from kerasdl.experiment import EXPERIMENTS_DIR, load_experiment

    path = Path(path)
    if path.suffix != ".keras":
        return None
    here = Path.cwd().resolve()
    for root in dict.fromkeys([here, path.parent.parent.resolve()]):
        candidate = root / EXPERIMENTS_DIR / f"{path.stem}.py"
        if not candidate.is_file():
            continue
        try:
            experiment = load_experiment(candidate)
        except KerasdlError:
            continue
        published = root / experiment.output.saved_models_dir / f"{experiment.name}.keras"
        if published.resolve() != path.resolve():
            continue
        relative = EXPERIMENTS_DIR / candidate.name
        command = f"python -m kerasdl run {relative}"
        return (relative, command) if root == here else (candidate, f"cd {root} && {command}")
    return None


def _no_download(name: str, error: str) -> str:
    """The one line for ImageNet weights that Keras could not download (offline, a proxy)."""
    import re

    url = re.search(r"URL fetch failure on (\S+?):? ", error)
    file = url.group(1).rsplit("/", 1)[-1] if url else f"the {name} weights file"
    cause = error.split(" -- ", 1)[-1].strip() if " -- " in error else ""
    models = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "models"   # Keras' cache
    return (f"keras:{name}'s ImageNet weights could not be downloaded"
            f"{f' ({cause})' if cause else ''}: set --set finetune.weights=None (random "
            f"initialisation), or --set finetune.weights=PATH to a local weights file, or place "
            f"{file} (from {url.group(1) if url else 'keras.applications'}) in {models}/")


def _hub_preset(preset: str, weights, sequence_length: Optional[int]) -> Backbone:
    from kerasdl.transfer.hub import load_hub_backbone

    model, preprocessing, description, text = load_hub_backbone(preset, weights, sequence_length)
    if text:
        return Backbone(model, "hub", None, description, text_preprocessor=preprocessing)
    return Backbone(model, "hub", None, description, preprocessing)


def is_weights_file(path: Path) -> bool:
    """A ``.weights.h5`` file, or a Keras 2 ``.h5`` that holds weights but no model config."""
    if path.name.endswith(".weights.h5"):
        return True
    if path.suffix not in (".h5", ".hdf5"):
        return False
    import h5py

    with h5py.File(path, "r") as handle:
        return "model_config" not in handle.attrs


def load_weights_file(model, path: str, where: str) -> None:
    """Load the weights file ``path`` (``finetune.weights``) into the backbone ``model``.

    A ``.weights.h5`` loads as Keras saved it. A Keras 2 ``.h5`` (weights or whole model) loads
    by layer order, and where the layers differ (a file with a classifier, a backbone without
    one) by layer name, every layer of ``model`` with weights then needing one in the file.
    A file that does not fit is a ModelError naming the layer (or shapes) and ``where``.
    """
    require_weights_file(path)
    try:
        model.load_weights(str(path))
        return
    except ValueError as error:
        if str(path).endswith(".weights.h5") or "Layer count mismatch" not in str(error):
            raise ModelError(_misfit(path, where, str(error))) from None
    in_file = _h5_layer_names(path)
    missing = [layer.name for layer in model.layers if layer.weights and layer.name not in in_file]
    if missing:
        raise ModelError(_misfit(path, where, f"its layer(s) {', '.join(missing)} have no weights "
                                              f"in the file (it holds {', '.join(in_file) or 'none'})"))
    try:
        model.load_weights(str(path), by_name=True)
    except ValueError as error:
        raise ModelError(_misfit(path, where, str(error))) from None


def _misfit(path: str, where: str, detail: str) -> str:
    """The one line for a weights file that does not fit the backbone."""
    detail = " ".join(detail.split())[:400]
    return (f"finetune.weights={path} does not fit {where}: {detail}; give weights saved from "
            "the same architecture (and input channels)")


def require_weights_file(path: str) -> None:
    """A ModelError unless ``finetune.weights`` names an existing file."""
    if not os.path.isfile(str(path)):
        raise ModelError(f"finetune.weights={path!r}: no such file; expected 'imagenet', None or "
                         "a weights file (.weights.h5, or a Keras 2 .h5 model or weights file)")


def _h5_layer_names(path: str) -> list[str]:
    """The layer names a Keras 2 ``.h5`` weights or model file holds weights for."""
    import h5py

    with h5py.File(path, "r") as handle:
        group = handle["model_weights"] if "model_weights" in handle else handle
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("layer_names", [])]
        return [n for n in names if len(group[n].attrs.get("weight_names", []))]


def cut(model, layer_name: Optional[str], where: str = "the backbone"):
    """A functional model from ``model``'s input to the output of its layer ``layer_name``.

    ``layer_name=None`` cuts just below the classifier: the features are the input of the last
    layer that has weights. Works for functional, Sequential and kerasdl subclassed (chain)
    models; the layers (and their weights) are shared with ``model``.
    """
    import keras

    chain = getattr(model, "chain", None)
    layers = list(chain) if chain is not None else [
        layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    names = [layer.name for layer in layers]
    if layer_name is None:
        with_weights = [i for i, layer in enumerate(layers) if layer.weights]
        if not with_weights or with_weights[-1] == 0:
            raise ModelError(f"{where} has no layers with weights below a classifier to cut at; "
                             f"set finetune.cut_at to one of its layers: {', '.join(names)}")
        classifier = layers[with_weights[-1]]
        index = with_weights[-1] - 1
        name = f"{model.name}_below_{classifier.name}"
    elif layer_name not in names:
        raise ModelError(f"no layer '{layer_name}' in {where}{did_you_mean(layer_name, names)}; "
                         f"its layers: {', '.join(names)}")
    else:
        classifier = None
        index = names.index(layer_name)
        name = f"{model.name}_to_{layer_name}"
    if chain is not None:                     # a subclassed chain: re-apply its layers
        inputs = keras.Input(tuple(model.declared_input_shape), name="input")
        x = inputs
        for layer in layers[:index + 1]:
            x = layer(x)
        return keras.Model(inputs, x, name=name)
    features = classifier.input if classifier is not None else layers[index].output
    return keras.Model(model.inputs, features, name=name)
