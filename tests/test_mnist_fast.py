"""experiments/mnist_fast.py (issue 28, 1) trains through kerasdl.run on the embedded MNIST: one
epoch of its one-cycle schedule, Adam's betas as set, and a test accuracy well above chance.
Its figures (>= 0.992 on the full MNIST in a quarter of keras.io's convnet's time) are measured
by bench/mnist_fast_vs_keras_io.py and recorded in bench/README.md, not here."""
from __future__ import annotations

import pytest

from conftest import REPO

# 21 s at load 3.6 but about 50 s at load 10 on the shared 2-core machine: the slow pass (CI runs it)
pytestmark = pytest.mark.slow


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
    steps = int(optimizer.iterations)
    assert float(optimizer.learning_rate) < experiment.trainer.learning_rate / 100   # the cycle ended
    assert steps == 15                    # 3,600 training images in batches of 256
