"""Train-time image augmentation with stateless random ops.

Every random draw is a function of an explicit seed (derived from the shuffle seed, the epoch and
the batch index), never of hidden random state, so an epoch's augmented batches are the same
whether the run got there in one go or was resumed after a crash.

* translate: shift by up to 10% of the height and width;
* rotate: rotate by up to 10 degrees;
* zoom: scale by 0.9 to 1.1;
* flip: mirror left-right with probability 1/2.

All of them are one projective transform per image (bilinear, zeros filled in).
"""
from __future__ import annotations

import math
from typing import Sequence

TRANSLATE, ROTATE_DEGREES, ZOOM = 0.1, 10.0, 0.1


def augment_batch(images, seed, names: Sequence[str]):
    """Augment a batch of images (B, H, W, C) float; ``seed`` is an int64/int32 tensor of shape (2,)."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 5)

    def uniform(index, low, high, shape=None):
        return tf.random.stateless_uniform(shape if shape is not None else [batch], seeds[index],
                                           low, high)

    angle = uniform(0, -1.0, 1.0) * (ROTATE_DEGREES * math.pi / 180) if "rotate" in names \
        else tf.zeros([batch])
    scale = 1.0 + uniform(1, -ZOOM, ZOOM) if "zoom" in names else tf.ones([batch])
    shift_x = uniform(2, -TRANSLATE, TRANSLATE) * width if "translate" in names else tf.zeros([batch])
    shift_y = uniform(3, -TRANSLATE, TRANSLATE) * height if "translate" in names else tf.zeros([batch])
    mirror = tf.where(uniform(4, 0.0, 1.0) < 0.5, -1.0, 1.0) if "flip" in names else tf.ones([batch])

    # output pixel (x, y) reads input pixel centre + R(-angle) (p - centre - shift) / scale, mirrored
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos * mirror, sin
    b0, b1 = -sin * mirror, cos
    a2 = cx - a0 * (cx + shift_x) - a1 * (cy + shift_y)
    b2 = cy - b0 * (cx + shift_x) - b1 * (cy + shift_y)
    zeros = tf.zeros([batch])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    augmented = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    augmented.set_shape(images.shape)     # keep the static (B, H, W, C) that models are built from
    return augmented
