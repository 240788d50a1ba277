"""Transfer learning (kerasdl/transfer): backbones, recipes, freezing, discriminative learning
rates, cached features, saving; real TensorFlow on small models and real (embedded) data.

The offline demonstration (pretrain on digits 0-4, transfer to 5-9) is tests/test_transfer_demo.py.
"""
from __future__ import annotations

import re
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasdl.config import Callbacks, Data, Experiment, Finetune, Output, Trainer
from kerasdl.errors import ConfigError, ModelError

from conftest import REPO, run_python

LR = 0.01


@keras.saving.register_keras_serializable(package="test_transfer")
class ExampleCounter(keras.layers.Layer):
    """The identity, counting the examples that pass through it."""

    def build(self, input_shape):
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

    def call(self, inputs):
        self.seen.assign_add(keras.ops.cast(keras.ops.shape(inputs)[0], "float32"))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


# === Helpers: a small pretrained-like backbone with BatchNorm and Dropout, digits data ===

def _digits(batch_size: int = 32, limit: int = 480, shuffle: bool = True):
    """sklearn's 8x8 digits as a data bundle (train, validation, test), pixels in [0, 1]; the
    training split reshuffled at every iteration (``shuffle``) or always in the same order."""
    import tensorflow as tf

    from kerasdl.data.embedded import load_digits

    digits = load_digits(0)
    x = digits.x_train[:limit].astype("float32") / 255
    y = digits.y_train[:limit]
    n_val = len(x) // 4

    def batched(features, labels, shuffle=False):
        ds = tf.data.Dataset.from_tensor_slices((features, labels))
        if shuffle:
            ds = ds.shuffle(len(features), seed=0, reshuffle_each_iteration=True)
        return ds.batch(batch_size)

    return types.SimpleNamespace(
        train=batched(x[n_val:], y[n_val:], shuffle=shuffle),
        validation=batched(x[:n_val], y[:n_val]),
        test=batched(digits.x_test.astype("float32") / 255, digits.y_test),
        num_classes=10, counts={"train": len(x) - n_val, "validation": n_val})


def _pretrained_file(tmp_path, seed: int = 1):
    """A conv net with BatchNorm, Dropout and a classifier, saved as .keras (the saved-model path).

    Its BatchNorm moving statistics are set away from their initial 0/1, as a trained net's are.
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(8, 3, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(8, 3, name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="pretrained")
    rng = np.random.default_rng(seed)
    for name in ("bn1", "bn2"):
        layer = model.get_layer(name)
        layer.moving_mean.assign(rng.normal(0.0, 0.05, 8).astype("float32"))
        layer.moving_variance.assign(rng.uniform(0.05, 0.2, 8).astype("float32"))
        layer.beta.assign(np.full(8, 0.2, "float32"))
    path = tmp_path / "pretrained.keras"
    model.save(path)
    return path


def _experiment(tmp_path, backbone, epochs: int = 3, **finetune) -> Experiment:
    return Experiment(
        name="transfer_test",
        data=Data(name="digits", source="embedded", batch_size=32, validation_fraction=0.25),
        trainer=Trainer(optimizer="adam", learning_rate=LR, epochs=epochs, verbose=0),
        callbacks=Callbacks(monitor="val_loss"),
        output=Output(runs_dir=str(tmp_path / "runs"), saved_models_dir=str(tmp_path / "sm")),
        finetune=Finetune(backbone=str(backbone), weights=None, **finetune))


class CompileRecorder:
    """A runner-like ``compile_fn(model, learning_rate)`` that records every compile."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, learning_rate):
        import keras

        model.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"],
                      loss="sparse_categorical_crossentropy")
        self.calls.append({"model": model, "learning_rate": learning_rate,
                           "optimizer": model.optimizer,
                           "trainable": [w.path for w in model.trainable_weights]})


def _weights(model) -> dict[str, np.ndarray]:
    return {w.path: np.array(w.numpy()) for w in model.weights}


def _fit(experiment, model, data, compile_fn=None, callbacks=()):
    """The experiment's phases, fit by the runner's phase loop (as a run fits them)."""
    from kerasdl.callbacks import LearningRateLogger
    from kerasdl.training import fit_phases
    from kerasdl.transfer.recipes import RecipeWork, experiment_phases

    return fit_phases(model, experiment_phases(experiment), data.train, data.validation,
                      [LearningRateLogger(), *callbacks],
                      compile_phase=compile_fn or CompileRecorder(),
                      fit_kwargs={"verbose": 0, "shuffle": False},
                      work=RecipeWork(experiment.data.batch_size, experiment.data.shuffle_seed))


# === Freezing and BatchNorm ===

@pytest.mark.parametrize("recipe", ["linear_probe", "two_phase"])
def test_frozen_backbone_weights_and_batchnorm_statistics_are_bit_identical(tmp_path, recipe):
    """Head training (linear_probe; two_phase's phase 1) leaves every backbone variable as it was:
    kernels, BatchNorm gamma/beta and BatchNorm moving statistics, bit for bit."""
    from kerasdl.transfer import backbone_of, build_transfer_model

    data = _digits()
    experiment = _experiment(tmp_path, _pretrained_file(tmp_path), epochs=3, recipe=recipe,
                             head_epochs=3)
    model = build_transfer_model(experiment, data)
    backbone_before = _weights(backbone_of(model))
    head_before = [np.array(w) for w in model.get_layer("classifier").get_weights()]
    history = _fit(experiment, model, data)

    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    after = _weights(backbone_of(model))
    assert set(after) == set(backbone_before) and any("moving_mean" in k for k in after)
    for path, value in backbone_before.items():
        np.testing.assert_array_equal(after[path], value, err_msg=path)
    assert not np.array_equal(model.get_layer("classifier").get_weights()[0], head_before[0])


@pytest.mark.parametrize("recipe, inference", [("linear_probe", True), ("finetune_all", True),
                                               ("two_phase", True), ("retrain_all", False)])
def test_backbone_runs_in_inference_mode_even_when_the_model_trains(tmp_path, recipe, inference):
    """Keras 3 overrides ``base(x, training=False)`` with the outer mode; FrozenMode pins it, so
    training-mode outputs (BatchNorm on moving statistics, Dropout off) equal inference ones."""
    import keras

    from kerasdl.transfer import build_transfer_model

    data = _digits()
    model = build_transfer_model(_experiment(tmp_path, _pretrained_file(tmp_path), recipe=recipe),
                                 data)
    x = next(iter(data.train))[0]
    keras.utils.set_random_seed(0)
    same = np.allclose(model(x, training=True), model(x, training=False), atol=1e-6)
    assert same == inference


def test_two_phase_unfreezes_exactly_the_top_layers_and_recompiles(tmp_path):
    """Phase 2 trains conv2 and bn2 (the top 2 layers with weights) and nothing below, keeps the
    BatchNorm statistics, and runs on a newly compiled optimizer at second_learning_rate."""
    from kerasdl.transfer import backbone_of, build_transfer_model

    data = _digits()
    experiment = _experiment(tmp_path, _pretrained_file(tmp_path), epochs=3, recipe="two_phase",
                             head_epochs=1, unfreeze=2, second_learning_rate=0.004)
    model = build_transfer_model(experiment, data)
    before = _weights(backbone_of(model))
    recorder = CompileRecorder()
    history = _fit(experiment, model, data, recorder)
    after = _weights(backbone_of(model))

    changed = {path for path in before if not np.array_equal(before[path], after[path])}
    assert changed == {"conv2/kernel", "conv2/bias", "bn2/gamma", "bn2/beta"}
    phase1, phase2 = recorder.calls
    assert phase1["learning_rate"] == LR and phase2["learning_rate"] == 0.004
    assert phase1["trainable"] == ["classifier/kernel", "classifier/bias"]
    assert sorted(phase2["trainable"]) == sorted(["classifier/kernel", "classifier/bias",
                                                  "conv2/kernel", "conv2/bias", "bn2/gamma",
                                                  "bn2/beta"])
    assert model.optimizer is phase2["optimizer"] and phase2["optimizer"] is not phase1["optimizer"]
    assert int(phase2["optimizer"].iterations.numpy()) > 0        # phase 2 trained on it
    np.testing.assert_allclose(history["learning_rate"], [LR, 0.004, 0.004], rtol=1e-6)
    assert len(history["val_loss"]) == 3


def test_unfreeze_all_and_plan_of_phases():
    from kerasdl.transfer import plan_phases

    two = plan_phases("two_phase", epochs=10, learning_rate=1e-3, head_epochs=4, unfreeze=3)
    assert [(p.name, p.epochs, p.learning_rate, p.unfreeze) for p in two] == [
        ("head", 4, 1e-3, None), ("top 3", 6, 1e-4, 3)]
    assert [p.name for p in plan_phases("two_phase", epochs=3, learning_rate=1e-3,
                                        head_epochs=5)] == ["head"]
    assert plan_phases("finetune_all", 5, 1e-3, second_learning_rate=5e-5)[0].learning_rate == 5e-5
    assert plan_phases("retrain_all", 5, 1e-3)[0].learning_rate == 1e-3


# === Discriminative learning rates ===

def test_discriminative_learning_rates_give_measured_step_ratios(tmp_path, capsys):
    """One Adam step with layer_lr_decay=0.5 against the same step without: the update of the
    k-th backbone layer from the top is 0.5**k times as large (the head's unchanged).

    Adam's step does not depend on the gradient's scale, so scaling gradients could not pass."""
    import keras
    import tensorflow as tf

    from kerasdl.transfer import LayerwiseLearningRate, build_transfer_model

    data = _digits()
    batch = next(iter(data.train))
    one_batch = types.SimpleNamespace(train=tf.data.Dataset.from_tensors(batch), validation=None,
                                      num_classes=10)
    steps = {}
    for decay in (None, 0.5):
        experiment = _experiment(tmp_path, _pretrained_file(tmp_path), epochs=1,
                                 recipe="finetune_all", second_learning_rate=LR,
                                 layer_lr_decay=decay)
        keras.utils.set_random_seed(0)
        model = build_transfer_model(experiment, one_batch)
        before = {w.path: w.numpy().copy() for w in model.trainable_weights}
        _fit(experiment, model, one_batch)
        assert isinstance(model.optimizer, LayerwiseLearningRate) == (decay is not None)
        steps[decay] = {w.path: w.numpy() - before[w.path] for w in model.trainable_weights}

    expected = {"classifier": 1.0, "bn2": 0.5, "conv2": 0.25, "bn1": 0.125, "conv1": 0.0625}
    measured = {}
    for path, plain in steps[None].items():
        big = np.abs(plain) > 1e-3 * LR                    # elements that did move
        measured[path] = float(np.median(steps[0.5][path][big] / plain[big]))
    with capsys.disabled():
        print("\nmeasured update ratio (layer_lr_decay=0.5 / none): "
              + ", ".join(f"{p} {r:.6f}" for p, r in measured.items()))
    for path, ratio in measured.items():
        assert ratio == pytest.approx(expected[path.split("/")[0]], rel=2e-3), path
    magnitude = {p: float(np.abs(s).mean()) for p, s in steps[None].items()}
    assert max(magnitude.values()) < 3 * min(magnitude.values())   # Adam: ~LR everywhere


def test_layerwise_optimizer_matches_a_smaller_learning_rate_exactly():
    """SGD with momentum, 3 steps: a variable with multiplier 0.25 follows exactly the path of
    the same optimizer at a quarter of the learning rate."""
    import keras

    from kerasdl.transfer import LayerwiseLearningRate

    grads = [np.array([0.3, -1.2, 2.0], "float32"), np.array([1.5, 0.1, -0.7], "float32"),
             np.array([-0.2, 0.4, 0.9], "float32")]
    wrapped_var = keras.Variable(np.ones(3, "float32"), name="w")
    reference_var = keras.Variable(np.ones(3, "float32"), name="r")
    wrapped = LayerwiseLearningRate(keras.optimizers.SGD(0.1, momentum=0.9), {wrapped_var.path: 0.25})
    reference = keras.optimizers.SGD(0.025, momentum=0.9)
    for g in grads:
        wrapped.apply([g], [wrapped_var])
        reference.apply([g], [reference_var])
    np.testing.assert_allclose(wrapped_var.numpy(), reference_var.numpy(), rtol=1e-6)
    config = keras.saving.serialize_keras_object(wrapped)
    again = keras.saving.deserialize_keras_object(config)
    assert again.multipliers == {wrapped_var.path: 0.25} and float(again.learning_rate) == \
        pytest.approx(0.1)


# === Cached features ===

def test_cached_features_run_the_backbone_once_and_the_whole_model_saves(tmp_path):
    """cache_features: the backbone sees each training and validation example exactly once
    (an example counter inside it says so); the head trains on the cached features; kerasdl's
    best checkpoint saves the whole model; the whole model carries the trained head."""
    import keras

    from kerasdl.callbacks import BestCheckpoint, NaNGuard
    from kerasdl.transfer import Backbone, make_transfer_model, train_recipe

    data = _digits()
    counter = ExampleCounter(name="counter")
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv")(counter(inputs))
    backbone = Backbone(keras.Model(inputs, x, name="counted"), "saved", None, "counted test net")
    model = make_transfer_model(backbone, 10, recipe="linear_probe")
    guard = NaNGuard()
    checkpoint = BestCheckpoint(tmp_path / "best.keras", monitor="val_loss", mode="min", guard=guard)
    history = train_recipe(model, data.train, data.validation, recipe="linear_probe", epochs=8,
                           learning_rate=LR, cache_features=True, callbacks=[guard, checkpoint],
                           fit_kwargs={"verbose": 0}, log=lambda line: None)
    n = data.counts["train"] + data.counts["validation"]
    assert int(counter.seen.numpy()) == n                   # one pass, not 8
    assert len(history["loss"]) == 8 and history["val_accuracy"][-1] > 0.8

    accuracy = model.evaluate(data.validation, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(history["val_accuracy"][-1], abs=1e-6)
    best = keras.models.load_model(tmp_path / "best.keras")
    assert best.input_shape == (None, 8, 8, 1) and best.output_shape == (None, 10)

    counter.seen.assign(0.0)
    train_recipe(model, data.train, data.validation, recipe="linear_probe", epochs=2,
                 learning_rate=LR, fit_kwargs={"verbose": 0}, log=lambda line: None)
    assert int(counter.seen.numpy()) >= 2 * n               # without the cache: every epoch


def _probe_model(tmp_path, data):
    """A linear probe (not compiled) of the pretrained net (made once per test)."""
    from kerasdl.transfer import build_transfer_model

    backbone = tmp_path / "pretrained.keras"
    if not backbone.exists():
        _pretrained_file(tmp_path)
    return build_transfer_model(_experiment(tmp_path, backbone, recipe="linear_probe",
                                            cache_features=True), data)


def _probe_cached(tmp_path, data, epochs: int, callbacks=(), weights=None, initial_epoch=0,
                  optimizer=None):
    """A linear probe of the pretrained net on cached features, trained by ``train_recipe``
    (from ``weights``; resumed at ``initial_epoch`` with ``optimizer``, backup-like arrays);
    returns the model and its history."""
    from kerasdl.resume import restore_optimizer
    from kerasdl.transfer import train_recipe

    model = _probe_model(tmp_path, data)
    if weights is not None:
        model.set_weights(weights)
    history = train_recipe(
        model, data.train, data.validation, recipe="linear_probe", epochs=epochs,
        learning_rate=LR, cache_features=True, callbacks=list(callbacks), shuffle_seed=3,
        initial_epoch=initial_epoch, fit_kwargs={"verbose": 0}, log=lambda line: None,
        restore_optimizer=(lambda m: restore_optimizer(m, optimizer)) if optimizer else None)
    return model, history


class ModelSeen(keras.callbacks.Callback):
    """Remembers the model it was given when training began."""

    def on_train_begin(self, logs=None):
        self.seen = self.model


def test_callbacks_of_a_cached_features_run_act_on_the_training_that_happens(tmp_path):
    """issue 14, 3: with cache_features the callbacks see the classifier being fit, which shares
    the whole model's variables and optimizer instance: EarlyStopping stops the fit,
    ReduceLROnPlateau lowers the rate that trains, the NaN guard stops the fit, and the whole
    model's optimizer counted the steps."""
    from kerasdl.callbacks import NaNGuard

    data = _digits()
    never_better = dict(monitor="loss", mode="min", min_delta=100.0)
    seen = ModelSeen()
    model, history = _probe_cached(tmp_path, data, epochs=8, callbacks=[
        seen, keras.callbacks.ReduceLROnPlateau(patience=1, factor=0.5, **never_better),
        keras.callbacks.EarlyStopping(patience=2, **never_better)])
    assert seen.seen is not model and seen.seen.optimizer is model.optimizer
    assert seen.seen.get_layer("classifier") is model.get_layer("classifier")
    assert len(history["loss"]) == 3                       # stopped after 3 epochs of 8
    assert history["learning_rate"] == pytest.approx([LR, LR, LR / 2])
    assert float(model.optimizer.learning_rate) == pytest.approx(LR / 4)
    assert int(model.optimizer.iterations) == 3 * -(-data.counts["train"] // 32)

    guard = NaNGuard()
    poison = keras.callbacks.LambdaCallback(          # the second epoch's loss "becomes" NaN
        on_epoch_end=lambda epoch, logs: logs.update(loss=float("nan")) if epoch == 1 else None)
    _, history = _probe_cached(tmp_path, data, epochs=8, callbacks=[poison, guard])
    assert guard.tripped["epoch"] == 2 and len(history["loss"]) == 2


def test_cached_features_come_in_an_order_set_by_the_shuffle_seed_and_the_epoch(tmp_path):
    """issue 14, 3: a cached-features run stopped after epoch 2 and resumed with fresh datasets
    (the optimizer state put back) ends with the weights of the run that never stopped, bit for
    bit: epoch 3 sees the same batches (a reshuffling tf.data shuffle restarts its sequence)."""
    data = _digits(shuffle=False)              # the features are cached in the same order
    start = _probe_model(tmp_path, data).get_weights()
    whole, _ = _probe_cached(tmp_path, data, epochs=3, weights=start)
    stopped, _ = _probe_cached(tmp_path, data, epochs=2, weights=start)
    optimizer = {f"optimizer_{i}": np.asarray(v) for i, v in enumerate(stopped.optimizer.variables)}
    resumed, history = _probe_cached(tmp_path, data, epochs=3, weights=stopped.get_weights(),
                                     initial_epoch=2, optimizer=optimizer)
    assert len(history["loss"]) == 1
    for ours, theirs in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_cached_features_run_saves_and_backs_up_the_whole_model(tmp_path, monkeypatch):
    """issue 14, 3: the best checkpoint, every epoch backup and model.keras of a cache_features
    run hold the whole model (image input, backbone and head), not the head the fit trains; the
    backup holds the optimizer that trained, and EarlyStopping (the best epoch's weights put
    back) and the history writer work as in any run."""
    import shutil

    import kerasdl
    from kerasdl.callbacks import backup as resume
    from kerasdl.config import with_overrides
    from kerasdl.runner import run

    kept, write = tmp_path / "kept", resume.Backup.write

    def write_and_keep(backup, directory):       # the finished run removes its backups
        final = write(backup, directory)
        shutil.copytree(final, kept / resume.BACKUP_DIR / final.name)
        return final

    monkeypatch.setattr(resume.Backup, "write", write_and_keep)
    experiment = with_overrides(
        _experiment(tmp_path, _pretrained_file(tmp_path), epochs=6, recipe="linear_probe",
                    cache_features=True),
        {"callbacks.early_stopping.patience": 1, "callbacks.early_stopping.min_delta": 100.0,
         "callbacks.tensorboard.enabled": False, "output.publish": "never"})
    result = run(experiment, log=lambda line: None)
    whole = result.model
    assert result.epochs_run == 2 and whole.input_shape == (None, 8, 8, 1)
    layers = [layer.name for layer in whole.layers]
    assert "backbone" in layers and "classifier" in layers
    backups = sorted((kept / resume.BACKUP_DIR).iterdir())
    assert [p.name for p in backups] == ["epoch-0001", "epoch-0002"]
    state, arrays = resume.read_backup(kept)
    assert state["epoch"] == 2 and state["stopped"]
    assert len([key for key in arrays if key.startswith("model_")]) == len(whole.variables)
    assert int(arrays["optimizer_0"]) == int(whole.optimizer.iterations) > 0  # it trained
    val_loss = result.history["val_loss"]
    best_epoch = backups[val_loss.index(min(val_loss))]       # the checkpoint's best epoch
    with np.load(best_epoch / "state.npz") as saved:
        backed_up = {v.path: saved[f"model_{i}"] for i, v in enumerate(whole.variables)}
    for name, expected in (("model.keras", {w.path: w.numpy() for w in whole.weights}),
                           ("checkpoints/best.keras", backed_up)):
        saved = kerasdl.load_model(result.run_dir / name)
        assert saved.input_shape == whole.input_shape and [l.name for l in saved.layers] == layers
        for weight in saved.weights:
            np.testing.assert_array_equal(weight.numpy(), expected[weight.path], err_msg=name)
    assert len(result.history["loss"]) == 2 and "learning_rate" in result.history
    assert len((result.run_dir / "history.csv").read_text().splitlines()) == 3


# === keras.applications, offline ===

def test_preprocessing_layer_is_the_application_preprocess_input():
    import keras

    from kerasdl.transfer import ApplicationPreprocessing

    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    for family in ("mobilenet_v2", "resnet", "vgg16", "efficientnet"):
        layer = ApplicationPreprocessing(family, input_scale=255)
        expected = getattr(keras.applications, family).preprocess_input(x * 255)
        np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-4,
                                   err_msg=family)


def test_applications_table_covers_keras_applications():
    import importlib

    import keras

    from kerasdl.transfer import APPLICATIONS

    exported = {n for n in dir(keras.applications) if n[0].isupper()}
    assert set(APPLICATIONS) == exported
    for family in set(APPLICATIONS.values()):
        assert callable(importlib.import_module(f"keras.applications.{family}").preprocess_input)


def test_keras_applications_imagenet_path_reads_the_keras_cache_offline(tmp_path, monkeypatch):
    """A fresh process with KERAS_HOME=tmp: the test writes MobileNetV2's no-top weights file
    where keras.utils.get_file looks for the ImageNet download; ``weights="imagenet"`` loads
    exactly those weights through Keras's own download code, without touching the network. The
    same weights as a local ``.weights.h5`` file load too."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    code = f"""
import numpy as np, keras
from keras.src.legacy.saving import legacy_h5_format
from keras.src.utils import file_utils
import h5py

def no_network(*args, **kwargs):
    raise AssertionError("tried to download: " + str(args[:1]))
file_utils.urlretrieve = no_network

keras.utils.set_random_seed(7)
written = keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights=None,
                                         input_shape=(32, 32, 3))
for w in written.weights:                     # distinctive values, BatchNorm statistics included
    w.assign(np.random.default_rng(len(w.path)).normal(0, 0.1, w.shape).astype("float32")
             + (1.0 if "variance" in w.path else 0.0))
(models := __import__("pathlib").Path(r"{home}") / "models").mkdir(parents=True)
name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
with h5py.File(models / name, "w") as f:              # the layout Keras downloads
    legacy_h5_format.save_weights_to_hdf5_group(f, written)
written.save_weights(r"{tmp_path / 'local.weights.h5'}")

from kerasdl.transfer import load_backbone, make_transfer_model
for weights in ("imagenet", r"{tmp_path / 'local.weights.h5'}"):
    backbone = load_backbone("keras:MobileNetV2", input_shape=(32, 32, 3), weights=weights,
                             builder_kwargs={{"alpha": 0.35}})
    for a, b in zip(backbone.model.weights, written.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert backbone.family == "mobilenet_v2", backbone.family
model = make_transfer_model(backbone, 5, recipe="linear_probe", input_scale=255)
assert model.get_layer("preprocess").family == "mobilenet_v2"
assert model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0).shape == (2, 5)
print("LOADED", keras.config.backend())
"""
    result = run_python(code, cwd=tmp_path)
    assert "LOADED tensorflow" in result.stdout, result.stderr[-3000:]
    assert "Downloading data from" not in result.stdout + result.stderr


# === Saving ===

def test_finetuned_model_reloads_in_a_fresh_process_with_identical_predictions(tmp_path):
    """two_phase with discriminative learning rates: the saved .keras (FrozenMode backbone,
    LayerwiseLearningRate optimizer) loads in a fresh process and predicts the same."""
    from kerasdl.files import save_model_atomically
    from kerasdl.transfer import build_transfer_model

    data = _digits()
    experiment = _experiment(tmp_path, _pretrained_file(tmp_path), epochs=2, recipe="two_phase",
                             head_epochs=1, unfreeze="all", layer_lr_decay=0.5)
    model = build_transfer_model(experiment, data)
    _fit(experiment, model, data)
    path = tmp_path / "finetuned.keras"
    save_model_atomically(model, path)
    x = next(iter(data.test))[0].numpy()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.predict(x, verbose=0))
    check = run_python(
        "import numpy as np, kerasdl, kerasdl.transfer\n"
        f"m = kerasdl.load_model(r'{path}')\n"
        "assert type(m.optimizer).__name__ == 'LayerwiseLearningRate', type(m.optimizer)\n"
        "assert type(m.get_layer('backbone')).__name__ == 'FrozenMode'\n"
        f"np.testing.assert_allclose(m.predict(np.load(r'{tmp_path / 'x.npy'}'), verbose=0),"
        f" np.load(r'{tmp_path / 'y.npy'}'), rtol=1e-6, atol=1e-7)\nprint('SAME')\n", cwd=tmp_path)
    assert "SAME" in check.stdout, check.stderr[-3000:]


# === Backbones: kerasdl builders, saved models, cuts ===

def test_kerasdl_builder_and_saved_model_backbones_cut_at_named_layers(tmp_path):
    import keras

    import kerasdl
    from kerasdl.transfer import build_transfer_model, load_backbone

    data32 = types.SimpleNamespace(train=_images_spec((32, 32, 1)), num_classes=5)
    cut = build_transfer_model(_experiment(tmp_path, "kerasdl:lenet5", recipe="cut_and_probe",
                                           cut_at="s4"), data32)
    assert cut.get_layer("features").output.shape == (None, 5 * 5 * 16)        # flattened s4
    assert cut.get_layer("backbone").backbone.layers[-1].name == "s4"

    lenet = kerasdl.build("lenet5", input_shape=(32, 32, 1), num_classes=10)
    lenet.save(tmp_path / "lenet5.keras")
    below = load_backbone(str(tmp_path / "lenet5.keras"))
    assert below.model.output.shape == (None, 84)            # f6, just below the classifier
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    kerasdl.build("lenet5", style="subclassed", input_shape=(32, 32, 1)).save(run_dir / "model.keras")
    from_run = load_backbone(str(run_dir), cut_at="c3")
    assert from_run.source == "saved" and from_run.model.output.shape == (None, 10, 10, 16)
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    reference = keras.models.load_model(run_dir / "model.keras")
    expected = x
    for layer in reference.chain[:3]:
        expected = layer(expected)
    np.testing.assert_allclose(from_run.model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def _images_spec(shape):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors((np.zeros((1, *shape), "float32"), np.zeros((1,), "int64")))


def test_clear_errors(tmp_path):
    import kerasdl
    from kerasdl.transfer import build_transfer_model, load_backbone
    from kerasdl.transfer.recipes import check_options

    with pytest.raises(ModelError, match=r"unknown keras.applications model 'MobilenetV2'.*did you "
                                         r"mean 'MobileNetV2'\?.*valid keras.applications models: "
                                         r"ConvNeXtBase, .*Xception"):
        load_backbone("keras:MobilenetV2")
    with pytest.raises(ModelError, match=r"unknown model 'lenet' .*did you mean 'lenet5'"):
        load_backbone("kerasdl:lenet", weights=None)
    with pytest.raises(ModelError, match=r"backbone 'ResNet50' not found.*did you mean 'keras:ResNet50'"):
        load_backbone("ResNet50")
    with pytest.raises(ModelError, match=r"backbone '.*missing.keras' not found: no such file"):
        load_backbone(str(tmp_path / "missing.keras"))
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"has no model.keras \(it holds: config.json\)"):
        load_backbone(str(tmp_path / "unfinished"))
    path = _pretrained_file(tmp_path)
    with pytest.raises(ModelError, match=r"no layer 'conv3' in .*\(did you mean 'conv2'\?\); its "
                                         r"layers: conv1, bn1, relu1, conv2, bn2, relu2, dropout, "
                                         r"pool, predictions"):
        load_backbone(str(path), cut_at="conv3")
    with pytest.raises(ModelError, match=r"finetune.weights='/nowhere.h5': no such file"):
        load_backbone("keras:MobileNetV2", input_shape=(32, 32, 3), weights="/nowhere.h5")
    with pytest.raises(ModelError, match=r"kerasdl:lenet5 has no ImageNet weights"):
        load_backbone("kerasdl:lenet5", weights="imagenet")
    with pytest.raises(ModelError, match=r"needs 3-channel \(RGB\) images.*set data.channels=3"):
        load_backbone("keras:ResNet50", input_shape=(32, 32, 1), weights="imagenet")
    with pytest.raises(ConfigError, match=r"layer_lr_decay applies to recipes that train the "
                                          r"backbone .*'linear_probe' trains only the head"):
        check_options("linear_probe", 0.5, False)
    with pytest.raises(ConfigError, match=r"cache_features needs a backbone that stays frozen"):
        check_options("two_phase", None, True)
    with pytest.raises(ConfigError, match=r"data.augment=\('translate',\) would be applied once"):
        check_options("linear_probe", None, True, ("translate",))
    data28 = types.SimpleNamespace(train=_images_spec((28, 28, 1)), num_classes=5)
    kerasdl.build("lenet5", input_shape=(32, 32, 1)).save(tmp_path / "lenet32.keras")
    with pytest.raises(ConfigError, match=r"takes inputs of shape \(32, 32, 1\); the data have "
                                          r"\(28, 28, 1\): set data.image_size"):
        build_transfer_model(_experiment(tmp_path, tmp_path / "lenet32.keras",
                                         recipe="linear_probe"), data28)
    data8 = types.SimpleNamespace(train=_images_spec((8, 8, 1)), num_classes=3)
    with pytest.raises(ConfigError, match=r"unfreeze=9, but the backbone has only 4 layers"):
        build_transfer_model(_experiment(tmp_path, path, recipe="two_phase", unfreeze=9), data8)


def test_a_missing_published_backbone_names_the_experiment_that_publishes_it(tmp_path,
                                                                              monkeypatch):
    """saved_models/<name>.keras missing, experiments/<name>.py publishing it: the error says
    to run that experiment (from the working directory, or cd into an absolute path's project);
    an experiment that publishes elsewhere, or none, gives no such advice."""
    from kerasdl.transfer import load_backbone

    (tmp_path / "experiments").mkdir()
    for name, saved in (("pre", "saved_models"), ("elsewhere", "other_dir")):
        (tmp_path / "experiments" / f"{name}.py").write_text(
            "from kerasdl.config import Experiment, Output\n"
            f"def get_config():\n    return Experiment(name={name!r}, "
            f"output=Output(saved_models_dir={saved!r}))\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError) as error:
        load_backbone("saved_models/pre.keras")
    assert str(error.value) == (
        "backbone 'saved_models/pre.keras' not found: no such file. A run of experiments/pre.py "
        "publishes it; run that experiment first: python -m kerasdl run experiments/pre.py")
    monkeypatch.chdir(tmp_path / "experiments")
    with pytest.raises(ModelError, match=re.escape(f"first: cd {tmp_path} && python -m kerasdl "
                                                   "run experiments/pre.py")):
        load_backbone(str(tmp_path / "saved_models" / "pre.keras"))
    for missing in ("saved_models/elsewhere.keras", "saved_models/nothing.keras"):
        with pytest.raises(ModelError, match="not found: no such file. A backbone is") as error:
            load_backbone(str(tmp_path / missing))
        assert "python -m kerasdl run" not in str(error.value)


def test_transfer_finetune_without_its_backbone_says_to_run_transfer_pretrain(tmp_path,
                                                                            monkeypatch):
    from kerasdl.experiment import load_experiment
    from kerasdl.transfer.backbones import producing_experiment

    monkeypatch.chdir(REPO)
    spec = load_experiment("experiments/transfer_finetune.py").finetune.backbone
    assert producing_experiment(Path(spec)) == (
        Path("experiments/transfer_pretrain.py"),
        "python -m kerasdl run experiments/transfer_pretrain.py")


# === The digit-split datasets ===

def test_mnist_digit_subsets_are_held_out_and_balanced():
    from kerasdl.data import embedded_datasets

    datasets = embedded_datasets()
    first, few, more = (datasets[n](0) for n in ("mnist_0to4", "mnist_5to9_10", "mnist_5to9_50"))
    assert first.x_train.shape == (2000, 28, 28, 1) and first.x_test.shape == (500, 28, 28, 1)
    for subset, per_class in ((few, 10), (more, 50)):
        assert np.bincount(subset.y_train).tolist() == [per_class] * 5
        assert np.bincount(subset.y_test).tolist() == [100] * 5 and subset.num_classes == 5
        assert subset.y_train[:5].tolist() != sorted(subset.y_train[:5].tolist()) or \
            len(set(subset.y_train[-per_class:])) > 1                      # shuffled, not sorted
    seen = {x.tobytes() for x in np.concatenate([first.x_train, few.x_train, more.x_train])}
    assert not seen & {x.tobytes() for x in np.concatenate([first.x_test, few.x_test])}
    from kerasdl.data.embedded import load_mnist

    mnist = load_mnist(0)
    index = {x.tobytes(): int(y) for x, y in zip(mnist.x_train, mnist.y_train)}
    assert {index[x.tobytes()] for x in first.x_train} == {0, 1, 2, 3, 4}
    assert all(index[x.tobytes()] == y + 5 for x, y in zip(few.x_train, few.y_train))
