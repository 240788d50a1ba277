"""ResNet and GoogLeNet: pinned parameter counts, keras.applications compatibility, the blocks'
skip connections and branches, backbone use. (Styles, training steps and fresh-process reloads of
every model are in test_zoo.py.)"""
from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasdl.layers.inception import InceptionCell
from kerasdl.layers.residual import BasicBlock, BottleneckBlock
from kerasdl.models import build

from conftest import run_python

#: (name, builder kwargs) -> (count_params(), trainable parameters), at the default input shape
PINNED = {
    ("resnet20", ()): (271_098, 269_722),                  # paper, Table 6: 0.27M
    ("resnet20", (("shortcut", "B"),)): (274_042, 272_474),
    ("resnet56", ()): (857_082, 853_018),                  # paper, Table 6: 0.85M
    ("resnet18", ()): (11_699_112, 11_689_512),            # trainable = torchvision resnet18
    ("resnet34", ()): (21_814_696, 21_797_672),            # trainable = torchvision resnet34
    ("resnet50", ()): (25_636_712, 25_583_592),            # = keras.applications.ResNet50
    ("googlenet", ()): (6_998_552, 6_998_552),             # paper: about 6.8M (see its docstring)
}
KERAS_APPLICATIONS_RESNET50 = 25_636_712


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _leaf_layers(model) -> dict[str, keras.layers.Layer]:
    """Every layer that owns weights directly, by name, looking inside block layers."""
    found = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.weights and not list(layer._flatten_layers(include_self=False, recursive=False)):
            assert layer.name not in found, f"two layers named {layer.name}"
            found[layer.name] = layer
    return found


@pytest.mark.parametrize("name, kwargs", sorted(PINNED),
                         ids=["-".join([n, *(f"{k}={v}" for k, v in kw)]) for n, kw in sorted(PINNED)])
def test_parameter_counts_are_pinned(name, kwargs):
    model = build(name, style="sequential", **dict(kwargs))
    assert (model.count_params(), _trainable(model)) == PINNED[(name, kwargs)]


def test_resnet50_matches_keras_applications_layer_by_layer():
    reference = keras.applications.ResNet50(weights=None, classifier_activation=None)
    model = build("resnet50", style="functional", classifier_activation=None)
    assert reference.count_params() == model.count_params() == KERAS_APPLICATIONS_RESNET50
    ours, theirs = _leaf_layers(model), _leaf_layers(reference)
    assert sorted(ours) == sorted(theirs)
    rng = np.random.default_rng(0)
    for name, layer in theirs.items():           # non-trivial weights, BN statistics included
        assert [w.shape for w in ours[name].weights] == [w.shape for w in layer.weights], name
        if isinstance(layer, keras.layers.BatchNormalization):
            values = [rng.uniform(0.5, 1.5, w.shape) if w.name in ("gamma", "moving_variance")
                      else rng.normal(0, 0.1, w.shape) for w in layer.weights]
            layer.set_weights([v.astype("float32") for v in values])
        ours[name].set_weights(layer.get_weights())                  # "ImageNet weights copy in"
    images = rng.random((2, 224, 224, 3)).astype("float32")
    expected = reference.predict(images, verbose=0)
    assert np.std(expected) > 1e-3
    np.testing.assert_allclose(model.predict(images, verbose=0), expected,
                               rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_models_are_chains_of_the_paper_blocks():
    def blocks(name, **kwargs):
        return [layer for layer in build(name, style="sequential", **kwargs).layers
                if isinstance(layer, (BasicBlock, BottleneckBlock))]

    depth = {"resnet20": 9, "resnet56": 27, "resnet18": 8, "resnet34": 16, "resnet50": 16}
    found = {name: blocks(name) for name in depth}
    for name, count in depth.items():
        assert len(found[name]) == count, name
        kind = BottleneckBlock if name == "resnet50" else BasicBlock
        assert all(type(block) is kind for block in found[name]), name
    # CIFAR option A: two parameter-free zero-padding shortcuts; option B: two projections instead
    kinds_a = [block.shortcut_kind for block in blocks("resnet20")]
    assert kinds_a.count("zero_pad") == 2 and "projection" not in kinds_a
    kinds_b = [block.shortcut_kind for block in blocks("resnet20", shortcut="B")]
    assert kinds_b.count("projection") == 2 and "zero_pad" not in kinds_b
    # ResNet-50: a projection on the first block of each stage (conv2 widens 64 -> 256)
    projections = [b.name for b in found["resnet50"] if b.shortcut_kind == "projection"]
    assert projections == ["conv2_block1", "conv3_block1", "conv4_block1", "conv5_block1"]


def _zero_residual_branch(block):
    gamma, beta, mean, variance = block.last_bn.get_weights()
    block.last_bn.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, variance])


@pytest.mark.parametrize("make, in_channels, kind", [
    (lambda: BasicBlock(16), 16, "identity"),
    (lambda: BasicBlock(32, stride=2, shortcut="zero_pad"), 16, "zero_pad"),
    (lambda: BasicBlock(32, stride=2), 16, "projection"),
    (lambda: BottleneckBlock(4), 16, "identity"),
    (lambda: BottleneckBlock(8, stride=2), 16, "projection"),
], ids=["basic-identity", "basic-zero_pad", "basic-projection", "bottleneck-identity",
        "bottleneck-projection"])
def test_zeroing_the_residual_branch_leaves_the_shortcut(make, in_channels, kind):
    block = make()
    x = np.random.default_rng(1).random((2, 8, 8, in_channels)).astype("float32")  # >= 0: post-ReLU
    full = keras.ops.convert_to_numpy(block(x))
    assert block.shortcut_kind == kind
    if kind == "identity":
        shortcut = x
    elif kind == "zero_pad":                     # subsampled, 8 zero channels either side
        shortcut = np.pad(x[:, ::2, ::2, :], [(0, 0), (0, 0), (0, 0), (8, 8)])
    else:
        shortcut = np.maximum(keras.ops.convert_to_numpy(
            block.shortcut_bn(block.shortcut_conv(x), training=False)), 0)
    assert np.abs(shortcut).max() > 0.1
    assert np.abs(full - shortcut).max() > 1e-2          # the residual branch contributes ...
    _zero_residual_branch(block)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)), shortcut,
                               atol=1e-6)               # ... and without it the input goes through


def test_block_errors_name_the_problem():
    with pytest.raises(ValueError, match="identity shortcut needs the output shape of the input"):
        BasicBlock(32, stride=2, shortcut="identity")(np.zeros((1, 8, 8, 16), "float32"))
    with pytest.raises(ValueError, match="shortcut must be one of"):
        BasicBlock(16, shortcut="B")
    with pytest.raises(ValueError, match="shortcut must be 'A'"):
        build("resnet20", shortcut="C")


def test_inception_cell_concatenates_its_four_branches():
    cell = InceptionCell(3, 4, 5, 6, 7, 8, name="cell")
    x = np.random.default_rng(2).random((2, 9, 9, 10)).astype("float32")
    y = keras.ops.convert_to_numpy(cell(x))
    assert y.shape == (2, 9, 9, 3 + 5 + 7 + 8) == cell.compute_output_shape(x.shape)
    branches = [cell.branch_1x1(x), cell.branch_3x3(cell.branch_3x3_reduce(x)),
                cell.branch_5x5(cell.branch_5x5_reduce(x)),
                cell.branch_pool_proj(cell.branch_pool(x))]
    np.testing.assert_allclose(y, np.concatenate([keras.ops.convert_to_numpy(b) for b in branches],
                                                 axis=-1), atol=1e-6)
    assert [k.shape for k in (cell.branch_3x3.kernel, cell.branch_5x5.kernel)] == [(3, 3, 4, 5),
                                                                                   (5, 5, 6, 7)]
    clone = keras.layers.deserialize(keras.layers.serialize(cell))
    assert clone.get_config() == cell.get_config()


def test_googlenet_feature_maps_follow_table_1():
    model = build("googlenet", style="sequential")
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers
              if layer.name.startswith(("inception", "pool"))}
    assert shapes == {
        "pool1": (56, 56, 64), "pool2": (28, 28, 192),
        "inception_3a": (28, 28, 256), "inception_3b": (28, 28, 480), "pool3": (14, 14, 480),
        "inception_4a": (14, 14, 512), "inception_4b": (14, 14, 512), "inception_4c": (14, 14, 512),
        "inception_4d": (14, 14, 528), "inception_4e": (14, 14, 832), "pool4": (7, 7, 832),
        "inception_5a": (7, 7, 832), "inception_5b": (7, 7, 1024)}


@pytest.mark.parametrize("name, size, maps, channels", [
    ("resnet20", 32, (8, 8), 64), ("resnet18", 64, (2, 2), 512), ("resnet50", 32, (1, 1), 2048),
    ("googlenet", 64, (2, 2), 1024)])
def test_backbones_without_top(name, size, maps, channels):
    shape = (size, size, 3)
    assert build(name, input_shape=shape, include_top=False).output_shape == (None, *maps, channels)
    x = np.zeros((1, *shape), "float32")
    for pooling in ("avg", "max"):
        for style in ("sequential", "subclassed"):
            model = build(name, style=style, input_shape=shape, include_top=False, pooling=pooling)
            assert tuple(model(x).shape) == (1, channels), (pooling, style)
    assert build(name, input_shape=shape, num_classes=7).output_shape == (None, 7)
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max'"):
        build(name, input_shape=shape, include_top=False, pooling="mean")


@pytest.mark.slow      # (its classic twin in test_vision_classic.py stays in the default suite)
def test_resnet_backbone_in_a_users_functional_model_fits_saves_and_reloads(tmp_path):
    backbone = build("resnet20", style="functional", include_top=False, pooling="avg")
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(backbone(inputs))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(3)
    x, y = rng.random((64, 32, 32, 3)).astype("float32"), rng.integers(0, 3, 64)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = backbone.get_layer("conv2_block1").get_weights()[0].copy()
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(before, backbone.get_layer("conv2_block1").get_weights()[0])
    model.save(tmp_path / "user.keras")
    np.save(tmp_path / "x.npy", x[:4])
    np.save(tmp_path / "y.npy", model.predict(x[:4], verbose=0))
    result = run_python(
        "import numpy as np, kerasdl\n"
        "model = kerasdl.load_model('user.keras')\n"
        "np.testing.assert_allclose(model.predict(np.load('x.npy'), verbose=0), np.load('y.npy'),"
        " rtol=1e-6, atol=1e-6)\n"
        "print('OK', type(model.layers[1].get_layer('conv2_block1')).__name__)\n", cwd=tmp_path)
    assert "OK BasicBlock" in result.stdout, result.stderr[-3000:]


def test_every_style_trains_batch_normalization_in_training_mode():
    x = np.random.default_rng(4).random((4, 32, 32, 3)).astype("float32")
    for style in ("sequential", "functional", "subclassed"):
        model = build("resnet20", style=style)
        bn = model.get_layer("conv2_block1").bn1
        before = bn.moving_mean.numpy().copy()
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, np.zeros(4))
        assert not np.array_equal(before, bn.moving_mean.numpy()), style
