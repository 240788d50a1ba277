"""AlexNet and VGG: published parameter counts, layer names, keras.applications weight
compatibility, backbone options, and use as a backbone inside a user's own functional model.

The ImageNet-size models (60-144M parameters, 0.25-0.6 GB each) are built in one fresh process
per module run, ``_gather_imagenet_size``, which returns what the tests check (counts, layer
names and shapes, logits); the assertions stay here. In pytest's own process they made it grow
by 8 GB (issue #12, 7)."""
from __future__ import annotations

import gc
import os

import keras
import numpy as np
import pytest

from kerasdl.models import STYLES, build

from conftest import facts_in_a_fresh_process, run_python

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


#: the head options of test_output_shapes_of_the_head_options: (name, kwargs, output shape)
HEAD_OPTIONS = [
    ("alexnet", dict(include_top=False), (6, 6, 256)),
    ("alexnet", dict(include_top=False, pooling="avg"), (256,)),
    ("alexnet", dict(num_classes=10), (10,)),
    ("alexnet", dict(input_shape=(67, 67, 3), include_top=False), (1, 1, 256)),
    ("alexnet", dict(input_shape=(99, 99, 3), num_classes=3), (3,)),
    ("vgg11", dict(include_top=False), (7, 7, 512)),
    ("vgg16", dict(input_shape=(64, 64, 3), include_top=False), (2, 2, 512)),
    ("vgg16", dict(input_shape=(64, 64, 3), include_top=False, pooling="max"), (512,)),
    ("vgg19", dict(input_shape=(32, 32, 3), num_classes=5), (5,)),
]
VGG_CONVS = [("vgg11", (1, 1, 2, 2, 2)), ("vgg16", (2, 2, 3, 3, 3)), ("vgg19", (2, 2, 4, 4, 4))]


def _read(make, read):
    """``read(make())``; the model is freed before the next one is built."""
    value = read(make())
    keras.backend.clear_session()
    gc.collect()
    return value


def _gather_imagenet_size(directory: str) -> dict:
    """Run in a fresh process (``imagenet_size``): builds the ImageNet-size models one at a time
    and returns what the tests below assert on, keyed by test."""
    both = lambda model: (_names(model), _weighted_layers(model))         # noqa: E731
    count_and_layers = lambda model: (model.count_params(), _weighted_layers(model))  # noqa: E731
    facts = {"pinned": {}, "layer_lists": {}, "configurations": {}, "heads": {}}
    for name in sorted(PINNED):                 # test_pinned_parameter_count_in_every_style
        found = facts["pinned"][name] = {}
        if name in APPLICATIONS:
            found["reference"] = _read(lambda: APPLICATIONS[name](weights=None), count_and_layers)
        for style in STYLES:
            found[style] = _read(lambda: build(name, style=style), count_and_layers)
    for name in sorted(APPLICATIONS):           # test_vgg_layer_lists_are_keras_applications
        found = facts["layer_lists"][name] = {}
        found["no_dropout"] = _read(lambda: build(name, dropout=0.0), _names)
        found["applications"] = _read(lambda: APPLICATIONS[name](weights=None), _names)
        found["applications_notop"] = _read(
            lambda: APPLICATIONS[name](weights=None, include_top=False), both)
        for style in STYLES:
            found[style] = _read(lambda: build(name, style=style, include_top=False), both)

    def alexnet(model):                          # test_alexnet_layers_follow_the_seed_table
        conv1 = model.get_layer("conv1")
        return {
            "shapes": {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers},
            "names": _names(model),
            "conv1": (tuple(conv1.kernel.shape), conv1.strides),
            "conv2_kernel": tuple(model.get_layer("conv2").kernel.shape),
            "pool_sizes": [model.get_layer(f"pool{i}").pool_size for i in (1, 2, 5)],
            "dropout_rates": {model.get_layer(n).rate for n in ("fc6_dropout", "fc7_dropout")},
            "conv5_activation": model.get_layer("conv5").activation.__name__,
            "predictions_activation": model.get_layer("predictions").activation.__name__,
        }

    facts["alexnet"] = _read(lambda: build("alexnet", style="sequential"), alexnet)
    facts["alexnet"]["no_dropout_names"] = _read(lambda: build("alexnet", dropout=0.0), _names)
    facts["alexnet"]["fc6_dropout_rate_0.2"] = _read(
        lambda: build("alexnet", dropout=0.2), lambda model: model.get_layer("fc6_dropout").rate)
    for name, convs in VGG_CONVS:                # test_vgg_configurations
        facts["configurations"][name] = _read(lambda: build(name, style="sequential"), lambda m: {
            "names": _names(m),
            "conv1_kernels": {block: tuple(m.get_layer(f"block{block}_conv1").kernel.shape[:2])
                              for block in range(1, len(convs) + 1)},
            "pools": [tuple(m.get_layer(f"block{b}_pool").output.shape[1:]) for b in range(1, 6)],
            "fc1_dropout_rate": m.get_layer("fc1_dropout").rate})
    for index, (name, kwargs, _) in enumerate(HEAD_OPTIONS):  # test_output_shapes_of_the_head...
        input_shape = kwargs.get("input_shape", {"alexnet": (227, 227, 3)}.get(name, (224, 224, 3)))
        facts["heads"][index] = {style: _read(lambda: build(name, style=style, **kwargs),
                                              lambda m: tuple(m(keras.Input(input_shape)).shape))
                                 for style in STYLES}
    return facts


def _vgg16_weights_logits(directory: str) -> dict:
    """The logits test_keras_applications_vgg16_weights_load_into_every_style compares."""
    x = np.random.default_rng(0).random((1, 224, 224, 3)).astype("float32") * 255 - 128
    legacy_file = os.path.join(directory, "vgg16.h5")      # the format of the ImageNet downloads

    def reference_logits_and_weights(reference):
        reference.save(legacy_file)
        return reference.predict(x, verbose=0), reference.get_weights()

    expected, weights = _read(  # keras.applications' logits, and the weights as numpy arrays
        lambda: keras.applications.VGG16(weights=None, classifier_activation=None),
        reference_logits_and_weights)                    # (one 0.55 GB model alive at a time)
    found = {"expected": expected, "set_weights": {}, "load_weights": {}}

    def with_reference_weights(ours):
        own = ours.predict(x, verbose=0)
        ours.set_weights(weights)  # noqa: F821 - reference.get_weights(), deleted after use
        return own, ours.predict(x, verbose=0)

    def with_legacy_file(loaded):
        loaded.load_weights(legacy_file)                  # by layer order, as the .h5 files are
        return loaded.predict(x, verbose=0)

    for style in STYLES:
        make = lambda: build("vgg16", style=style, classifier_activation=None)  # noqa: E731
        own, found["set_weights"][style] = _read(make, with_reference_weights)
        if style == "functional":        # control: our own random weights give other logits
            found["own_weights"] = own
    del weights                          # 0.55 GB less while .h5 files are read (+0.8 GB each)
    for style in STYLES:
        make = lambda: build("vgg16", style=style, classifier_activation=None)  # noqa: E731
        found["load_weights"][style] = _read(make, with_legacy_file)
    os.remove(legacy_file)                                # 0.55 GB on disk
    return found


@pytest.fixture(scope="module")
def imagenet_size(tmp_path_factory) -> dict:
    """What ``_gather_imagenet_size`` found, in a fresh process (about a minute, once)."""
    return facts_in_a_fresh_process(_gather_imagenet_size, tmp_path_factory.mktemp("imagenet"))


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_parameter_count_in_every_style(name, imagenet_size):
    found = imagenet_size["pinned"][name]
    reference = found.get("reference")    # keras.applications: (count_params, weighted layers)
    assert (reference is not None) == (name in APPLICATIONS)
    for style in STYLES:
        count, weighted_layers = found[style]
        assert count == PINNED[name], style
        if reference is not None:        # same layer names and weight shapes, in the same order
            assert weighted_layers == reference[1], style
    if reference is not None:
        assert reference[0] == PINNED[name]


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_vgg_layer_lists_are_keras_applications(name, imagenet_size):
    found = imagenet_size["layer_lists"][name]
    # without dropout (which keras.applications leaves out) the layer lists are identical
    assert found["no_dropout"] == found["applications"]
    notop_names, notop_weighted_layers = found["applications_notop"]
    for style in STYLES:
        names, weighted_layers = found[style]
        assert names == notop_names, style
        assert weighted_layers == notop_weighted_layers, style


def test_alexnet_layers_follow_the_seed_table(imagenet_size):
    found = imagenet_size["alexnet"]                      # build("alexnet", style="sequential")
    shapes = found["shapes"]
    assert shapes == {
        "conv1": (55, 55, 96), "pool1": (27, 27, 96), "conv2": (27, 27, 256),
        "pool2": (13, 13, 256), "conv3": (13, 13, 384), "conv4": (13, 13, 384),
        "conv5": (13, 13, 256), "pool5": (6, 6, 256), "flatten": (9216,),
        "fc6_dropout": (9216,), "fc6": (4096,), "fc7_dropout": (4096,), "fc7": (4096,),
        "predictions": (1000,)}
    assert list(shapes) == found["names"]                    # in this order
    kernel_shape, strides = found["conv1"]
    assert kernel_shape == (11, 11, 3, 96) and strides == (4, 4)
    assert found["conv2_kernel"] == (5, 5, 96, 256)
    assert len(found["pool_sizes"]) == 3
    assert all(pool_size == (3, 3) for pool_size in found["pool_sizes"])
    assert found["dropout_rates"] == {0.5}
    assert found["conv5_activation"] == "relu"
    assert found["predictions_activation"] == "softmax"
    assert "dropout" not in " ".join(found["no_dropout_names"])
    assert found["fc6_dropout_rate_0.2"] == 0.2


@pytest.mark.parametrize("name, convs", VGG_CONVS)
def test_vgg_configurations(name, convs, imagenet_size):
    found = imagenet_size["configurations"][name]         # build(name, style="sequential")
    names = found["names"]
    for block, count in enumerate(convs, start=1):
        assert [n for n in names if n.startswith(f"block{block}_conv")] == [
            f"block{block}_conv{i}" for i in range(1, count + 1)]
        assert found["conv1_kernels"][block] == (3, 3)
    pools = found["pools"]
    assert pools == [(112, 112, 64), (56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 512)]
    assert names[-6:] == ["flatten", "fc1", "fc1_dropout", "fc2", "fc2_dropout", "predictions"]
    assert found["fc1_dropout_rate"] == 0.5


@pytest.mark.parametrize("index", range(len(HEAD_OPTIONS)),
                         ids=[f"{name}-kwargs{i}-shape{i}" for i, (name, _, _) in
                              enumerate(HEAD_OPTIONS)])
def test_output_shapes_of_the_head_options(index, imagenet_size):
    _, _, shape = HEAD_OPTIONS[index]
    found = imagenet_size["heads"][index]        # model(keras.Input(input_shape)).shape, by style
    assert set(found) == set(STYLES)
    for style in STYLES:
        assert found[style] == (None, *shape), style


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


@pytest.mark.slow
def test_keras_applications_vgg16_weights_load_into_every_style(tmp_path):
    """ImageNet weights are keras.applications' files; random-init ones stand in (no network).
    The logits come from ``_vgg16_weights_logits``, in a fresh process of its own (slow: it
    holds two VGG16s and an .h5 file, 3.5 GB at its peak)."""
    found = facts_in_a_fresh_process(_vgg16_weights_logits, tmp_path)
    expected = found["expected"]                   # keras.applications.VGG16's logits
    assert expected.shape == (1, 1000)
    assert expected.std() > 1e-3                   # the logits carry signal, not a constant
    for style in STYLES:
        if style == "functional":        # control: our own random weights give other logits
            assert not np.allclose(found["own_weights"], expected, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(found["set_weights"][style], expected, rtol=1e-5, atol=1e-5,
                                   err_msg=f"set_weights, {style}")
        np.testing.assert_allclose(found["load_weights"][style], expected, rtol=1e-5,
                                   atol=1e-5, err_msg=f"load_weights(.h5), {style}")


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
