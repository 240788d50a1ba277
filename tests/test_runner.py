"""The runner end to end: real TensorFlow, real files, real subprocesses."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from kerasdl.config import (Callbacks, Data, EarlyStopping, Model, Output, Trainer, with_overrides)
from kerasdl.errors import ConfigError, DataError, KerasdlError
from kerasdl.runner import RUN_FILES, run

from conftest import REPO, run_cli, run_python, small_experiment


@pytest.mark.slow          # 18 s; test_cli's default run goes through the CLI
def test_lenet5_smoke_through_the_cli(tmp_path):
    result = run_cli("run", str(REPO / "experiments" / "lenet5.py"), "--smoke",
                     "--set", "data.source=embedded", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "[kerasdl] done in" in out and "test accuracy" in out and "epochs run     1 of 1" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("lenet5-")
    for name in RUN_FILES:
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir / "checkpoints" / "best.keras").stat().st_size > 0
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert f"TensorBoard    tensorboard --logdir {run_dir.relative_to(tmp_path)}/tensorboard" in out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"]["source"] == "embedded" and manifest["seed"] == 42
    assert manifest["packages"]["tensorflow"] and manifest["epochs_run"] == 1
    assert manifest["data"]["counts"] == {"train": 230, "validation": 26, "test": 128}
    config = json.loads((run_dir / "config.json").read_text())
    assert config["trainer"]["epochs"] == 1 and config["data"]["image_size"] == [32, 32]
    assert "loss" in (run_dir / "history.csv").read_text().splitlines()[0]
    assert not (tmp_path / "saved_models" / "lenet5.keras").exists()   # smoke runs never publish


def test_tensorboard_scalars_read_back_with_tensorboards_reader(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = run(small_experiment(tmp_path), log=lambda line: None)
    for subdir, tag in (("train", "epoch_loss"), ("validation", "epoch_accuracy")):
        events = EventAccumulator(str(result.tensorboard_dir / subdir),
                                  size_guidance={"tensors": 0})
        events.Reload()
        assert tag in events.Tags()["tensors"]
        logged = [float(e.tensor_proto.float_val[0]) if e.tensor_proto.float_val else
                  float(np.frombuffer(e.tensor_proto.tensor_content, np.float32)[0])
                  for e in events.Tensors(tag)]
        key = tag.replace("epoch_", "" if subdir == "train" else "val_")
        np.testing.assert_allclose(logged, result.history[key], rtol=1e-5)


@pytest.mark.slow          # 21 s; tests/test_models.py reloads in a fresh process
def test_saved_model_gives_the_same_predictions_in_a_fresh_process(tmp_path):
    result = run(small_experiment(tmp_path, output=Output(runs_dir=str(tmp_path / "runs"),
                                                          saved_models_dir=str(tmp_path / "sm"))),
                 log=lambda line: None)
    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", result.model.predict(x, verbose=0))
    assert result.published and result.published_path == tmp_path / "sm" / "small.keras"
    for path in (result.model_path, result.published_path):
        check = run_python(
            "import numpy as np, kerasdl\n"
            f"m = kerasdl.load_model(r'{path}')\n"
            f"np.testing.assert_allclose(m.predict(np.load(r'{tmp_path / 'x.npy'}'), verbose=0),"
            f" np.load(r'{tmp_path / 'y.npy'}'), rtol=1e-6, atol=1e-7)\nprint('SAME')\n", cwd=tmp_path)
        assert "SAME" in check.stdout, check.stderr[-3000:]


def test_early_stopping_restores_the_best_epoch(tmp_path):
    """Overfit 40 examples until validation loss rises; the final weights are the best epoch's."""
    import keras

    experiment = small_experiment(
        tmp_path,
        data=Data(name="digits", source="embedded", train_limit=50, validation_fraction=0.2,
                  batch_size=8),
        model=Model(name="mlp", kwargs={"hidden": (256, 256)}),
        trainer=Trainer(epochs=60, learning_rate=0.01, verbose=0),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStopping(patience=3)))
    result = run(experiment, log=lambda line: None)
    assert result.best_epoch < result.epochs_run < 60          # it did stop early
    best = keras.models.load_model(result.run_dir / "checkpoints" / "best.keras")
    for restored, saved in zip(result.model.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(restored, saved)
    val_loss = result.history["val_loss"]
    assert val_loss[result.best_epoch - 1] < val_loss[-1]


def test_shape_mismatch_is_reported_before_fit(tmp_path):
    experiment = small_experiment(tmp_path, model=Model(name="lenet5",
                                                        kwargs={"input_shape": (32, 32, 1)}))
    with pytest.raises(DataError) as error:
        run(experiment, log=lambda line: None)
    assert ("input shape mismatch: dataset 'digits' yields features of shape (None, 8, 8, 1) but "
            "model 'lenet5' expects (None, 32, 32, 1)") in str(error.value)
    assert not list((tmp_path / "runs").iterdir())     # failed before training: no run directory


def test_label_mismatch_is_reported_before_fit(tmp_path):
    experiment = small_experiment(tmp_path, data=Data(name="digits", source="embedded",
                                                      label_format="sparse"),
                                  trainer=Trainer(loss="categorical_crossentropy", verbose=0))
    with pytest.raises(DataError) as error:
        run(experiment, log=lambda line: None)
    assert "loss 'categorical_crossentropy' needs one-hot labels" in str(error.value)


def test_a_worse_run_does_not_replace_the_published_model(tmp_path):
    good = small_experiment(tmp_path, trainer=Trainer(epochs=5, verbose=0))
    first = run(good, log=lambda line: None)
    assert first.published
    published = first.published_path.read_bytes()
    worse = with_overrides(good, {"trainer.epochs": 1, "trainer.learning_rate": 1e-5})
    second = run(worse, log=lambda line: None)
    assert not second.published and "kept" in second.publish_reason
    assert first.published_path.read_bytes() == published


def test_nan_loss_stops_the_run_and_publishes_nothing(tmp_path):
    experiment = small_experiment(tmp_path, trainer=Trainer(optimizer="sgd", learning_rate=1e12,
                                                            epochs=3, verbose=0))
    with pytest.raises(KerasdlError) as error:
        run(experiment, log=lambda line: None)
    assert "loss became nan in epoch 1" in str(error.value)
    assert not (tmp_path / "saved_models" / "small.keras").exists()


def test_library_use_returns_a_plain_keras_model(tmp_path):
    import keras

    result = run(dataclasses.replace(small_experiment(tmp_path), name="lib"), log=lambda line: None)
    assert isinstance(result.model, keras.Model)
    assert set(result.test_metrics) == {"loss", "accuracy"} and result.epochs_run == 2


#: smoke runs in the slow pass: the ImageNet-size experiments (60-140M-parameter models) and the
#: longest of the rest (12-13 s each), whose models the default suite builds, trains, saves and
#: reloads elsewhere (tests/test_zoo.py, test_deploy.py); this keeps it within 10 minutes
SLOW_SMOKE = {"alexnet", "vgg", "googlenet", "resnet", "transfer_mobilenet_flowers", "autoencoder",
              "bidirectional", "transformer"}
#: experiments whose smoke run a test elsewhere does (needing files it writes first, or the same
#: command through the CLI), and that test's file
SMOKED_ELSEWHERE = {"transfer_folder": "tests/test_user_story.py",
                    "lenet5": "tests/test_runner.py",    # test_lenet5_smoke_through_the_cli
                    "bert_finetune": "tests/test_bert_finetune.py"}   # on a local tiny preset


@pytest.mark.parametrize("path", [
    pytest.param(path, marks=pytest.mark.slow) if path.stem in SLOW_SMOKE else path
    for path in sorted((REPO / "experiments").glob("*.py"))
    if path.stem not in SMOKED_ELSEWHERE], ids=lambda p: p.stem)
def test_every_experiment_file_runs_its_smoke_variant(tmp_path, path):
    from kerasdl.experiment import describe_experiment, load_experiment

    assert "python -m kerasdl run experiments/" + path.name in path.read_text()   # its command
    assert describe_experiment(path)
    experiment = load_experiment(path, smoke=True, overrides={
        "data.source": "embedded", "output.runs_dir": str(tmp_path / "runs")})
    result = run(experiment, log=lambda line: None)
    assert result.epochs_run == 1 and not result.published
    assert all(np.isfinite(v) for v in result.test_metrics.values())


def test_experiments_smoked_elsewhere_are_smoked_there():
    for stem, test_file in SMOKED_ELSEWHERE.items():
        assert (REPO / "experiments" / f"{stem}.py").is_file()
        assert f"experiments\" / \"{stem}.py\"" in (REPO / test_file).read_text()


def test_gradient_clipping_is_a_trainer_option(tmp_path):
    from kerasdl.optimizers import make_optimizer

    by_norm = make_optimizer(small_experiment(tmp_path, trainer=Trainer(clipnorm=1.0)))
    by_value = make_optimizer(small_experiment(tmp_path, trainer=Trainer(clipvalue=0.5)))
    assert by_norm.clipnorm == 1.0 and by_value.clipvalue == 0.5
    with pytest.raises(ConfigError, match="set one of trainer.clipnorm and trainer.clipvalue"):
        Trainer(clipnorm=1.0, clipvalue=0.5)
