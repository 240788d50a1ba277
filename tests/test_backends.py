"""The builders on JAX and PyTorch (issue 26, 5): every family, in every style it declares, builds,
predicts and trains a step with ``model.fit`` on NumPy arrays under ``KERAS_BACKEND=jax`` (and
``torch`` where it is installed), each backend in a fresh process of its own
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
from backends_table import NEEDS_TF, OK, probe_in_a_fresh_process  # noqa: E402


def _needs(backend: str):
    if importlib.util.find_spec(backend) is None:
        where = ("pip install -e '.[jax]' (the CPU jax wheel)" if backend == "jax" else
                 "no CPU torch wheel is installed here (the PyPI one pulls GBs of CUDA libraries)")
        pytest.skip(f"{backend} is not installed: {where}")


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
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_every_builder_and_style_builds_predicts_and_fits_under(backend):
    """The whole zoo under one backend: each of its families in each of its styles."""
    _needs(backend)
    table = probe_in_a_fresh_process(backend, [])
    assert list(table) == list_models()
    _assert_ok_or_declared(table, backend)


@pytest.mark.slow          # 18 s; the in-process refusal test stays in the default suite
def test_a_small_model_runs_and_a_string_model_refuses_in_one_line_under_jax():
    """The default suite's twin of the slow zoo check: LeNet-5 in its three styles under JAX, and
    the raw-string Transformer's one-line refusal."""
    _needs("jax")
    table = probe_in_a_fresh_process("jax", ["lenet5", "transformer_classifier"])
    _assert_ok_or_declared(table, "jax")
    assert all(result["status"] == OK for result in table["lenet5"].values())
    assert all(result["status"] == NEEDS_TF for result in table["transformer_classifier"].values())


def test_a_tensorflow_only_model_names_the_backend_and_the_way_out(monkeypatch):
    """Under another backend, the raw-string Transformer is a one-line ModelError saying why it
    needs TensorFlow and what runs elsewhere; with int token ids it builds."""
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    kwargs = dict(get_model_class("transformer_classifier").test_kwargs)
    with pytest.raises(ModelError) as refused:
        build("transformer_classifier", **kwargs)
    message = str(refused.value)
    assert "\n" not in message
    for part in ("model 'transformer_classifier' needs the TensorFlow backend",
                 "TextVectorization on strings", "KERAS_BACKEND is 'jax'",
                 "KERAS_BACKEND=tensorflow", "vocab_size"):
        assert part in message, message
    kwargs.pop("vocabulary")
    assert build("transformer_classifier", vocab_size=20, **kwargs).count_params() > 0
