"""Batching shared by the sources and the pipeline: graph tracing, per-epoch seeded order.

Every epoch's order is a function of (shuffle seed, epoch) alone (stateless random ops), so a
resumed run sees the same batches as one that never stopped. Nothing here imports the sources
or :mod:`kerasdl.data.pipeline`, which both build on it.
"""
from __future__ import annotations


def plain_graph(function):
    """``function`` traced as it is written, without AutoGraph's rewrite of its source.

    The pipeline's functions branch on Python values only (the config), never on tensors, so
    AutoGraph has nothing to convert, yet converting them cost 0.9 s at the start of every run
    (parsing and transforming their source, measured with cProfile)."""
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(function)


def window_shuffle(examples, size: int, seed):
    """Shuffle within consecutive windows of ``size`` examples, deterministically per epoch.

    Stateless ops seeded by ``seed`` (a tensor) and the window index: no hidden random state.
    """
    import tensorflow as tf

    def shuffled(index, window):
        count = tf.shape(tf.nest.flatten(window)[0])[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(count),
                                                         seed=tf.stack([seed, index]))
        return tf.data.Dataset.from_tensor_slices(
            tf.nest.map_structure(lambda t: tf.gather(t, order), window))

    return examples.batch(size).enumerate().flat_map(shuffled)


def per_epoch(batches, epoch_variable, shuffle_seed: int, steps: int):
    """A dataset of ``steps`` batches, ``batches(seed)``, built anew each time it is iterated.

    ``seed`` (a scalar int64 tensor) is a function of ``shuffle_seed`` and of the value
    ``epoch_variable`` holds when the iteration starts (a ``DataEpoch`` callback sets it at every
    epoch's beginning), so an epoch's batches are the same in a resumed run as in one that never
    stopped; shared by the training pipeline and the cached features of a transfer run."""
    import tensorflow as tf

    def epoch(_):
        return batches(shuffle_seed * 100_003 + epoch_variable.read_value())

    return tf.data.Dataset.range(1).flat_map(plain_graph(epoch)).apply(
        tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)


def shuffled_batches(examples, count: int, batch_size: int, seed):
    """``count`` in-memory ``examples`` in the order that ``seed`` draws, cut into batches.

    ``seed`` is a scalar int64 tensor; batches hold ``batch_size`` examples (the last one fewer).
    """
    import tensorflow as tf

    order = tf.random.experimental.stateless_shuffle(
        tf.range(count), seed=tf.stack([seed, tf.constant(7, tf.int64)]))
    return _batches_in_order(examples, order, batch_size)


def _batches_in_order(examples, order, batch_size: int):
    """``examples`` (in-memory tensors) permuted by ``order`` and cut into batches of ``batch_size``.

    The last batch is smaller. One gather straight into batch layout per epoch, then one slice per
    batch: no per-example or per-batch map, and no second copy of the epoch.
    """
    import tensorflow as tf

    count = int(order.shape[0])
    full = count - count % batch_size
    batched = tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(
        lambda t: tf.gather(t, tf.reshape(order[:full], [-1, batch_size])), examples))
    if full < count:
        batched = batched.concatenate(tf.data.Dataset.from_tensors(tf.nest.map_structure(
            lambda t: tf.gather(t, order[full:]), examples)))
    return batched


#: training splits up to this size (after preprocessing) are held as tensors for fast batching
IN_MEMORY_LIMIT_BYTES = 256 * 2**20


def materialize(examples, count: int):
    """The preprocessed training examples as in-memory tensors, or None.

    None when they are larger than IN_MEMORY_LIMIT_BYTES or not of fixed shape.
    """
    import tensorflow as tf

    spec = examples.element_spec
    flat = tf.nest.flatten(spec)
    if not all(s.shape.is_fully_defined() for s in flat):
        return None
    size = sum(count * s.shape.num_elements() * s.dtype.size for s in flat)
    if size > IN_MEMORY_LIMIT_BYTES:
        return None
    return next(iter(examples.batch(count)))
