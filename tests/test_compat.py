"""kerasdl.compat: each workaround is in force only inside kerasdl's own calls, and a test here
fails once the installed Keras has fixed the bug it works around (then delete the workaround)."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from kerasdl import compat


def test_keras_still_misses_its_skipset_cache():
    """Keras caches get_attr_skipset's result under ``saving_attr_skipset_<type>`` and reads
    ``saving_attr_skiplist_<type>``. When this fails, Keras reads what it writes: delete
    compat.cached_saving_skipsets and its two uses in kerasdl/files.py and kerasdl/loading.py."""
    from keras.src.backend.common import global_state
    from keras.src.saving import saving_lib

    saving_lib.get_attr_skipset("Layer")
    assert global_state.get_global_attribute("saving_attr_skipset_Layer") is not None
    assert global_state.get_global_attribute("saving_attr_skiplist_Layer") is None, (
        "Keras has fixed get_attr_skipset's cache: delete kerasdl.compat.cached_saving_skipsets")


def test_keras_still_reduces_scalar_metrics_along_axis_0_across_workers():
    """Keras's multi-worker mean reduction passes axis=0, which fails for scalar metrics
    (keras-team/keras#20585). When this fails, check tests/test_devices.py's two-worker test
    without compat.multiworker_metric_reduction, and delete it if that passes."""
    from keras.src.backend.tensorflow import trainer

    assert 'strategy.reduce("MEAN", v, axis=0)' in inspect.getsource(trainer.reduce_per_replica)


def test_the_saving_patch_is_kerasdls_alone(tmp_path, monkeypatch):
    """Inside kerasdl's save and load the skip sets come from kerasdl's cache; before and after,
    and so in the user's own ``model.save``, Keras's function is the one in place."""
    import keras
    from keras.src.saving import saving_lib

    from kerasdl.files import save_model_atomically
    from kerasdl.loading import load_model

    keras_own = saving_lib.get_attr_skipset
    seen = []
    monkeypatch.setattr(keras.Model, "save", lambda self, path, *a, **k: (
        seen.append(saving_lib.get_attr_skipset), saving_lib.save_model(self, path)))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    save_model_atomically(model, tmp_path / "m.keras")
    assert seen[0] is not keras_own and seen[0].__module__ == "kerasdl.compat"
    assert saving_lib.get_attr_skipset is keras_own
    model.save(tmp_path / "users.keras")                   # the user's own save: Keras's
    assert seen[1] is keras_own
    np.testing.assert_array_equal(load_model(tmp_path / "m.keras").get_weights()[0],
                                  model.get_weights()[0])
    assert saving_lib.get_attr_skipset is keras_own


def test_the_metric_reduction_patch_is_undone_even_after_an_error():
    from keras.src.backend.tensorflow import trainer

    keras_own = trainer.reduce_per_replica
    with compat.multiworker_metric_reduction():
        assert trainer.reduce_per_replica is not keras_own
    assert trainer.reduce_per_replica is keras_own
    with pytest.raises(RuntimeError), compat.multiworker_metric_reduction():
        raise RuntimeError("a failed fit")
    assert trainer.reduce_per_replica is keras_own
