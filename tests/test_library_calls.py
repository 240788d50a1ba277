"""Library calls with wrong arguments get kerasdl's one-line errors, not Keras's internals (issue 29, 6)."""
from __future__ import annotations

import pytest

import kerasdl
from kerasdl.errors import KerasdlError, ModelError


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": "10"}, "num_classes must be a whole number >= 1; got '10' (str)"),
    ({"num_classes": 0}, "num_classes must be a whole number >= 1; got 0 (int)"),
    ({"num_classes": True}, "num_classes must be a whole number >= 1; got True (bool)"),
    ({"input_shape": 32}, "input_shape must be a tuple of dimensions without the batch axis; got 32 (int)"),
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
