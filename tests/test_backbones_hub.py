"""Pretrained backbones from wherever users keep them (issue 26, 1, 3, 4): keras-hub presets
(``hub:<name or directory>``), Keras 2 ``.h5`` models and weights files, and one-line errors when
weights cannot be fetched. Offline: the preset is a tiny random ResNet saved with
``save_to_preset``; the offline errors send downloads to a proxy that is not there."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli

keras_hub = pytest.importorskip("keras_hub")

EXPERIMENT = str(REPO / "experiments" / "transfer_finetune.py")
#: the smoke transfer run on RGB digits (the preset takes 3 channels) from the preset's weights
SMOKE = ["--smoke", "--set", "data.channels=3", "--set", "finetune.weights=preset",
         "--set", "trainer.deterministic=true", "--set", "trainer.verbose=0"]


def _tiny_preset(directory: Path) -> Path:
    """A ResNet of one block with an ImageNet-normalising ImageConverter, saved as a preset."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(None, None, 3))
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=(32, 32), scale=list(1 / (255 * std)), offset=list(-mean / std))
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    task = keras_hub.models.ResNetImageClassifier(backbone=backbone, num_classes=3,
                                                  preprocessor=preprocessor)
    task.save_to_preset(str(directory))
    return directory


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> Path:
    return _tiny_preset(tmp_path_factory.mktemp("hub") / "tiny_resnet")


def _kerasdl(args, cwd: Path, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "kerasdl", "run", EXPERIMENT, *SMOKE, *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=600)


def _max_difference(a: Path, b: Path) -> float:
    import kerasdl

    return max(float(np.abs(x - y).max()) for x, y in
               zip(kerasdl.load_model(a).get_weights(), kerasdl.load_model(b).get_weights()))


# === keras-hub presets, in process ===

def test_a_preset_of_a_fixed_image_size_takes_data_its_converter_resizes(tmp_path):
    """A backbone built for 32x32 images whose converter resizes to 32x32 takes 20x20 data (the
    shape is checked after the preprocessing); images of the wrong channels are still refused
    in one line, naming both shapes."""
    from kerasdl.errors import ConfigError
    from kerasdl.transfer.backbones import load_backbone
    from kerasdl.transfer.recipes import make_transfer_model

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(32, 32, 3))
    converter = keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255)
    keras_hub.models.ResNetImageClassifier(
        backbone=backbone, num_classes=3,
        preprocessor=keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    ).save_to_preset(str(tmp_path / "fixed"))
    loaded = load_backbone(f"hub:{tmp_path / 'fixed'}", input_shape=(20, 20, 3))
    model = make_transfer_model(loaded, 4, "two_phase", input_shape=(20, 20, 3), input_scale=255)
    assert model.input_shape == (None, 20, 20, 3) and model.output_shape == (None, 4)
    assert model.predict(np.zeros((2, 20, 20, 3), "float32"), verbose=0).shape == (2, 4)
    with pytest.raises(ConfigError, match=r"takes inputs of shape \(32, 32, 3\); the data have "
                       r"\(20, 20, 1\) \(\(32, 32, 1\) after its preprocessing\)"):
        make_transfer_model(loaded, 4, "two_phase", input_shape=(20, 20, 1), input_scale=255)

def test_a_hub_preset_is_a_backbone_with_its_own_preprocessing(preset):
    """hub:<dir> loads the preset's backbone; the transfer model carries its ImageConverter
    after a Rescaling that undoes the pipeline's 1/255, so [0, 1] pixels reach the backbone as
    the preset normalises [0, 255] ones."""
    import keras

    from kerasdl.transfer.backbones import load_backbone
    from kerasdl.transfer.recipes import make_transfer_model

    backbone = load_backbone(f"hub:{preset}", input_shape=(28, 28, 3))
    assert backbone.source == "hub" and "ResNetBackbone" in backbone.description
    model = make_transfer_model(backbone, 5, "two_phase", input_shape=(28, 28, 3), input_scale=255)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 3)).astype("float32")
    expected = keras_hub.layers.ImageConverter.from_preset(str(preset))(pixels)
    seen = model.get_layer("preprocess")(pixels / 255)
    assert tuple(seen.shape) == (2, 32, 32, 3)                  # resized as the preset says
    np.testing.assert_allclose(keras.ops.convert_to_numpy(seen),
                               keras.ops.convert_to_numpy(expected), atol=1e-4)
    assert not model.get_layer("backbone").trainable             # two_phase starts frozen


def test_hub_weights_none_is_random_and_a_file_loads(preset, tmp_path):
    from kerasdl.transfer.backbones import load_backbone

    pretrained = load_backbone(f"hub:{preset}", weights="imagenet").model
    random = load_backbone(f"hub:{preset}", weights=None).model
    assert any(not np.array_equal(a, b) for a, b in
               zip(pretrained.get_weights(), random.get_weights()))
    pretrained.save_weights(tmp_path / "resnet.weights.h5")
    loaded = load_backbone(f"hub:{preset}", weights=str(tmp_path / "resnet.weights.h5")).model
    assert all(np.array_equal(a, b) for a, b in zip(pretrained.get_weights(), loaded.get_weights()))


@pytest.mark.parametrize("spec, words", [
    ("hub:{tmp}/none", ["no such preset directory", "config.json"]),
    ("hub:{tmp}", ["not a keras-hub preset directory", "save_to_preset"]),
    ("hub:resnet_18_imagenett", ["unknown keras-hub preset", "resnet_18_imagenet"]),
    ("hub:", ["names no preset"]),
])
def test_a_preset_that_is_not_there_is_one_line(tmp_path, spec, words):
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    with pytest.raises(ModelError) as error:
        load_backbone(spec.format(tmp=tmp_path))
    assert "\n" not in str(error.value) and all(w in str(error.value) for w in words), error.value


def test_without_keras_hub_a_hub_backbone_says_how_to_install(monkeypatch):
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    monkeypatch.setitem(sys.modules, "keras_hub", None)          # import keras_hub fails
    with pytest.raises(ModelError, match=r'needs keras-hub .*pip install "kerasdl\[hub\]"'):
        load_backbone("hub:resnet_18_imagenet")


# === weights that cannot be fetched ===

@pytest.fixture
def offline(monkeypatch):
    """No network, also where there is one: every download goes to a proxy that is not there."""
    for key in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(key, "http://127.0.0.1:9")
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)


def test_a_preset_that_cannot_be_downloaded_names_the_offline_ways(tmp_path, monkeypatch,
                                                                   offline):
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError) as error:
        load_backbone("hub:resnet_18_imagenet")
    line = str(error.value)
    assert "\n" not in line and "could not be downloaded" in line, line
    assert "hub:/path/to/preset" in line and str(tmp_path / "cache") in line


def test_imagenet_weights_that_cannot_be_downloaded_name_the_offline_ways(tmp_path, monkeypatch,
                                                                          offline):
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(ModelError) as error:
        load_backbone("keras:MobileNetV2", input_shape=(96, 96, 3),
                      builder_kwargs={"alpha": 0.35})
    line = str(error.value)
    assert "\n" not in line and "could not be downloaded" in line, line
    assert "finetune.weights=PATH" in line and str(tmp_path / "keras" / "models") in line


# === Keras 2 .h5 models and weights files ===

def _lenet5(include_top: bool, channels: int = 1):
    from kerasdl.models.registry import build

    if include_top:
        return build("lenet5", style="functional", input_shape=(32, 32, channels), num_classes=10)
    return build("lenet5", style="functional", input_shape=(32, 32, channels), include_top=False)


def test_an_h5_model_is_a_backbone_cut_below_its_classifier(tmp_path):
    from kerasdl.transfer.backbones import load_backbone

    full = _lenet5(True)
    full.save(tmp_path / "lenet5.h5")                          # Keras 3 writes the legacy format
    backbone = load_backbone(str(tmp_path / "lenet5.h5"))
    assert backbone.source == "saved" and "cut below its classifier" in backbone.description
    assert backbone.model.layers[-1].name == full.layers[-2].name


def test_a_weights_file_given_as_a_backbone_says_where_it_goes(tmp_path):
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    _lenet5(True).save_weights(tmp_path / "lenet5.weights.h5")
    with pytest.raises(ModelError, match="not a .keras or Keras 2 .h5 model.*finetune.weights"):
        load_backbone(str(tmp_path / "lenet5.weights.h5"))


def test_a_whole_h5_model_loads_as_weights_of_a_builder_without_its_classifier(tmp_path):
    """Layer order differs (the file has the classifier): matched by name, all layers found."""
    from kerasdl.transfer.backbones import load_backbone

    full = _lenet5(True)
    full.save(tmp_path / "lenet5.h5")
    backbone = load_backbone("kerasdl:lenet5", input_shape=(32, 32, 1),
                             weights=str(tmp_path / "lenet5.h5"))
    for layer in backbone.model.layers:
        for mine, theirs in zip(layer.get_weights(), full.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)


def test_weights_that_do_not_fit_name_the_layer_and_shapes(tmp_path):
    import keras

    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    _lenet5(True).save(tmp_path / "lenet5.h5")
    with pytest.raises(ModelError) as error:                      # grey weights, RGB backbone
        load_backbone("kerasdl:lenet5", input_shape=(32, 32, 3), weights=str(tmp_path / "lenet5.h5"))
    assert "\n" not in str(error.value) and "c1" in str(error.value)
    assert "(5, 5, 3, 6)" in str(error.value) and "(5, 5, 1, 6)" in str(error.value)
    other = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(6, 5, name="c1"),
                              keras.layers.Flatten(), keras.layers.Dense(3, name="out")])
    other.save(tmp_path / "other.h5")
    with pytest.raises(ModelError, match=r"layer\(s\) c3, c5 have no weights in the file "
                                         r"\(it holds c1, out\)"):
        load_backbone("kerasdl:lenet5", input_shape=(32, 32, 1), weights=str(tmp_path / "other.h5"))


# === through the CLI (slow: each run imports TensorFlow and keras-hub) ===

@pytest.mark.slow
@pytest.mark.parametrize("recipe, options", [
    ("linear_probe", []), ("two_phase", []),
    ("linear_probe", ["--set", "finetune.cache_features=true"]),
    ("finetune_all", ["--set", "finetune.layer_lr_decay=0.5"])],
    ids=["linear_probe", "two_phase", "cache_features", "layer_lr_decay"])
def test_a_hub_preset_fine_tunes_through_the_cli_and_predicts_raw_images(preset, tmp_path,
                                                                          recipe, options):
    """The run finishes; its saved model reloads in a fresh process (keras-hub's classes
    imported by Keras) and predicts on a raw PNG, the preset's preprocessing inside it."""
    import keras

    result = _kerasdl(["--workdir", str(tmp_path / "runs"), "--set", f"finetune.recipe={recipe}",
                       "--set", f"finetune.backbone=hub:{preset}", "--set", "trainer.epochs=2",
                       "--set", "finetune.head_epochs=1", *options], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    image = np.random.default_rng(0).integers(0, 256, (40, 30, 3)).astype("uint8")
    keras.utils.save_img(tmp_path / "digit.png", image)
    predicted = run_cli("predict", str(run_dir), str(tmp_path / "digit.png"), cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "digit.png" in predicted.stdout


@pytest.mark.slow
def test_a_hub_fine_tuning_run_resumes_exactly(preset, tmp_path):
    """Killed (kill -9) while writing the backup of epoch 3, in the second phase of two_phase
    (the unfrozen preset, BatchNorm in inference mode), the resumed run ends where the
    uninterrupted one ends: the same weights, metrics and best checkpoint."""
    settings = ["--set", "finetune.recipe=two_phase", "--set", f"finetune.backbone=hub:{preset}",
                "--set", "trainer.epochs=4", "--set", "finetune.head_epochs=2"]
    whole = _kerasdl(["--workdir", str(tmp_path / "whole"), *settings], cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    (uninterrupted,) = (tmp_path / "whole").iterdir()
    killed = _kerasdl(["--workdir", str(tmp_path / "runs"), *settings], cwd=tmp_path,
                      env={"KERASDL_KILL_AT": "backup-rename:3"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    resumed = _kerasdl(["--workdir", str(tmp_path / "runs"), "--resume", "latest", *settings],
                       cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _max_difference(run_dir / "model.keras", uninterrupted / "model.keras") == 0.0
    assert _max_difference(run_dir / "checkpoints/best.keras",
                           uninterrupted / "checkpoints/best.keras") == 0.0
    assert (json.loads((run_dir / "metrics.json").read_text())
            == json.loads((uninterrupted / "metrics.json").read_text()))


KERAS2_MODEL = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tf_keras as k
m = k.Sequential([k.layers.Input((32, 32, 1)), k.layers.Conv2D(6, 5, activation="relu"),
                  k.layers.MaxPooling2D(), k.layers.BatchNormalization(), k.layers.Flatten(),
                  k.layers.Dense(16, activation="relu"), k.layers.Dense(10, activation="softmax")])
m.save(sys.argv[1])
"""


@pytest.mark.slow
def test_a_keras2_h5_model_fine_tunes_through_the_cli(tmp_path):
    """A model saved by Keras 2 (tf_keras) as .h5 is the backbone, cut below its classifier."""
    pytest.importorskip("tf_keras")
    made = subprocess.run([sys.executable, "-c", KERAS2_MODEL, str(tmp_path / "keras2.h5")],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    result = _kerasdl(["--workdir", str(tmp_path / "runs"), "--set", "data.channels=1",
                       "--set", "finetune.recipe=two_phase", "--set", "trainer.epochs=2",
                       "--set", "finetune.head_epochs=1", "--set", "finetune.weights=None",
                       "--set", f"finetune.backbone={tmp_path / 'keras2.h5'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    import kerasdl

    backbone = kerasdl.load_model(run_dir / "model.keras").get_layer("backbone").backbone
    assert "_below_" in backbone.name and backbone.output.shape[1:] == (16,)   # no classifier
