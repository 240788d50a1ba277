"""The registry and the foundation's models: parameter counts, style equivalence, save/reload."""
from __future__ import annotations

import numpy as np
import pytest

import kerasdl
from kerasdl.errors import ModelError
from kerasdl.models import STYLES, build, catalog, list_models

from conftest import run_python

#: pinned parameter counts. LeNet-5: 61,706 is the usual modern form (C3 fully connected to S2,
#: plain average pooling, a Dense softmax output), the seed's table; LeCun et al. 1998 give about
#: 60,000 (C3 partly connected: 1,516 instead of 2,416; trainable S2/S4; a fixed RBF output), see
#: kerasdl/models/lenet.py. MLP: 8-12-8-1.
PINNED = {"lenet5": 61_706, "mlp": 221}


def test_catalog_read_from_source_equals_the_live_registry():
    assert sorted(catalog()) == list_models()
    assert set(PINNED) <= set(list_models())


@pytest.mark.parametrize("name", sorted(PINNED))
def test_three_styles_have_the_pinned_count_and_equal_outputs(name):
    models = {style: build(name, style=style) for style in STYLES}
    assert {style: m.count_params() for style, m in models.items()} == dict.fromkeys(STYLES, PINNED[name])
    reference = models["functional"]
    inputs = np.random.default_rng(0).random((4, *reference.input_shape[1:])).astype("float32")
    expected = reference.predict(inputs, verbose=0)
    for style in ("sequential", "subclassed"):
        models[style].set_weights(reference.get_weights())
        np.testing.assert_array_equal(models[style].predict(inputs, verbose=0), expected)


def test_lenet5_layers_follow_the_paper():
    model = build("lenet5", style="sequential")
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes == {"c1": (28, 28, 6), "s2": (14, 14, 6), "c3": (10, 10, 16), "s4": (5, 5, 16),
                      "c5": (1, 1, 120), "flatten": (120,), "f6": (84,), "predictions": (10,)}
    assert model.get_layer("c1").activation.__name__ == "tanh"


def test_backbone_options():
    features = build("lenet5", include_top=False, pooling="avg")
    assert features.output_shape == (None, 120)
    assert build("lenet5", include_top=False).output_shape == (None, 1, 1, 120)
    assert build("lenet5", num_classes=3).output_shape == (None, 3)
    assert build("mlp", input_shape=(28, 28, 1), hidden=(64,), num_classes=10).output_shape == (None, 10)


def test_public_surface_is_lazy_and_complete():
    assert kerasdl.build is build and "lenet5" in kerasdl.list_models("lenet*")


@pytest.mark.parametrize("call, message", [
    (lambda: build("lenett5"), "unknown model 'lenett5' at 'model.name' (did you mean 'lenet5'?)"),
    (lambda: build("lenet5", style="funtional"), "unknown model style 'funtional' (did you mean"),
    (lambda: build("lenet5", num_clases=3), "model 'lenet5' has no argument 'num_clases' (did you "
                                             "mean 'num_classes'?)"),
])
def test_bad_build_arguments_are_named(call, message):
    with pytest.raises(ModelError) as error:
        call()
    assert message in str(error.value)


@pytest.mark.parametrize("style", STYLES)
def test_saved_model_reloads_in_a_fresh_process(tmp_path, style):
    model = build("lenet5", style=style)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    inputs = np.random.default_rng(1).random((3, 32, 32, 1)).astype("float32")
    model.fit(inputs, np.array([0, 1, 2]), epochs=1, verbose=0)   # builds the optimizer too
    model.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", inputs)
    np.save(tmp_path / "y.npy", model.predict(inputs, verbose=0))
    result = run_python(
        "import numpy as np, kerasdl\n"
        f"m = kerasdl.load_model(r'{tmp_path / 'm.keras'}')\n"
        f"out = m.predict(np.load(r'{tmp_path / 'x.npy'}'), verbose=0)\n"
        f"np.testing.assert_array_equal(out, np.load(r'{tmp_path / 'y.npy'}'))\n"
        "print('RELOADED', type(m).__name__)\n", cwd=tmp_path)
    assert "RELOADED" in result.stdout, result.stderr[-3000:]
    if style == "subclassed":
        assert "RELOADED LeNet5" in result.stdout
