"""Registry-driven tests: every registered model, in each style it declares, small test_kwargs.

A model added to the registry is covered here the day it is added, in the styles of its class's
``styles`` attribute (all three by default; seq2seq declares functional and subclassed, having two
inputs; recursive only subclassed, since its computation follows each input tree): those
styles agree (parameters, outputs after copying weights), a forward pass has no NaN, one training
step changes the weights, and a saved .keras file reloads in a fresh process with identical outputs.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from kerasdl.models import STYLES, build, get_model_class, list_models

from conftest import facts_in_a_fresh_process, run_python

NAMES = list_models()
TESTS = Path(__file__).resolve().parent


def _build_all(name):
    cls = get_model_class(name)
    models = {style: build(name, style=style, **cls.test_kwargs) for style in cls.styles}
    inputs = cls.example_inputs(2, cls.test_kwargs.get("input_shape"))
    return models, inputs


#: models of more than 5M parameters at their test_kwargs: checked in a fresh process each, so
#: that pytest's own process does not keep the memory they took (0.1-0.5 GB each)
IN_A_FRESH_PROCESS = {"googlenet", "vgg11", "resnet18", "vgg16", "vgg19", "resnet34", "resnet50"}


#: deeper members of a family whose shallower ones (resnet18, resnet20) the default suite checks;
#: they run in the slow pass, which keeps the default suite within its 10 minutes
SLOW_STYLE_CHECKS = {"resnet34", "resnet50", "resnet56"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow)
                                  if name in SLOW_STYLE_CHECKS else name for name in NAMES])
def test_styles_agree_forward_and_train(name, tmp_path):
    """Same parameter count in every style, equal outputs with copied weights, a finite
    forward pass, and one training step that changes the weights."""
    if name not in IN_A_FRESH_PROCESS:
        return _check_styles_agree(name)
    result = run_python(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                        f"from test_zoo import _check_styles_agree\n"
                        f"_check_styles_agree({name!r})\nprint('CHECKED')\n", cwd=tmp_path)
    assert result.returncode == 0 and "CHECKED" in result.stdout, result.stderr[-4000:]


def _check_styles_agree(name):
    models, inputs = _build_all(name)
    reference_style = "functional" if "functional" in models else next(iter(models))
    reference = models[reference_style]
    counts = {style: m.count_params() for style, m in models.items()}
    assert len(set(counts.values())) == 1, counts
    expected = reference.predict(inputs, verbose=0)
    assert np.all(np.isfinite(expected))
    assert set(models) <= set(STYLES)
    for style in set(models) - {reference_style}:
        models[style].set_weights(reference.get_weights())
        np.testing.assert_allclose(models[style].predict(inputs, verbose=0), expected,
                                   rtol=1e-5, atol=1e-6, err_msg=f"{name} {style}")
    for style, model in models.items():
        before = [w.copy() for w in model.get_weights()]
        model.compile(optimizer="sgd", loss="mse")
        loss = model.train_on_batch(inputs, np.ones_like(expected))
        assert np.isfinite(loss), (name, style)
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())), style


def _save_models(directory: str, names: list[str]) -> list[str]:
    """Run in a fresh process: each of ``names`` in every style saved as ``<name>-<style>.keras``
    with its inputs and outputs beside it; returns the file stems."""
    import keras

    cases = []
    for name in names:
        models, inputs = _build_all(name)
        for style, model in models.items():
            stem = f"{directory}/{name}-{style}"
            model.save(f"{stem}.keras")
            with open(f"{stem}.x.pkl", "wb") as handle:    # tuples (seq2seq), str objects
                pickle.dump(inputs, handle)
            np.save(f"{stem}.y.npy", model.predict(inputs, verbose=0))
            cases.append(stem)
        keras.backend.clear_session()
    return cases


#: the zoo's reload check runs in two halves, the second in tests/test_zoo_reload.py: pytest-xdist
#: (--dist loadfile) then gives each worker one, instead of one worker 146 s while the other idles
FIRST_HALF, SECOND_HALF = NAMES[::2], NAMES[1::2]


def _save_first_half(directory: str) -> list[str]:
    return _save_models(directory, FIRST_HALF)


def _save_second_half(directory: str) -> list[str]:
    return _save_models(directory, SECOND_HALF)


def reloads_identically(gather, names: list[str], directory: Path) -> None:
    """Saved in one fresh process (``gather``), reloaded in another: identical outputs."""
    cases = facts_in_a_fresh_process(gather, directory)
    assert len(cases) == sum(len(get_model_class(name).styles) for name in names)
    result = run_python(
        "import pickle, numpy as np, kerasdl\n"
        f"for stem in {cases!r}:\n"
        "    model = kerasdl.load_model(stem + '.keras')\n"
        "    inputs = pickle.load(open(stem + '.x.pkl', 'rb'))\n"
        "    np.testing.assert_array_equal(model.predict(inputs, verbose=0),"
        " np.load(stem + '.y.npy'), err_msg=stem)\n"
        "    print('OK', stem)\n", cwd=directory, timeout=900)
    assert result.stdout.count("OK ") == len(cases), result.stderr[-4000:]


@pytest.mark.slow          # 89 s; tests/test_models.py reloads each style in a fresh process
def test_every_model_and_style_reloads_in_a_fresh_process(tmp_path):
    """Saved in one fresh process, reloaded in another: identical outputs (pytest's own process
    builds none of these models, so it does not grow by them). Half the models; the others in
    tests/test_zoo_reload.py."""
    assert sorted(FIRST_HALF + SECOND_HALF) == sorted(NAMES)
    reloads_identically(_save_first_half, FIRST_HALF, tmp_path)


def _output_dtypes_under_mixed_bfloat16() -> dict[str, str]:
    """Run in a fresh process (the policy is global): the compute dtype of every model's last
    layer and of its output, each model in its first style, under ``mixed_bfloat16``."""
    import keras

    keras.config.set_dtype_policy("mixed_bfloat16")
    found = {}
    for name in NAMES:
        if name in IN_A_FRESH_PROCESS:
            continue
        cls = get_model_class(name)
        kwargs = dict(cls.test_kwargs)
        if kwargs.get("include_top") is False:      # a backbone's features may stay bfloat16
            kwargs.update(include_top=True, pooling=None)
        model = build(name, style=cls.styles[0], **kwargs)
        output = model(cls.example_inputs(2, kwargs.get("input_shape")))
        found[name] = f"{model.layers[-1].compute_dtype}/{keras.ops.dtype(output)}"
    return found


def test_every_model_computes_its_output_in_float32_under_mixed_precision(tmp_path):
    """Keras's mixed-precision rule: the last layer (softmax, sigmoid, reconstruction) computes
    in float32, so probabilities and the loss keep their precision (issue 14, 5: the perceptron's
    head computed in bfloat16). The >5M-parameter models share ``head_layers`` with the small
    ones checked here."""
    result = run_python(f"import sys, json\nsys.path.insert(0, {str(TESTS)!r})\n"
                        "from test_zoo import _output_dtypes_under_mixed_bfloat16\n"
                        "print('FOUND', json.dumps(_output_dtypes_under_mixed_bfloat16()))\n",
                        cwd=tmp_path)
    assert "FOUND" in result.stdout, result.stderr[-4000:]
    import json

    found = json.loads(result.stdout.split("FOUND", 1)[1])
    assert len(found) >= len(NAMES) - len(IN_A_FRESH_PROCESS)
    assert {name: dtypes for name, dtypes in found.items()
            if dtypes != "float32/float32"} == {}
