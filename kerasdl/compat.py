"""Workarounds for upstream bugs, each scoped to where it bites, linked, and covered by a test.

Keras 3 (checked up to 3.15 with TensorFlow 2.21) cannot ``fit`` under
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
