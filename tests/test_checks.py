"""Pre-flight checks between data, model and loss (pure functions on shapes)."""
from __future__ import annotations

import pytest

from kerasdl.checks import check_model_fits_data
from kerasdl.errors import DataError

FITS = dict(model_name="lenet5", input_shape=(32, 32, 1), output_shape=(None, 10),
            features_shape=(None, 32, 32, 1), labels_shape=(None,), labels_are_integers=True,
            loss="sparse_categorical_crossentropy", num_classes=10, dataset="mnist")


def test_a_fitting_combination_passes():
    check_model_fits_data(**FITS)
    check_model_fits_data(**{**FITS, "labels_shape": (None, 10), "labels_are_integers": False,
                             "loss": "categorical_crossentropy"})
    check_model_fits_data(**{**FITS, "output_shape": (None, 1), "labels_shape": (None,),
                             "loss": "binary_crossentropy", "num_classes": 2})
    check_model_fits_data(**{**FITS, "input_shape": (20,), "features_shape": (None, 20),
                             "output_shape": (None, 20, 5), "labels_shape": (None, 20),
                             "num_classes": 5})                    # per-token tagging


@pytest.mark.parametrize("change, message", [
    ({"features_shape": (None, 28, 28, 1)},
     "input shape mismatch: dataset 'mnist' yields features of shape (None, 28, 28, 1) but model "
     "'lenet5' expects (None, 32, 32, 1)"),
    ({"features_shape": (None, 784)}, "yields features of shape (None, 784)"),
    ({"labels_shape": (None, 10), "labels_are_integers": False},
     "loss 'sparse_categorical_crossentropy' needs integer class ids of shape (None,) for outputs "
     "(None, 10); the labels have shape (None, 10) (one-hot?)"),
    ({"loss": "categorical_crossentropy"},
     "loss 'categorical_crossentropy' needs one-hot labels of the output's shape (None, 10); the "
     "labels have shape (None,) (class ids): use loss 'sparse_categorical_crossentropy'"),
    ({"input_shape": (20,), "features_shape": (None, 20), "output_shape": (None, 20, 5),
      "labels_shape": (None, 20, 5), "num_classes": 5},
     "needs integer class ids of shape (None, 20) for outputs (None, 20, 5)"),
    ({"output_shape": (None, 5)},
     "model 'lenet5' outputs 5 classes but dataset 'mnist' has 10; set model.kwargs.num_classes=10"),
    ({"labels_are_integers": False}, "needs integer class ids; the labels are floats"),
    ({"loss": "mse", "labels_shape": (None,)},
     "loss 'mse' compares labels with outputs of the same shape; model 'lenet5' outputs (None, 10) "
     "but the labels have shape (None,)"),
])
def test_mismatches_say_what_disagrees(change, message):
    with pytest.raises(DataError) as error:
        check_model_fits_data(**{**FITS, **change})
    assert message in str(error.value)
