"""keras-hub presets as transfer backbones: ``finetune.backbone = "hub:<name or directory>"``.

A preset is a name (``"resnet_50_imagenet"``, or a ``kaggle://`` / ``hf://`` handle), downloaded
and cached as keras-hub does (``$KAGGLEHUB_CACHE``, default ``~/.cache/kagglehub``; Hugging Face
handles in ``$HF_HOME``), or a local preset directory (what ``save_to_preset`` writes; what an
offline machine uses). :func:`load_hub_backbone` returns the preset's backbone model
(``keras_hub.models.Backbone.from_preset``) and, where the preset has one, its image converter
(resizing and normalisation) as the preprocessing the saved transfer model carries, so a reloaded
model predicts on raw images. A text preset (an encoder such as BERT: its backbone takes
``token_ids``) comes with its text classifier preprocessor instead (the preset's tokenizer and a
packer to ``sequence_length`` tokens, ``[CLS] ... [SEP]``): the transfer model takes raw strings,
and its features are the backbone's pooled output (else its first, ``[CLS]``, token).
keras-hub is imported here only, for ``hub:`` backbones
(``pip install "kerasdl[hub]"``); a saved transfer model reloads in a fresh process because
Keras imports ``keras_hub`` modules itself when a file names their classes.

Reference:
    keras-hub, "Pretrained models" and ``Backbone.from_preset``: https://keras.io/keras_hub/
    Devlin, Chang, Lee, Toutanova. "BERT: Pre-training of Deep Bidirectional Transformers for
    Language Understanding." NAACL 2019 (classification from the pooled [CLS] output).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Optional

from kerasdl.errors import ModelError, did_you_mean

PREFIX = "hub:"
#: what a local preset directory holds (keras-hub's preset_utils.CONFIG_FILE / converter file)
PRESET_CONFIG, IMAGE_CONVERTER = "config.json", "image_converter.json"
#: a text preset's tokenizer (keras-hub's preset_utils.TOKENIZER_CONFIG_FILE)
TOKENIZER = "tokenizer.json"
INSTALL = 'pip install "kerasdl[hub]"'


def import_keras_hub():
    """``keras_hub``, or a one-line ModelError that says how to install it."""
    try:
        import keras_hub
    except ImportError as error:
        raise ModelError(f"finetune.backbone='{PREFIX}...' needs keras-hub ({error}): "
                         f"{INSTALL}") from None
    return keras_hub


def looks_like_directory(preset: str) -> bool:
    """A preset spelled as a path (``/...``, ``./...``, ``~/...``) rather than a name or handle."""
    return "://" not in preset and (os.sep in preset or preset.startswith((".", "~")))


def preset_cache() -> str:
    """Where keras-hub's downloads are cached (kagglehub's cache folder)."""
    return os.environ.get("KAGGLEHUB_CACHE", "~/.cache/kagglehub")


def load_hub_backbone(preset: str, weights: Optional[str],
                      sequence_length: Optional[int] = None):
    """The preset's backbone model, its preprocessing (or None), a description, and its kind.

    Args:
        preset: a preset name, handle, or local preset directory (without ``hub:``).
        weights: "imagenet" (the config default) or "preset": the preset's own weights; None:
            random initialisation of the preset's architecture; a path: a weights file
            (``.weights.h5`` / ``.h5``) loaded into it.
        sequence_length: a text preset's tokens per example (None: the preset's own).

    Returns:
        ``(model, preprocessing, description, text)``: for an image preset the backbone and its
        image converter; for a text preset (``text`` True) a functional model from the token
        dict to the pooled features, and the preset's ``TextClassifierPreprocessor``.
    """
    keras_hub = import_keras_hub()
    preset = _checked_preset(preset)
    if looks_like_directory(preset):
        check_preset_files(keras_hub, Path(preset))
    own_weights = weights in ("imagenet", "preset")
    model = _from_preset(keras_hub.models.Backbone, preset, load_weights=own_weights)
    text = is_text_backbone(model)
    if not text and (len(model.inputs) != 1 or len(model.inputs[0].shape) != 4):
        raise ModelError(f"hub:{preset} is a {type(model).__name__} with inputs "
                         f"{[tuple(i.shape) for i in model.inputs]}; kerasdl fine-tunes image "
                         "backbones (one input of shape (batch, height, width, channels)) and "
                         "text encoders (inputs token_ids, padding_mask, ...)")
    if not own_weights and weights is not None:
        from kerasdl.transfer.backbones import load_weights_file

        load_weights_file(model, weights, f"hub:{preset}")
    weights_text = "preset weights" if own_weights else (weights or "random weights")
    kind = type(model).__name__
    if text:
        preprocessor = _text_preprocessor(keras_hub, preset, kind, sequence_length)
        features = pooled_features(model)
        return features, preprocessor, (
            f"keras-hub text preset {preset} ({kind}, {weights_text}), "
            f"{type(preprocessor).__name__} to {preprocessor.sequence_length} tokens, features "
            f"{'pooled_output' if 'pooled' in features.name else 'the [CLS] token'} "
            f"{tuple(features.output.shape[1:])}"), True
    converter = _image_converter(keras_hub, preset)
    preprocessing = (f"the preset's {type(converter).__name__}" if converter is not None
                     else "none (the preset has no image converter)")
    return model, converter, (f"keras-hub preset {preset} ({kind}, "
                              f"{weights_text}), preprocessing {preprocessing}"), False


def is_text_backbone(model) -> bool:
    """A keras-hub text encoder: its inputs are a dict of ``token_ids`` and masks."""
    return isinstance(model.input, dict) and "token_ids" in model.input


def pooled_features(model):
    """``model`` (a text backbone) from its token dict to its pooled output.

    BERT-like backbones have a ``pooled_output`` (the [CLS] token through a tanh dense layer);
    the others (RoBERTa, DistilBERT, DeBERTa) give the first token of their sequence output, as
    keras-hub's own text classifiers do.
    """
    import keras

    outputs = model.output
    if isinstance(outputs, dict) and "pooled_output" in outputs:
        return keras.Model(model.input, outputs["pooled_output"], name=f"{model.name}_pooled")
    sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
    return keras.Model(model.input, sequence[:, 0, :], name=f"{model.name}_cls_token")


def _text_preprocessor(keras_hub, preset: str, kind: str, sequence_length: Optional[int]):
    """The preset's TextClassifierPreprocessor (its tokenizer); one-line errors where it has none."""
    if looks_like_directory(preset) and not (Path(preset) / TOKENIZER).is_file():
        found = ", ".join(sorted(p.name for p in Path(preset).iterdir()))
        raise ModelError(f"hub:{preset} is a text backbone ({kind}) without a tokenizer: no "
                         f"{TOKENIZER} (it holds: {found}); save the preset's tokenizer with it "
                         "(tokenizer.save_to_preset(directory), or a text classifier's "
                         "save_to_preset)")
    if sequence_length is not None and (isinstance(sequence_length, bool)
                                        or not isinstance(sequence_length, int)
                                        or sequence_length < 2):
        raise ModelError(f"model.kwargs.sequence_length={sequence_length!r}: a text preset needs "
                         "a whole number of tokens >= 2 ([CLS] and [SEP] included)")
    kwargs = {} if sequence_length is None else {"sequence_length": sequence_length}
    try:
        preprocessor = _from_preset(keras_hub.models.TextClassifierPreprocessor, preset, **kwargs)
    except ModelError:                       # a download that failed: already one line
        raise
    except ValueError as error:              # no TextClassifierPreprocessor for this family
        raise ModelError(f"hub:{preset} ({kind}) has no text classifier preprocessor in "
                         f"keras-hub ({_one_line(error)}); kerasdl fine-tunes "
                         "text encoders with one (BERT, RoBERTa, DistilBERT, DeBERTa, ...)") from None
    if not isinstance(preprocessor.tokenizer, keras_hub.tokenizers.Tokenizer):
        raise ModelError(f"hub:{preset}: its {TOKENIZER} holds a "
                         f"{type(preprocessor.tokenizer).__name__}, not a keras-hub tokenizer; "
                         "save the preset's own tokenizer with it (tokenizer.save_to_preset)")
    return preprocessor


def check_sequence_length(features, preprocessor, spec: str) -> None:
    """A ModelError where ``preprocessor`` packs more tokens than ``features`` embeds.

    The limit is the text backbone's PositionEmbedding layers' ``sequence_length``: a model that
    packs more builds, and fails at its first step."""
    keras_hub = import_keras_hub()
    limits = [layer.sequence_length for layer in features._flatten_layers(include_self=False)
              if isinstance(layer, keras_hub.layers.PositionEmbedding)]
    if limits and preprocessor.sequence_length > min(limits):
        raise ModelError(f"model.kwargs.sequence_length={preprocessor.sequence_length}: {spec} "
                         f"embeds at most {min(limits)} positions; set --set "
                         f"model.kwargs.sequence_length=N with 2 <= N <= {min(limits)}")


def _checked_preset(preset: str) -> str:
    if not preset:
        raise ModelError("finetune.backbone='hub:' names no preset; give a keras-hub preset name "
                         "(hub:resnet_50_imagenet) or a local preset directory (hub:/path/to/preset)")
    if not looks_like_directory(preset):
        return preset
    try:
        path = Path(preset).expanduser()
    except RuntimeError:                 # ~user of no such user
        path = Path(preset)
    if not path.is_dir():
        raise ModelError(f"hub:{preset}: no such preset directory; give a directory that "
                         "save_to_preset wrote (it holds config.json), or a preset name")
    if not (path / PRESET_CONFIG).is_file():
        found = ", ".join(sorted(p.name for p in path.iterdir())) or "nothing"
        raise ModelError(f"hub:{preset} is not a keras-hub preset directory: no {PRESET_CONFIG} "
                         f"(it holds: {found}); save one with model.save_to_preset(directory)")
    return str(path)


#: keras-hub base classes of the objects a preset's JSON files may name (file -> attribute path)
PRESET_CLASSES = {PRESET_CONFIG: ("models", "Backbone"), TOKENIZER: ("tokenizers", "Tokenizer"),
                  IMAGE_CONVERTER: ("layers", "ImageConverter")}


def check_preset_files(keras_hub, path: Path) -> None:
    """One-line ModelErrors for a preset directory whose JSON files are not what keras-hub wrote.

    Each of config.json, tokenizer.json and image_converter.json (where present) must be a JSON
    object naming a registered subclass of the keras-hub class that file holds (a Backbone, a
    Tokenizer, an ImageConverter), so a file naming any other class is refused before keras-hub
    deserializes it. config.json may instead be a Hugging Face (``model_type``) or timm
    (``architecture``) config, which keras-hub converts itself.
    """
    import json

    import keras

    for name, (module, base_name) in PRESET_CLASSES.items():
        file = path / name
        if not file.is_file():
            continue
        fix = f"save the preset again with save_to_preset (or copy its {name} whole)"
        try:
            config = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ModelError(f"hub:{path}: {name} is not JSON ({_one_line(error)}); {fix}") from None
        if name == PRESET_CONFIG and isinstance(config, dict) and (
                "registered_name" not in config and ("model_type" in config
                                                     or "architecture" in config)):
            continue
        registered = config.get("registered_name") if isinstance(config, dict) else None
        if not isinstance(registered, str) or not isinstance(config.get("config"), dict):
            raise ModelError(f"hub:{path}: {name} is not a serialized keras-hub object (a JSON "
                             "object with 'registered_name' and a 'config' object); " + fix)
        base = getattr(getattr(keras_hub, module), base_name)
        found = keras.saving.get_registered_object(registered)
        if not (isinstance(found, type) and issubclass(found, base)):
            raise ModelError(f"hub:{path}: {name} names {registered!r}, not a keras-hub "
                             f"{base_name} (keras_hub.{module}.{base_name}); {fix}")


def _one_line(error: BaseException, limit: int = 200) -> str:
    return " ".join(str(error).split())[:limit]


def _from_preset(cls, preset: str, **kwargs) -> Any:
    """``cls.from_preset(preset)``; unknown names, failed downloads, broken directories: one line.

    A ValueError saying keras-hub has no such class for the preset's family, and the
    FileNotFoundError of a named preset's download, pass through to the caller."""
    local = looks_like_directory(preset)
    try:
        return cls.from_preset(preset, **kwargs)
    except ValueError as error:
        if "Unable to find a subclass" in str(error):      # no such task class for this family
            raise
        if local:
            raise ModelError(_broken_preset(preset, cls, error)) from None
        if "Unknown preset identifier" not in str(error):
            raise
        names = sorted(cls.presets)
        raise ModelError(f"hub:{preset}: unknown keras-hub preset{did_you_mean(preset, names)}; "
                         "give a preset name (keras_hub.models.Backbone.presets), a kaggle:// or "
                         "hf:// handle, or a local preset directory (hub:/path/to/preset)") from None
    except FileNotFoundError as error:                   # a file the preset lacks
        if local:
            raise ModelError(_broken_preset(preset, cls, error)) from None
        raise
    except (OSError, ConnectionError) as error:          # requests' errors are OSErrors
        if local:
            raise ModelError(_broken_preset(preset, cls, error)) from None
        raise ModelError(no_preset_download(preset, error)) from None
    except Exception as error:                           # kagglehub's own errors
        if local and isinstance(error, (TypeError, KeyError, AttributeError, IndexError)):
            raise ModelError(_broken_preset(preset, cls, error)) from None
        if type(error).__module__.split(".")[0] not in ("kagglehub", "requests", "urllib3",
                                                        "huggingface_hub"):
            raise
        raise ModelError(no_preset_download(preset, error)) from None


def _broken_preset(preset: str, cls, error: BaseException) -> str:
    """The one line for a local preset directory keras-hub could not load."""
    return (f"hub:{preset}: keras-hub could not load its {cls.__name__} ({type(error).__name__}: "
            f"{_one_line(error)}); the preset directory is incomplete or corrupt: save it again "
            "with save_to_preset, or copy the whole folder (config.json, tokenizer.json, "
            "model.weights.h5, assets/)")


def no_preset_download(preset: str, error: BaseException) -> str:
    """The one line for a preset that could not be fetched (offline, a proxy, no such handle)."""
    host = re.search(r"host='([^']+)'", str(error))
    cause = (f"{type(error).__name__} reaching {host.group(1)}" if host else
             f"{type(error).__name__}: {' '.join(str(error).split())[:150]}")
    return (f"keras-hub preset '{preset}' could not be downloaded ({cause}): on an offline "
            "machine give a local preset directory (--set finetune.backbone=hub:/path/to/preset, "
            "saved with save_to_preset or copied from a connected machine), or place the download "
            f"in the cache folder {preset_cache()} (KAGGLEHUB_CACHE)")


def _image_converter(keras_hub, preset: str):
    """The preset's ImageConverter, or None where it has none (a backbone-only preset)."""
    if looks_like_directory(preset) and not (Path(preset) / IMAGE_CONVERTER).is_file():
        return None
    try:
        return _from_preset(keras_hub.layers.ImageConverter, preset)
    except FileNotFoundError:
        return None
