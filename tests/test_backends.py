"""The builders on JAX and PyTorch (issue 26, 5): every family, in every style it declares, builds,
predicts and trains a step with ``model.fit`` on NumPy arrays under ``KERAS_BACKEND=jax`` and
``torch`` (each where this Python imports it), each backend in a fresh process of its own
(bench/backends_table.py's probe). A model that needs TensorFlow says so in one line.

The runner and the CLI stay on TensorFlow (tf.data, tf.distribute); only the builders are checked.
"""
from __future__ import annotations

import importlib.util
import sys

import keras
import pytest

from kerasdl.errors import ModelError
from kerasdl.models import build, get_model_class, list_models

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from backends_table import NEEDS_TF, OK, probe_in_a_fresh_process, probe_one  # noqa: E402

BACKENDS = ["jax", "torch"]


def _needs(backend: str):
    if importlib.util.find_spec(backend) is None:
        where = ("pip install -e '.[jax]' (the CPU jax wheel)" if backend == "jax" else
                 "pip install torch --index-url https://download.pytorch.org/whl/cpu (the CPU "
                 "wheel; PyPI's pulls GBs of CUDA libraries), e.g. in a venv made with "
                 "--system-site-packages, and run pytest with its python")
        pytest.skip(f"{backend} is not installed for {sys.executable}: {where}")


def _assert_ok_or_declared(table: dict, backend: str) -> None:
    """Every entry ok, or refused in one line by a model whose tensorflow_only hook says so."""
    failures = []
    for name, styles in table.items():
        cls = get_model_class(name)
        declared = getattr(cls, "tensorflow_only", lambda options: None)(cls.test_kwargs)
        assert set(styles) == set(cls.styles), name
        for style, result in styles.items():
            if declared is not None and result["status"] == NEEDS_TF:
                assert "\n" not in result["error"] and f"KERAS_BACKEND is '{backend}'" in result["error"]
                assert declared[0] in result["error"], result["error"]
            elif result["status"] != OK:
                failures.append(f"{name} {style}: {result}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_builder_and_style_builds_predicts_and_fits_under(backend):
    """The whole zoo under one backend: each of its families in each of its styles."""
    _needs(backend)
    table = probe_in_a_fresh_process(backend, [])
    assert list(table) == list_models()
    _assert_ok_or_declared(table, backend)


@pytest.mark.slow   # 18-36 s (jax), 22 s (torch); the in-process probe and refusal stay default
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_small_model_runs_and_a_string_model_refuses_in_one_line_under(backend):
    """The cheap twin of the slow zoo check: LeNet-5 in its three styles under one backend, and
    the raw-string Transformer's one-line refusal."""
    _needs(backend)
    table = probe_in_a_fresh_process(backend, ["lenet5", "transformer_classifier"])
    _assert_ok_or_declared(table, backend)
    assert all(result["status"] == OK for result in table["lenet5"].values())
    assert all(result["status"] == NEEDS_TF for result in table["transformer_classifier"].values())


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
def test_the_probe_passes_a_step_that_trains_and_fails_one_that_trains_nothing(monkeypatch):
    """The probe's own check, in this process (TensorFlow): LeNet-5 passes; the same model with its
    weights frozen predicts and fits with a finite loss, yet the probe calls it an error."""
    import kerasdl.models

    assert probe_one("lenet5", "functional") == {"status": OK}
    real_build = kerasdl.models.build

    def frozen(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.trainable = False
        return model

    monkeypatch.setattr(kerasdl.models, "build", frozen)
    assert probe_one("lenet5", "functional") == {
        "status": "error", "error": "fit's step changed no trainable weight"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tensorflow_only_model_names_the_backend_and_the_way_out(monkeypatch, backend):
    """Under another backend, the raw-string Transformer is a one-line ModelError saying why it
    needs TensorFlow and what runs elsewhere; with int token ids it builds."""
    monkeypatch.setattr(keras.backend, "backend", lambda: backend)
    kwargs = dict(get_model_class("transformer_classifier").test_kwargs)
    with pytest.raises(ModelError) as refused:
        build("transformer_classifier", **kwargs)
    message = str(refused.value)
    assert "\n" not in message
    for part in ("model 'transformer_classifier' needs the TensorFlow backend",
                 "TextVectorization on strings", f"KERAS_BACKEND is '{backend}'",
                 "KERAS_BACKEND=tensorflow", "vocab_size"):
        assert part in message, message
    kwargs.pop("vocabulary")
    assert build("transformer_classifier", vocab_size=20, **kwargs).count_params() > 0
