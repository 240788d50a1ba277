"""Workarounds for upstream bugs, each scoped to where it bites, linked, and covered by a test.

**Saving.** Keras 3.15's ``saving_lib.get_attr_skipset`` caches each object type's attribute skip
set under ``saving_attr_skipset_<type>`` but looks it up under ``saving_attr_skiplist_<type>``,
so the cache never hits: every ``model.save`` builds throwaway reference Layer, Optimizer and
Metric objects, 13 ms of the 20 ms that saving LeNet-5 takes. :func:`cache_saving_skipsets`
memoises it (the set depends on the type name alone); ``tests/test_saving.py`` checks it.

**Multi-worker training.** Keras 3 (checked up to 3.15 with TensorFlow 2.21) cannot ``fit`` under
``tf.distribute.MultiWorkerMirroredStrategy`` (keras-team/keras#20585, tensorflow#72388):

1. ``fit`` builds the model from a batch it first reduces across replicas with
   ``strategy.reduce("MEAN", batch)``, which raises on per-replica inputs: we build the model
   ourselves from one local batch, before ``fit``, so that step has nothing to do;
2. metrics are averaged over workers with ``strategy.reduce("MEAN", value, axis=0)``, which raises
   for scalar metrics: we reduce scalars over replicas only (``axis=None``).

``tests/test_devices.py`` runs a real two-worker cluster on loopback through these, so a Keras
release that changes the private functions patched here fails that test, not a user's cluster.
"""
from __future__ import annotations

_PATCHED = False


def cache_saving_skipsets() -> None:
    """Memoise Keras's per-type attribute skip sets for saving and loading (see above)."""
    from keras.src.saving import saving_lib

    original = getattr(saving_lib, "get_attr_skipset", None)
    if original is None or getattr(original, "kerasdl_cached", False):
        return
    cache: dict[str, set] = {}

    def get_attr_skipset(obj_type):
        if obj_type not in cache:
            cache[obj_type] = original(obj_type)
        return cache[obj_type]

    get_attr_skipset.kerasdl_cached = True
    saving_lib.get_attr_skipset = get_attr_skipset


def _patch_multiworker_metric_reduction() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("mean", "auto") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    trainer.reduce_per_replica = reduce_per_replica
    _PATCHED = True


def prepare_for_multiworker(model, strategy, local_batch) -> None:
    """Make a compiled ``model`` trainable with ``fit`` under MultiWorkerMirroredStrategy."""
    _patch_multiworker_metric_reduction()
    with strategy.scope():
        model._symbolic_build(data_batch=local_batch)
    model._maybe_symbolic_build = lambda *args, **kwargs: None   # built above
