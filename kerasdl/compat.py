"""Workarounds for upstream bugs, each scoped to where it bites, linked, and covered by a test.

**Saving.** Keras 3.15's ``saving_lib.get_attr_skipset`` caches each object type's attribute skip
set under ``saving_attr_skipset_<type>`` but looks it up under ``saving_attr_skiplist_<type>``,
so the cache never hits: every ``model.save`` builds throwaway reference Layer, Optimizer and
Metric objects, 13 ms of the 20 ms that saving LeNet-5 takes. :func:`cached_saving_skipsets`
memoises it (the set depends on the type name alone) while kerasdl itself saves or loads;
``tests/test_publishing.py`` checks it, and that the user's own saves are left to Keras.

**Multi-worker training.** Keras 3 (checked up to 3.15 with TensorFlow 2.21) cannot ``fit`` under
``tf.distribute.MultiWorkerMirroredStrategy`` (keras-team/keras#20585, tensorflow#72388):

1. ``fit`` builds the model from a batch it first reduces across replicas with
   ``strategy.reduce("MEAN", batch)``, which raises on per-replica inputs: we build the model
   ourselves from one local batch, before ``fit``, so that step has nothing to do;
2. metrics are averaged over workers with ``strategy.reduce("MEAN", value, axis=0)``, which raises
   for scalar metrics: we reduce scalars over replicas only (``axis=None``).

:func:`build_for_multiworker` builds kerasdl's model that way; :func:`multiworker_metric_reduction`
changes the reduction around kerasdl's own fit and evaluate only.
``tests/test_devices.py`` runs a real two-worker cluster on loopback through these, so a Keras
release that changes the private functions patched here fails that test, not a user's cluster.

Every patch is undone when kerasdl's call returns, and ``tests/test_compat.py`` fails once the
installed Keras has fixed the bug a patch works around, saying which patch to delete.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

#: type name -> its attribute skip set (what Keras meant to cache; the sets never change)
_SKIPSETS: dict[str, set] = {}


@contextmanager
def cached_saving_skipsets() -> Iterator[None]:
    """Memoise Keras's per-type attribute skip sets for saving and loading within the block.

    See above for why; Keras's own function is back in place after the block.
    """
    from keras.src.saving import saving_lib

    original = saving_lib.get_attr_skipset

    def get_attr_skipset(obj_type):
        if obj_type not in _SKIPSETS:
            _SKIPSETS[obj_type] = original(obj_type)
        return _SKIPSETS[obj_type]

    saving_lib.get_attr_skipset = get_attr_skipset
    try:
        yield
    finally:
        saving_lib.get_attr_skipset = original


def build_for_multiworker(model, strategy, local_batch) -> None:
    """Build a compiled ``model`` from one local batch, for ``fit`` under MultiWorkerMirroredStrategy.

    ``fit`` then has no cross-replica build step to fail in (1. above); this model only.
    """
    with strategy.scope():
        model._symbolic_build(data_batch=local_batch)
    model._maybe_symbolic_build = lambda *args, **kwargs: None   # built above


@contextmanager
def multiworker_metric_reduction() -> Iterator[None]:
    """Average scalar metrics over replicas only under MultiWorkerMirroredStrategy, within the block.

    See 2. above; Keras's reduction is back in place after the block.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("mean", "auto") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        trainer.reduce_per_replica = original
