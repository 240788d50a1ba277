"""AlexNet and VGG: published parameter counts, layer names, keras.applications weight
compatibility, backbone options, and use as a backbone inside a user's own functional model."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasdl.models import STYLES, build

from conftest import run_python

#: published / seed-table parameter counts at the default input and 1000 classes
PINNED = {
    "alexnet": 62_378_344,    # 227x227x3, single tower, no LRN (the seed's table)
    "vgg11": 132_863_336,     # configuration A, 224x224x3
    "vgg16": 138_357_544,     # configuration D (= keras.applications.VGG16)
    "vgg19": 143_667_240,     # configuration E (= keras.applications.VGG19)
}
APPLICATIONS = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}


def _weighted_layers(model) -> list[tuple[str, list[tuple[int, ...]]]]:
    """(name, weight shapes) of every layer that holds weights, in order."""
    return [(layer.name, [tuple(w.shape) for w in layer.weights])
            for layer in model.layers if layer.weights]


def _names(model) -> list[str]:
    return [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_parameter_count_in_every_style(name):
    reference = APPLICATIONS[name](weights=None) if name in APPLICATIONS else None
    for style in STYLES:
        model = build(name, style=style)
        assert model.count_params() == PINNED[name], style
        if reference is not None:        # same layer names and weight shapes, in the same order
            assert _weighted_layers(model) == _weighted_layers(reference), style
    if reference is not None:
        assert reference.count_params() == PINNED[name]


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_vgg_layer_lists_are_keras_applications(name):
    # without dropout (which keras.applications leaves out) the layer lists are identical
    assert _names(build(name, dropout=0.0)) == _names(APPLICATIONS[name](weights=None))
    notop = APPLICATIONS[name](weights=None, include_top=False)
    for style in STYLES:
        ours = build(name, style=style, include_top=False)
        assert _names(ours) == _names(notop), style
        assert _weighted_layers(ours) == _weighted_layers(notop), style


def test_alexnet_layers_follow_the_seed_table():
    model = build("alexnet", style="sequential")
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes == {
        "conv1": (55, 55, 96), "pool1": (27, 27, 96), "conv2": (27, 27, 256),
        "pool2": (13, 13, 256), "conv3": (13, 13, 384), "conv4": (13, 13, 384),
        "conv5": (13, 13, 256), "pool5": (6, 6, 256), "flatten": (9216,),
        "fc6_dropout": (9216,), "fc6": (4096,), "fc7_dropout": (4096,), "fc7": (4096,),
        "predictions": (1000,)}
    assert list(shapes) == _names(model)                     # in this order
    conv1 = model.get_layer("conv1")
    assert conv1.kernel.shape == (11, 11, 3, 96) and conv1.strides == (4, 4)
    assert model.get_layer("conv2").kernel.shape == (5, 5, 96, 256)
    assert all(model.get_layer(f"pool{i}").pool_size == (3, 3) for i in (1, 2, 5))
    assert {model.get_layer(n).rate for n in ("fc6_dropout", "fc7_dropout")} == {0.5}
    assert model.get_layer("conv5").activation.__name__ == "relu"
    assert model.get_layer("predictions").activation.__name__ == "softmax"
    assert "dropout" not in " ".join(_names(build("alexnet", dropout=0.0)))
    assert build("alexnet", dropout=0.2).get_layer("fc6_dropout").rate == 0.2


@pytest.mark.parametrize("name, convs", [("vgg11", (1, 1, 2, 2, 2)), ("vgg16", (2, 2, 3, 3, 3)),
                                         ("vgg19", (2, 2, 4, 4, 4))])
def test_vgg_configurations(name, convs):
    model = build(name, style="sequential")
    names = _names(model)
    for block, count in enumerate(convs, start=1):
        assert [n for n in names if n.startswith(f"block{block}_conv")] == [
            f"block{block}_conv{i}" for i in range(1, count + 1)]
        assert model.get_layer(f"block{block}_conv1").kernel.shape[:2] == (3, 3)
    pools = [tuple(model.get_layer(f"block{b}_pool").output.shape[1:]) for b in range(1, 6)]
    assert pools == [(112, 112, 64), (56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 512)]
    assert names[-6:] == ["flatten", "fc1", "fc1_dropout", "fc2", "fc2_dropout", "predictions"]
    assert model.get_layer("fc1_dropout").rate == 0.5


@pytest.mark.parametrize("name, kwargs, shape", [
    ("alexnet", dict(include_top=False), (6, 6, 256)),
    ("alexnet", dict(include_top=False, pooling="avg"), (256,)),
    ("alexnet", dict(num_classes=10), (10,)),
    ("alexnet", dict(input_shape=(67, 67, 3), include_top=False), (1, 1, 256)),
    ("alexnet", dict(input_shape=(99, 99, 3), num_classes=3), (3,)),
    ("vgg11", dict(include_top=False), (7, 7, 512)),
    ("vgg16", dict(input_shape=(64, 64, 3), include_top=False), (2, 2, 512)),
    ("vgg16", dict(input_shape=(64, 64, 3), include_top=False, pooling="max"), (512,)),
    ("vgg19", dict(input_shape=(32, 32, 3), num_classes=5), (5,)),
])
def test_output_shapes_of_the_head_options(name, kwargs, shape):
    input_shape = kwargs.get("input_shape", {"alexnet": (227, 227, 3)}.get(name, (224, 224, 3)))
    for style in STYLES:
        model = build(name, style=style, **kwargs)
        assert tuple(model(keras.Input(input_shape)).shape) == (None, *shape), style


@pytest.mark.parametrize("name, input_shape", [("alexnet", (99, 99, 3)), ("vgg11", (64, 64, 3))])
def test_pooling_reduces_the_feature_maps_as_named(name, input_shape):
    maps = build(name, input_shape=input_shape, include_top=False)
    x = np.random.default_rng(0).random((2, *input_shape)).astype("float32")
    features = maps.predict(x, verbose=0)
    assert features.shape[1] * features.shape[2] > 1 and features.std() > 0
    for pooling, reduce in (("avg", np.mean), ("max", np.max)):
        pooled = build(name, input_shape=input_shape, include_top=False, pooling=pooling)
        pooled.set_weights(maps.get_weights())
        np.testing.assert_allclose(pooled.predict(x, verbose=0), reduce(features, axis=(1, 2)),
                                   rtol=1e-5, atol=1e-6, err_msg=pooling)


@pytest.mark.parametrize("name", ["alexnet", "vgg16"])
@pytest.mark.parametrize("kwargs, message", [
    (dict(include_top=False, pooling="mean"), "received: pooling='mean'"),
    (dict(dropout=1.0), "received: dropout=1.0"),
    (dict(num_classes=0), "received: num_classes=0"),
])
def test_bad_options_name_the_value(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(name, **kwargs)


def test_keras_applications_vgg16_weights_load_into_every_style(tmp_path):
    """ImageNet weights are keras.applications' files; random-init ones stand in (no network)."""
    reference = keras.applications.VGG16(weights=None, classifier_activation=None)   # logits
    x = np.random.default_rng(0).random((1, 224, 224, 3)).astype("float32") * 255 - 128
    expected = reference.predict(x, verbose=0)
    assert expected.std() > 1e-3                   # the logits carry signal, not a constant
    legacy_file = tmp_path / "vgg16.h5"                    # the format of the ImageNet downloads
    reference.save(legacy_file)
    for style in STYLES:
        ours = build("vgg16", style=style, classifier_activation=None)
        if style == "functional":        # control: our own random weights give other logits
            assert not np.allclose(ours.predict(x, verbose=0), expected, rtol=1e-3, atol=1e-3)
        ours.set_weights(reference.get_weights())
        np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5,
                                   err_msg=f"set_weights, {style}")
        loaded = build("vgg16", style=style, classifier_activation=None)
        loaded.load_weights(legacy_file)                  # by layer order, as the .h5 files are
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5,
                                   err_msg=f"load_weights(.h5), {style}")


def test_backbones_inside_a_users_functional_model_fit_save_and_reload(tmp_path):
    rng = np.random.default_rng(0)
    cases = []
    for name, input_shape in (("alexnet", (67, 67, 3)), ("vgg11", (32, 32, 3))):
        for style in STYLES:
            backbone = build(name, style=style, input_shape=input_shape, include_top=False,
                             pooling="avg")
            inputs = keras.Input(input_shape)
            outputs = keras.layers.Dense(3, activation="softmax", name="head")(backbone(inputs))
            model = keras.Model(inputs, outputs)
            model.compile(optimizer=keras.optimizers.SGD(0.01),
                          loss="sparse_categorical_crossentropy")
            x = rng.random((16, *input_shape)).astype("float32")
            y = rng.integers(0, 3, 16)
            before = [w.copy() for w in backbone.get_weights()]
            history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
            assert np.isfinite(history.history["loss"][0])
            assert any(not np.array_equal(a, b) for a, b in zip(before, backbone.get_weights())), \
                f"{name} {style}: the backbone did not train"
            stem = tmp_path / f"{name}-{style}"
            model.save(f"{stem}.keras")
            np.save(f"{stem}.x.npy", x)
            np.save(f"{stem}.y.npy", model.predict(x, verbose=0))
            cases.append(str(stem))
    result = run_python(
        "import numpy as np, kerasdl\n"
        f"for stem in {cases!r}:\n"
        "    model = kerasdl.load_model(stem + '.keras')\n"
        "    np.testing.assert_array_equal(model.predict(np.load(stem + '.x.npy'), verbose=0),"
        " np.load(stem + '.y.npy'), err_msg=stem)\n"
        "    print('OK', stem)\n", cwd=tmp_path, timeout=600)
    assert result.stdout.count("OK ") == len(cases), result.stderr[-4000:]
