"""experiments/mnist_fast.py (issue 28, 1) and its network, ``fast_cnn``.

``fast_cnn`` has its pinned parameter count and the same outputs in its three styles; the
experiment trains through kerasdl.run on the embedded MNIST (one epoch of its one-cycle schedule,
Adam's betas as set, an accuracy well above chance), and the figures' single pass over the test
split (per_class.json, confusion.png) agrees with ``evaluate``'s accuracy. Its figures (>= 0.992
on the full MNIST in a quarter of keras.io's convnet's time) are measured by
bench/mnist_fast_vs_keras_io.py and recorded in bench/README.md, not here."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kerasdl.models import STYLES, build

from conftest import REPO

#: conv1 24 x (5*5 + 1) + conv2 32 x (24*3*3 + 1) + fc1 (5*5*32 + 1) x 256 + output 257 x 10
FAST_CNN_PARAMETERS = 624 + 6_944 + 205_056 + 2_570


def test_fast_cnn_has_its_pinned_count_shapes_and_equal_outputs_in_three_styles():
    models = {style: build("fast_cnn", style=style) for style in STYLES}
    assert FAST_CNN_PARAMETERS == 215_194
    assert {s: m.count_params() for s, m in models.items()} == dict.fromkeys(STYLES, 215_194)
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in models["sequential"].layers}
    assert shapes == {"conv1": (24, 24, 24), "pool1": (12, 12, 24), "conv2": (10, 10, 32),
                      "pool2": (5, 5, 32), "flatten": (800,), "fc1": (256,), "predictions": (10,)}
    reference = models["functional"]
    inputs = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    expected = reference.predict(inputs, verbose=0)
    for style in ("sequential", "subclassed"):
        models[style].set_weights(reference.get_weights())
        np.testing.assert_array_equal(models[style].predict(inputs, verbose=0), expected)


def test_figures_predict_the_test_split_in_one_pass_as_model_predict_does():
    """kerasdl.figures' pass over the test split (one model call a batch, the last one partial,
    one-hot labels) gives model.predict's classes, the labels' classes and the first images."""
    import tensorflow as tf

    from kerasdl.figures import GRID, _test_predictions

    model = build("fast_cnn", input_shape=(12, 12, 1), filters=(4, 4), units=8, num_classes=3)
    rng = np.random.default_rng(0)
    x = rng.random((70, 12, 12, 1)).astype("float32")
    labels = rng.integers(0, 3, 70)
    test = tf.data.Dataset.from_tensor_slices((x, np.eye(3)[labels])).batch(16)
    truth, predicted, images = _test_predictions(model, test)
    np.testing.assert_array_equal(truth, labels)
    np.testing.assert_array_equal(predicted, model.predict(x, verbose=0).argmax(-1))
    np.testing.assert_array_equal(np.concatenate(images), x[:GRID])


# 41 s at load 10 on the shared 2-core machine (a whole run): the slow pass; the twin above checks
# the figures' pass, tests/test_reports.py the runner's figures
@pytest.mark.slow
def test_mnist_fast_trains_one_epoch_of_its_one_cycle_on_the_embedded_images(tmp_path):
    from kerasdl.experiment import load_experiment
    from kerasdl.runner import run

    experiment = load_experiment(REPO / "experiments" / "mnist_fast.py", overrides={
        "data.source": "embedded", "trainer.epochs": 1, "trainer.verbose": 0,
        "output.runs_dir": str(tmp_path / "runs"), "output.saved_models_dir": str(tmp_path / "sm")})
    result = run(experiment, log=lambda line: None)
    assert result.epochs_run == 1 and result.data_source == "embedded"
    assert result.test_metrics["accuracy"] > 0.5          # chance is 0.1
    optimizer = result.model.optimizer
    assert (optimizer.beta_1, optimizer.beta_2) == (0.7, 0.9)
    assert float(optimizer.learning_rate) < experiment.trainer.learning_rate / 100   # the cycle ended
    assert int(optimizer.iterations) == 32   # all 4,000 training images (no validation) in 128s
    # the figures' one pass over the test split predicts what evaluate scored
    per_class = json.loads((result.run_dir / "per_class.json").read_text())
    counted = sum(c["count"] for c in per_class.values())
    assert counted == 1_000
    right = sum(c["correct"] for c in per_class.values())
    assert abs(right / counted - result.test_metrics["accuracy"]) < 1e-6
    assert {"confusion.png", "predictions.png"} <= {p.name for p in result.figures}
