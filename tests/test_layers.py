"""kerasdl.layers.local (unshared and tiled convolution) and the seed's hand-computed convolutions.

LocallyConnected2D and TiledConv2D are checked against naive NumPy references that loop over
output positions, their weights against the parameter formulas, and their sharing patterns by
perturbing one kernel and watching which outputs move. Conv2D is checked on the seed's vertical
edge example and with the four 3x3 edge filters on a real MNIST digit, drawn to a PNG.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasdl.layers.local import LocallyConnected2D, TiledConv2D, extract_patches


# === Naive references: a loop over output positions ===

def _pad_same(x, kernel_size, strides):
    """TensorFlow's "same" padding of (batch, H, W, C) (the extra row/column after)."""
    pads = []
    for size, k, s in zip(x.shape[1:3], kernel_size, strides):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0), *pads, (0, 0)])


def naive_patch_conv(x, kernel_at, bias_at, kernel_size, strides, padding):
    """out[b, i, j, f] = sum(x[b, window(i, j)] * kernel_at(i, j)[..., f]) + bias_at(i, j)[f]."""
    (kh, kw), (sh, sw) = kernel_size, strides
    if padding == "same":
        x = _pad_same(x, kernel_size, strides)
    out_h, out_w = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    filters = kernel_at(0, 0).shape[-1]
    out = np.zeros((x.shape[0], out_h, out_w, filters), dtype=np.float64)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            out[:, i, j, :] = np.einsum("bxyc,xycf->bf", window, kernel_at(i, j)) + bias_at(i, j)
    return out


def _random_weights(layer, seed):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])


CASES = [  # kernel_size, strides, padding, input (H, W, C), filters
    ((3, 3), (1, 1), "valid", (7, 7, 2), 3),
    ((3, 2), (2, 1), "valid", (9, 8, 3), 4),
    ((3, 3), (2, 2), "same", (7, 6, 2), 2),
    ((2, 2), (1, 1), "same", (5, 5, 1), 3),
]


# === LocallyConnected2D ===

@pytest.mark.parametrize("kernel_size, strides, padding, shape, filters", CASES)
def test_locally_connected_equals_the_naive_reference(kernel_size, strides, padding, shape,
                                                      filters):
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    layer = LocallyConnected2D(filters, kernel_size, strides=strides, padding=padding,
                               activation="relu")
    layer.build(x.shape)
    _random_weights(layer, 1)
    kernel, bias = layer.get_weights()
    expected = naive_patch_conv(x, lambda i, j: kernel[i, j], lambda i, j: bias[i, j],
                                kernel_size, strides, padding)
    out = np.asarray(layer(x))
    assert out.shape == tuple(layer.compute_output_shape(x.shape)) == expected.shape
    np.testing.assert_allclose(out, np.maximum(expected, 0), rtol=1e-4, atol=1e-4)


def test_locally_connected_parameter_formula():
    # 28x28x3 input, 5x5 kernel, 8 filters -> 24x24 positions
    layer = LocallyConnected2D(8, 5)
    layer.build((None, 28, 28, 3))
    assert layer.count_params() == 24 * 24 * (5 * 5 * 3 * 8) + 24 * 24 * 8 == 350_208
    assert [tuple(w.shape) for w in layer.weights] == [(24, 24, 5, 5, 3, 8), (24, 24, 8)]
    no_bias = LocallyConnected2D(8, 5, strides=2, use_bias=False)
    no_bias.build((None, 28, 28, 3))
    assert no_bias.count_params() == 12 * 12 * (5 * 5 * 3 * 8)


def test_locally_connected_weights_are_unshared():
    """Changing the kernel of one output position changes that position's output only."""
    x = np.random.default_rng(2).normal(size=(1, 6, 6, 2)).astype("float32")
    layer = LocallyConnected2D(3, 3)
    layer.build(x.shape)
    _random_weights(layer, 3)
    before = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    kernel[1, 2] += 1.0
    layer.set_weights([kernel, bias])
    moved = np.any(np.abs(np.asarray(layer(x)) - before) > 1e-5, axis=(0, 3))
    expected = np.zeros((4, 4), bool)
    expected[1, 2] = True
    np.testing.assert_array_equal(moved, expected)
    # and it is no convolution: the same input patch at two positions gives different outputs
    flat = np.ones((1, 6, 6, 2), "float32")
    out = np.asarray(layer(flat))
    assert not np.allclose(out[0, 0, 0], out[0, 3, 3])


def test_locally_connected_with_one_kernel_everywhere_is_a_convolution():
    x = np.random.default_rng(4).normal(size=(2, 8, 7, 3)).astype("float32")
    conv = keras.layers.Conv2D(4, 3, strides=2, padding="same")
    expected = np.asarray(conv(x))
    kernel, bias = conv.get_weights()
    local = LocallyConnected2D(4, 3, strides=2, padding="same")
    local.build(x.shape)
    out_h, out_w = expected.shape[1:3]
    local.set_weights([np.broadcast_to(kernel, (out_h, out_w, *kernel.shape)).copy(),
                       np.broadcast_to(bias, (out_h, out_w, 4)).copy()])
    np.testing.assert_allclose(np.asarray(local(x)), expected, rtol=1e-5, atol=1e-5)


# === TiledConv2D ===

@pytest.mark.parametrize("tile_size", [2, 3, (2, 3)])
@pytest.mark.parametrize("kernel_size, strides, padding, shape, filters", CASES)
def test_tiled_conv_equals_the_naive_reference(kernel_size, strides, padding, shape, filters,
                                               tile_size):
    x = np.random.default_rng(5).normal(size=(2, *shape)).astype("float32")
    layer = TiledConv2D(filters, kernel_size, tile_size=tile_size, strides=strides,
                        padding=padding)
    layer.build(x.shape)
    _random_weights(layer, 6)
    kernel, bias = layer.get_weights()
    th, tw = (tile_size, tile_size) if isinstance(tile_size, int) else tile_size
    expected = naive_patch_conv(x, lambda i, j: kernel[i % th, j % tw], lambda i, j: bias,
                                kernel_size, strides, padding)
    out = np.asarray(layer(x))
    assert out.shape == tuple(layer.compute_output_shape(x.shape)) == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_tiled_conv_parameter_formula():
    layer = TiledConv2D(8, 5, tile_size=3)
    layer.build((None, 28, 28, 3))
    assert layer.count_params() == 3 * 3 * (5 * 5 * 3 * 8) + 8 == 5_408
    assert [tuple(w.shape) for w in layer.weights] == [(3, 3, 5, 5, 3, 8), (8,)]


def test_tiled_conv_kernels_rotate_with_period_t():
    """Kernel (a, b) drives exactly the positions (i, j) with i mod t = a and j mod t = b."""
    x = np.random.default_rng(7).normal(size=(1, 9, 9, 2)).astype("float32")
    layer = TiledConv2D(2, 3, tile_size=3)
    layer.build(x.shape)
    _random_weights(layer, 8)
    before = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    kernel[1, 2] += 1.0
    layer.set_weights([kernel, bias])
    moved = np.any(np.abs(np.asarray(layer(x)) - before) > 1e-5, axis=(0, 3))
    rows, cols = np.indices((7, 7))
    np.testing.assert_array_equal(moved, (rows % 3 == 1) & (cols % 3 == 2))


@pytest.mark.parametrize("strides, padding", [(1, "valid"), (2, "same")])
def test_tiled_conv_with_tile_size_1_is_conv2d(strides, padding):
    x = np.random.default_rng(9).normal(size=(3, 10, 9, 3)).astype("float32")
    conv = keras.layers.Conv2D(5, (3, 2), strides=strides, padding=padding)
    expected = np.asarray(conv(x))
    kernel, bias = conv.get_weights()
    tiled = TiledConv2D(5, (3, 2), tile_size=1, strides=strides, padding=padding)
    tiled.build(x.shape)
    assert tiled.count_params() == conv.count_params()
    tiled.set_weights([kernel[np.newaxis, np.newaxis], bias])
    np.testing.assert_allclose(np.asarray(tiled(x)), expected, rtol=1e-5, atol=1e-5)


# === Both: patches, config, saving, errors ===

def test_patches_follow_the_conv2d_kernel_order():
    x = np.arange(2 * 5 * 4 * 3, dtype="float32").reshape(2, 5, 4, 3)
    patches = np.asarray(extract_patches(x, (2, 3), (2, 1), "valid"))
    assert patches.shape == (2, 2, 2, 2 * 3 * 3)
    np.testing.assert_array_equal(patches[1, 1, 0], x[1, 2:4, 0:3, :].reshape(-1))


@pytest.mark.parametrize("make", [
    lambda: LocallyConnected2D(4, (3, 2), strides=(1, 2), padding="same", activation="tanh",
                               use_bias=False, kernel_regularizer="l2", name="lc"),
    lambda: TiledConv2D(4, 3, tile_size=(2, 3), strides=2, activation="relu",
                        kernel_initializer="he_normal", name="tiled"),
])
def test_config_round_trips_and_a_model_reloads(tmp_path, make):
    layer = make()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((8, 9, 2)), layer])
    x = np.random.default_rng(10).random((2, 8, 9, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(reloaded.layers[0]) is type(layer)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'; received: "
                                         "padding='causal'"):
        LocallyConnected2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="tile_size must be a positive int"):
        TiledConv2D(4, 3, tile_size=0)
    with pytest.raises(ValueError, match="needs a known input height and width"):
        LocallyConnected2D(4, 3).build((None, None, None, 3))
    with pytest.raises(ValueError, match="kernel_size \\(5, 5\\) is larger than the input 3x3"):
        TiledConv2D(4, 5).build((None, 3, 3, 1))


# === Conv2D as the seed computes it by hand ===

VERTICAL = np.array([[1, 0, -1]] * 3, dtype="float32")
EDGE_FILTERS = {   # 3x3 kernels, applied as Keras computes a convolution (cross-correlation)
    "vertical": VERTICAL,
    "horizontal": VERTICAL.T.copy(),
    "Sobel (vertical)": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype="float32"),
    "Scharr (vertical)": np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype="float32"),
}


def _fixed_conv(kernels: list[np.ndarray]) -> keras.layers.Conv2D:
    conv = keras.layers.Conv2D(len(kernels), 3, use_bias=False)
    conv.build((None, None, None, 1))
    conv.set_weights([np.stack(kernels, axis=-1)[:, :, np.newaxis, :]])
    return conv


def test_the_seeds_vertical_edge_example():
    image = np.zeros((6, 6), "float32")
    image[:, :3] = 10                                      # bright left half, dark right half
    out = np.asarray(_fixed_conv([VERTICAL])(image[np.newaxis, :, :, np.newaxis]))[0, :, :, 0]
    np.testing.assert_array_equal(out, np.tile([0, 30, 30, 0], (4, 1)))


def plot_edge_filters(image: np.ndarray, path) -> np.ndarray:
    """Apply EDGE_FILTERS to a (H, W) image with Conv2D; draw image + kernels + maps to ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = np.asarray(_fixed_conv(list(EDGE_FILTERS.values()))(
        image[np.newaxis, :, :, np.newaxis].astype("float32")))[0]
    fig, axes = plt.subplots(2, 1 + len(EDGE_FILTERS), figsize=(12, 6))
    axes[0, 0].imshow(image, cmap="gray")
    axes[0, 0].set_title("MNIST digit")
    axes[1, 0].axis("off")
    for index, (name, kernel) in enumerate(EDGE_FILTERS.items(), start=1):
        axes[0, index].imshow(kernel, cmap="coolwarm", vmin=-10, vmax=10)
        for (r, c), value in np.ndenumerate(kernel):
            axes[0, index].text(c, r, f"{value:g}", ha="center", va="center")
        axes[0, index].set_title(name)
        limit = np.abs(maps[..., index - 1]).max()
        axes[1, index].imshow(maps[..., index - 1], cmap="coolwarm", vmin=-limit, vmax=limit)
        axes[1, index].set_title(f"response, max |r| = {limit:.2f}")
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    fig.suptitle("3x3 edge filters (Conv2D, no padding): red = positive, blue = negative")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return maps


def test_four_edge_filters_on_an_mnist_digit_drawn_to_png(tmp_path):
    from matplotlib.image import imread
    from scipy.signal import correlate2d

    from kerasdl.data.embedded import load_mnist

    image = load_mnist(0).x_train[0, :, :, 0].astype("float32") / 255
    path = tmp_path / "edge_filters.png"
    maps = plot_edge_filters(image, path)
    assert maps.shape == (26, 26, 4)
    for index, kernel in enumerate(EDGE_FILTERS.values()):
        np.testing.assert_allclose(maps[..., index], correlate2d(image, kernel, mode="valid"),
                                   atol=1e-5)
        assert np.abs(maps[..., index]).max() > 1.0           # a digit has edges
    # the vertical filter sees vertical strokes, the horizontal one horizontal strokes
    assert not np.allclose(np.abs(maps[..., 0]), np.abs(maps[..., 1]))
    assert path.stat().st_size > 10_000
    pixels = imread(path)
    assert pixels.shape[:2] == (480, 960) and pixels[..., :3].std() > 0.1
