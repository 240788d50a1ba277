"""Every bad input fails early and clearly; NaN stops a run without saving NaN; corrupt files are
called corrupt; a seeded fuzz over configs finds no unexplained crash."""
from __future__ import annotations

import random

import numpy as np
import pytest

from kerasdl.config import Data, Experiment, Model, Output, Trainer, with_overrides
from kerasdl.errors import ConfigError, CorruptFileError, DataError, KerasdlError, ModelError
from kerasdl.runner import run

from conftest import REPO, run_cli, small_experiment

DIVERGING = ["--set", "data.source=embedded", "--set", "trainer.optimizer=sgd", "--set",
             "trainer.learning_rate=0.05", "--set", "trainer.loss=mse", "--set",
             "trainer.metrics=('mae',)", "--set", "callbacks.monitor=val_loss", "--set",
             "trainer.lr_schedule=exponential", "--set", "trainer.lr_decay_rate=1e8", "--set",
             "trainer.epochs=8", "--set", "trainer.deterministic=true", "--set",
             "callbacks.early_stopping.enabled=false", "--set", "trainer.verbose=0"]


def test_nan_stops_the_run_keeps_good_files_and_saves_no_nan(tmp_path):
    """The learning rate grows 1e8-fold per epoch: fine at first, NaN a few epochs later."""
    import kerasdl

    result = run_cli("run", str(REPO / "experiments" / "mlp_digits.py"), *DIVERGING,
                     "--workdir", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 3, result.stderr[-2000:]
    message = result.stderr
    assert "training stopped: loss became nan in epoch" in message
    assert "at or before batch" in message and "nothing was published" in message
    # a batch of the epoch: the digits MLP has ceil(1,221 / 32) = 39 training batches per epoch
    batch = int(message.split("at or before batch ")[1].split(";")[0])
    assert 1 <= batch <= 39, batch
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not (run_dir / "model.keras").exists()
    assert not list((tmp_path / "saved_models").glob("*"))            # nothing published
    epoch = int(message.split("in epoch ")[1].split(",")[0])
    assert epoch > 1
    best = kerasdl.load_model(run_dir / "checkpoints" / "best.keras")
    assert all(np.all(np.isfinite(w)) for w in best.get_weights())
    (backup,) = sorted((run_dir / "backup").glob("epoch-*"))[-1:]
    assert int(backup.name.split("-")[1]) == epoch - 1                # the last good epoch
    with np.load(backup / "state.npz") as state:
        assert all(np.all(np.isfinite(state[k])) for k in state.files)


def test_nan_guard_names_a_batch_of_the_epoch_under_steps_per_execution():
    """Keras reports the last step of a 32-step execution group even when the epoch has only 4
    batches; the guard says batch 4, not 32 (issue #14, 6)."""
    import keras

    from kerasdl.callbacks import NaNGuard

    guard = NaNGuard()
    guard.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    guard.set_params({"epochs": 1, "steps": 4, "verbose": 0})
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(31, {"loss": float("nan")})
    assert guard.tripped["batch"] == 4 and guard.model.stop_training


def test_corrupt_model_file_is_called_corrupt_not_missing(tmp_path):
    import kerasdl

    model = kerasdl.build("mlp")
    model.save(tmp_path / "good.keras")
    data = (tmp_path / "good.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptFileError) as error:
        kerasdl.load_model(tmp_path / "truncated.keras")
    truncated = tmp_path / "truncated.keras"
    assert f"model file {truncated} ({len(data) // 3:,} bytes) is corrupt" in str(error.value)
    with pytest.raises(KerasdlError, match="model file not found"):
        kerasdl.load_model(tmp_path / "absent.keras")


def test_safe_mode_is_the_default(tmp_path):
    import keras

    import kerasdl

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(KerasdlError, match="safe mode will not load"):
        kerasdl.load_model(tmp_path / "lambda.keras")
    loaded = kerasdl.load_model(tmp_path / "lambda.keras", safe_mode=False)
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])


def _unwritable(tmp_path):
    """A folder that cannot be created, whoever runs the test (root included): under a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return str(blocker / "runs")


# (what the user gives, the error class, text the message must hold)
BAD_INPUTS = [
    (lambda t: Experiment(name="x", trainer={"optimzer": "adam"}), ConfigError,
     "unknown config key 'trainer.optimzer' (did you mean 'optimizer'?)"),
    (lambda t: Experiment(name="x", trainer={"epochs": "5"}), ConfigError,
     "config key 'trainer.epochs' must be int; got '5' (str)"),
    (lambda t: Experiment(name="x", model={"name": "lenett5"}).model and
     run(small_experiment(t, model=Model(name="lenett5")), log=lambda l: None), ModelError,
     "unknown model 'lenett5' at 'model.name' (did you mean 'lenet5'?)"),
    (lambda t: Trainer(optimizer="adan"), ConfigError, "unknown optimizer 'adan'"),
    (lambda t: Trainer(loss="crossentropy"), ConfigError, "unknown loss 'crossentropy' at 'trainer.loss'"),
    (lambda t: Trainer(loss="crossentropy"), ConfigError, "; valid losses: "),
    (lambda t: Trainer(metrics=("acuracy",)), ConfigError, "(did you mean 'accuracy'?)"),
    (lambda t: run(small_experiment(t, data=Data(name="digitz", source="embedded")),
                   log=lambda l: None), DataError,
     "no embedded copy of dataset 'digitz' (did you mean 'digits'?)"),
    (lambda t: run(small_experiment(t, model=Model(name="lenet5",
                                                   kwargs={"input_shape": (32, 32, 1)})),
                   log=lambda l: None), DataError, "input shape mismatch"),
    (lambda t: run(small_experiment(t, data=Data(name="digits", source="embedded",
                                                 label_format="sparse"),
                                    trainer=Trainer(loss="categorical_crossentropy", verbose=0)),
                   log=lambda l: None), DataError, "needs one-hot labels"),
    (lambda t: run(small_experiment(t, model=Model(name="mlp", kwargs={"num_classes": 3})),
                   log=lambda l: None), DataError, "outputs 3 classes but dataset 'digits' has 10"),
    (lambda t: run(small_experiment(t, model=Model(name="mlp", kwargs={"hiden": (3,)})),
                   log=lambda l: None), ModelError, "has no argument 'hiden' (did you mean 'hidden'?)"),
    (lambda t: Data(train_limit=0), ConfigError, "'data.train_limit' must be >= 1"),
    (lambda t: run(small_experiment(t, data=Data(name="logic_xor", source="embedded",
                                                 validation_fraction=0.99, train_limit=1)),
                   log=lambda l: None), DataError, "leaves no training examples"),
    (lambda t: Experiment(name="x", callbacks={"monitor": "val_f1"}), ConfigError,
     "config key 'callbacks.monitor' is 'val_f1', but training logs only"),
    (lambda t: run(small_experiment(t, output=Output(runs_dir=_unwritable(t))),
                   log=lambda l: None), ConfigError, "cannot write to output.runs_dir"),
    (lambda t: run(small_experiment(t, data=Data(name="digits", source="embedded",
                                                 test_split="test", test_limit=None,
                                                 train_limit=None, validation_fraction=0.2),
                                    model=Model(name="transformer_classifier",
                                                kwargs={"preset": "tiny", "vocab_size": 50})),
                   log=lambda l: None), ModelError,
     "cannot build model 'transformer_classifier' for dataset 'digits' (features TensorSpec("),
    (lambda t: with_overrides(Experiment(name="x"), {"device.policy": "tpu"}), ConfigError,
     "config key 'device.policy' must be auto, cpu, gpu"),
    (lambda t: Experiment(name="x", finetune={"recipe": "two_phase"}), ConfigError,
     "needs finetune.backbone"),
]


@pytest.mark.parametrize("make, error_class, text", BAD_INPUTS,
                         ids=[f"bad{i}" for i in range(len(BAD_INPUTS))])
def test_every_bad_input_fails_clearly(tmp_path, make, error_class, text):
    with pytest.raises(error_class) as error:
        make(tmp_path)
    assert text in str(error.value)
    # a run that fails before training leaves no run directory for --resume or compare to trip on
    runs = tmp_path / "runs"
    assert not (runs.exists() and any(runs.iterdir())), list(runs.iterdir())


def test_bad_experiment_files_through_the_cli(tmp_path):
    missing = run_cli("run", "nope.py", cwd=tmp_path)
    assert missing.returncode == 2 and "experiment file not found: nope.py" in missing.stderr
    raising = tmp_path / "raising.py"
    raising.write_text("def get_config():\n    raise RuntimeError('boom in the user file')\n")
    result = run_cli("run", str(raising), cwd=tmp_path)
    assert result.returncode == 2 and "raised RuntimeError: boom in the user file" in result.stderr
    assert "line 2, in get_config" in result.stderr and "Traceback" not in result.stderr


def test_empty_dataset_is_reported(tmp_path):
    from kerasdl.data import ArraySplits, register_dataset
    from kerasdl.data.pipeline import load_data

    @register_dataset("test_empty")
    def empty(split_seed):
        x = np.zeros((0, 4), np.float32)
        return ArraySplits(x, np.zeros(0, np.int64), x, np.zeros(0, np.int64), 2, "empty")

    with pytest.raises(DataError, match="the train split of dataset 'test_empty' is empty"):
        load_data(Data(name="test_empty", source="embedded"), "sparse")


def test_mismatched_embedded_arrays_are_reported(tmp_path):
    from kerasdl.data import ArraySplits, register_dataset
    from kerasdl.data.pipeline import load_data

    @register_dataset("test_mismatched_lengths")
    def mismatched(split_seed):
        x = np.zeros((10, 4), np.float32)
        return ArraySplits(x, np.zeros(9, np.int64), x, np.zeros(10, np.int64), 2, "broken")

    with pytest.raises(DataError, match="10 examples but 9 labels"):
        load_data(Data(name="test_mismatched_lengths", source="embedded"), "sparse")


def _random_value(rng):
    return rng.choice([0, 1, -1, 3, 0.5, -2.5, 1e9, "", "adam", "x" * 3, None, True, False,
                       (1, 2), [3], {"a": 1}, "(32, 32)", "true", "None", "1e-3", "[1, 'a']"])


def test_config_fuzz_never_crashes_unexplained():
    """5,000 seeded random overrides (real keys, near-miss keys, any values): each either
    applies or raises ConfigError - never another exception."""
    rng = random.Random(1234)
    base = Experiment(name="fuzz")
    keys = [f"{section}.{field}" for section, value in base.to_dict().items()
            if isinstance(value, dict) for field in value]
    keys += ["trainer.epoch", "data", "callbacks.early_stopping.patience", "model.kwargs.x",
             "finetune.recipe", "name", "nosuch.key", "trainer..epochs", ""]
    outcomes = {"applied": 0, "refused": 0}
    for _ in range(5000):
        overrides = {rng.choice(keys): _random_value(rng) for _ in range(rng.randint(1, 3))}
        if rng.random() < 0.5:
            overrides = {k: str(v) for k, v in overrides.items()}
        try:
            with_overrides(base, overrides)
            outcomes["applied"] += 1
        except ConfigError as error:
            assert str(error)
            outcomes["refused"] += 1
    assert outcomes["applied"] > 100 and outcomes["refused"] > 1000, outcomes
