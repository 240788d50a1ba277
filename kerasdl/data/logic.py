"""Generated datasets: the truth tables of AND, OR and XOR, with enough examples to split.

The four points (0,0), (0,1), (1,0), (1,1) are repeated 100 times each and jittered with Gaussian
noise (sigma 0.1, fixed seed 0) while the label stays the clean point's truth value; the 400
examples are split 80/20 train/test (320/80), stratified by the point, with ``data.split_seed``.
So the test split holds 20 noisy copies of each point, and a model that computes the function
scores 100% (the noise never carries a point across the other class's decision boundary
x + y = 0.5 / 1.5 for AND/OR, as 0.354 >= 3.5 sigma away; XOR needs two such lines).

Features are float32 ``(2,)`` in about [-0.3, 1.3] and labels int64 in {0, 1} (``num_classes=2``):
set ``data.rescale=None`` (the default ``1/255`` is for image bytes) and use a binary loss
(``binary_crossentropy``, one sigmoid unit) or a sparse one (two softmax units).

Reference:
    Minsky, Papert. "Perceptrons." MIT Press, 1969 (XOR is not linearly separable).
"""
from __future__ import annotations

import numpy as np

from kerasdl.data.embedded import TEST_FRACTION, register_dataset
from kerasdl.data.splits import Splits

POINTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TRUTH = {
    "and": np.array([0, 0, 0, 1]),
    "or": np.array([0, 1, 1, 1]),
    "xor": np.array([0, 1, 1, 0]),
}
REPEATS = 100          # copies of each point
NOISE = 0.1            # standard deviation of the Gaussian jitter on the inputs
NOISE_SEED = 0         # the jitter is fixed; data.split_seed only chooses the split


def logic_dataset(function: str, split_seed: int, repeats: int = REPEATS, noise: float = NOISE
                  ) -> Splits:
    """The noisy truth table of ``function`` ("and", "or", "xor"), split 80/20 train/test."""
    from sklearn.model_selection import train_test_split

    if function not in TRUTH:
        raise ValueError(f"function must be one of {', '.join(TRUTH)}; received: {function!r}")
    corner = np.repeat(np.arange(len(POINTS)), repeats)
    x = POINTS[corner] + np.random.default_rng(NOISE_SEED).normal(
        0.0, noise, size=(len(corner), 2)).astype(np.float32)
    y = TRUTH[function][corner].astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=corner, random_state=split_seed)
    return Splits.from_arrays(
        x_train, y_train, x_test, y_test, 2,
        f"{function.upper()} truth table: the 4 points x {repeats}, Gaussian noise "
        f"sigma {noise} on the inputs, stratified {1 - TEST_FRACTION:.0%}/"
        f"{TEST_FRACTION:.0%} train/test split (split_seed={split_seed}); "
        "float features, use data.rescale=None")


@register_dataset("logic_and")
def load_logic_and(split_seed: int) -> Splits:
    """The noisy AND truth table, split 80/20 train/test with ``split_seed``."""
    return logic_dataset("and", split_seed)


@register_dataset("logic_or")
def load_logic_or(split_seed: int) -> Splits:
    """The noisy OR truth table, split 80/20 train/test with ``split_seed``."""
    return logic_dataset("or", split_seed)


@register_dataset("logic_xor")
def load_logic_xor(split_seed: int) -> Splits:
    """The noisy XOR truth table, split 80/20 train/test with ``split_seed``."""
    return logic_dataset("xor", split_seed)
