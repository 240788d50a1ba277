"""Library calls with wrong arguments get kerasdl's one-line errors, not Keras's internals (issue 29, 6)."""
from __future__ import annotations

import pytest

import kerasdl
from kerasdl.errors import KerasdlError, ModelError


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": "10"}, "num_classes must be a whole number >= 1; received: num_classes='10' (str)"),
    ({"num_classes": 0}, "num_classes must be a whole number >= 1; received: num_classes=0 (int)"),
    ({"num_classes": True}, "num_classes must be a whole number >= 1; received: num_classes=True (bool)"),
    ({"input_shape": 32},
     "input_shape must be a tuple of dimensions without the batch axis; received: input_shape=32 (int)"),
    ({"input_shape": (0, 0, 3)}, "input_shape=(0, 0, 3) has the dimension(s) [0, 0]"),
    ({"input_shape": ()}, "input_shape=() has no dimensions"),
    ({"input_shape": (28, 28.5, 1)}, "input_shape=(28, 28.5, 1) has the dimension(s) [28.5]"),
])
def test_build_refuses_counts_and_shapes_no_model_can_have(kwargs, message):
    with pytest.raises(ModelError) as error:
        kerasdl.build("lenet5", **kwargs)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_build_still_takes_good_shapes_and_variable_dimensions():
    assert kerasdl.build("lenet5", input_shape=[32, 32, 1], num_classes=3).output_shape == (None, 3)
    assert kerasdl.build("lstm", input_shape=(None, 8), num_classes=2).output_shape == (None, 2)


def test_build_names_an_input_too_small_for_the_model():
    with pytest.raises(ModelError, match=r"model 'lenet5' cannot take input_shape=\(8, 8, 1\): its layers "
                                         r"shrink the input below one pixel; .*its default is \(32, 32, 1\)"):
        kerasdl.build("lenet5", input_shape=(8, 8, 1))


def test_load_model_says_what_a_folder_is(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(KerasdlError, match="is a TensorFlow SavedModel folder .*not a Keras model file"):
        kerasdl.load_model(tmp_path / "export")
    with pytest.raises(KerasdlError, match="is a folder, not a Keras model file"):
        kerasdl.load_model(tmp_path)
    with pytest.raises(KerasdlError, match="model file not found"):
        kerasdl.load_model(tmp_path / "missing.keras")


def test_run_takes_an_experiment_or_a_file_and_says_so_for_anything_else(tmp_path):
    from kerasdl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"run\(\) takes an Experiment .* or an experiment file's path or "
                                          r"name; got int"):
        kerasdl.run(12)
    with pytest.raises(ConfigError, match="no_such_experiment"):          # loaded as a file, not misused
        kerasdl.run(str(tmp_path / "no_such_experiment.py"))


def test_load_experiment_takes_pairs_and_names_bad_overrides():
    from conftest import REPO
    from kerasdl.errors import ConfigError

    lenet = str(REPO / "experiments" / "lenet5.py")
    assert kerasdl.load_experiment(lenet, overrides=[("trainer.epochs", 3)]).trainer.epochs == 3
    with pytest.raises(ConfigError, match=r"override keys are dotted config keys as text .*got 3 \(int\)"):
        kerasdl.load_experiment(lenet, overrides={3: 4})
    with pytest.raises(ConfigError, match=r"overrides are 'KEY=VALUE' strings, \(KEY, VALUE\) pairs .*got 7"):
        kerasdl.load_experiment(lenet, overrides=[7])


def test_non_finite_settings_and_overlong_names_are_refused_before_tensorflow(tmp_path):
    from conftest import REPO, run_cli

    lenet = str(REPO / "experiments" / "lenet5.py")
    for value, shown in (("1e400", "inf (1e400 and the like overflow to inf)"), ("-1e400", "-inf")):
        result = run_cli("show", lenet, "--set", f"trainer.learning_rate={value}", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == ("error: config key 'trainer.learning_rate' must be a finite "
                                         f"number; got {shown}")
    from kerasdl.config import Trainer
    from kerasdl.errors import ConfigError

    with pytest.raises(ConfigError, match="'trainer.learning_rate' must be a finite number; got nan"):
        Trainer(learning_rate=float("nan"))
    long_name = "n" * 151
    result = run_cli("show", lenet, "--set", f"name={long_name}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: config key 'name' is 151 characters long; at most 150 fit "
                                     "(file names hold 255, and kerasdl adds suffixes to it): shorten it")
    result = run_cli("show", lenet, "--set", "name=" + "x" * 5000 + " y", cwd=tmp_path)
    assert len(result.stderr) < 300 and "... (5004 characters)" in result.stderr
