"""Sequence models and data: RNN/LSTM/GRU, bidirectional, the tagger, the generated sequence sets.

tests/test_zoo.py already runs every registered model in the styles it declares (all three for
the models here; forward, one training step, fresh-process reload); tests/test_runner.py runs
every experiment's smoke variant. This file pins what is specific to sequences: parameter
formulas and the SimpleRNN recurrence, token inputs with padding in all three styles, masking in
the tagger, the generated datasets, the TFDS tagging glue under ``tfds.testing.mock_data``, and
(``-m slow``) that LSTM and GRU beat SimpleRNN on the adding problem.
"""
from __future__ import annotations

import numpy as np
import pytest

from kerasdl.models import STYLES, build, get_model_class
from kerasdl.models.rnn import recurrent_layers, token_batch

from conftest import REPO, run_python


def _three(name, **kwargs):
    models = {style: build(name, style=style, **kwargs) for style in STYLES}
    for style in ("sequential", "subclassed"):
        models[style].set_weights(models["functional"].get_weights())
    return models


def _pad(tokens: np.ndarray, extra: int) -> np.ndarray:
    return np.concatenate([tokens, np.zeros((len(tokens), extra), tokens.dtype)], axis=1)


# === Parameter counts and the recurrence ===

@pytest.mark.parametrize("units,features", [(32, 1), (8, 3), (5, 10)])
def test_recurrent_parameter_formulas(units, features):
    shape = {"input_shape": (7, features), "units": (units,), "include_top": False}
    n, d = units, features
    assert build("simple_rnn", **shape).count_params() == n * (n + d + 1)
    assert build("lstm", **shape).count_params() == 4 * n * (n + d + 1)
    assert build("gru", **shape).count_params() == 3 * n * (n + d + 2)      # reset_after: 2 biases
    assert build("bidirectional", cell="simple", **shape).count_params() == 2 * n * (n + d + 1)


def test_default_and_experiment_parameter_counts():
    assert build("simple_rnn").count_params() == 32 * (32 + 1 + 1) + 33 == 1_121
    assert build("lstm", input_shape=(50, 2), units=(64,)).count_params() == 17_217
    assert build("gru", input_shape=(50, 2), units=(64,)).count_params() == 13_121
    stacked = build("lstm", input_shape=(50, 2), units=(64, 32))
    assert stacked.count_params() == 4 * 64 * 67 + 4 * 32 * (32 + 64 + 1) + 33
    assert build("tagger", input_shape=(20,), vocab_size=50, num_classes=5).count_params() == 69_893


def test_simple_rnn_computes_the_elman_recurrence():
    """h_t = tanh(W_h h_{t-1} + W_x x_t + b), h_0 = 0; the model returns h_T."""
    model = build("simple_rnn", input_shape=(6, 3), units=(4,), include_top=False)
    x = np.random.default_rng(1).normal(size=(2, 6, 3)).astype("float32")
    w_x, w_h, b = model.get_layer("simple1").get_weights()
    assert w_x.shape == (3, 4) and w_h.shape == (4, 4) and b.shape == (4,)
    h = np.zeros((2, 4), "float32")
    for t in range(6):
        h = np.tanh(x[:, t] @ w_x + h @ w_h + b)
    np.testing.assert_allclose(model.predict(x, verbose=0), h, rtol=1e-5, atol=1e-6)


# === Heads, options and their errors ===

def test_heads_regression_classification_and_many_to_many():
    regression = build("gru", input_shape=(9, 2), units=(4,))
    assert regression.output_shape == (None, 1)
    assert regression.get_layer("predictions").activation.__name__ == "linear"
    wide = build("lstm", input_shape=(9, 2), units=(4,), task="regression", num_outputs=3)
    assert wide.output_shape == (None, 3)
    classifier = build("simple_rnn", input_shape=(9, 2), units=(4,), num_classes=6)
    assert classifier.output_shape == (None, 6)
    np.testing.assert_allclose(classifier.predict(np.ones((2, 9, 2)), verbose=0).sum(-1), 1, rtol=1e-5)
    binary = build("lstm", input_shape=(9, 2), units=(4,), num_classes=1)
    assert binary.get_layer("predictions").activation.__name__ == "sigmoid"
    per_step = build("bidirectional", input_shape=(None, 2), units=(4, 3), cell="lstm",
                     return_sequences=True, num_classes=5)
    assert per_step.output_shape == (None, None, 5)
    names = [layer.name for layer in per_step.layers[1:]]          # [0] is the input layer
    assert names == ["bidirectional1", "bidirectional2", "predictions"]
    assert per_step.predict(np.ones((2, 11, 2)), verbose=0).shape == (2, 11, 5)   # any length
    summed = build("bidirectional", input_shape=(9, 2), units=(4,), merge_mode="sum")
    assert summed.get_layer("bidirectional1").output.shape == (None, 4)


def test_option_errors_name_the_bad_value():
    with pytest.raises(ValueError,
                       match="cell must be one of 'simple', 'lstm', 'gru'; received: cell='lsmt'"):
        build("bidirectional", cell="lsmt")
    with pytest.raises(ValueError, match="merge_mode must be one of .*received: merge_mode=None"):
        build("bidirectional", merge_mode=None)
    with pytest.raises(ValueError, match="task='regression' .* takes no num_classes"):
        build("lstm", task="regression", num_classes=3)
    with pytest.raises(ValueError, match="give exactly one; received: vocab_size=None, vocabulary=None"):
        build("tagger")
    with pytest.raises(ValueError, match=r"units must be a non-empty sequence .*units=\(\)"):
        build("gru", units=())


def test_regression_task_takes_no_num_classes_from_a_classification_dataset():
    import tensorflow as tf
    from types import SimpleNamespace

    train = tf.data.Dataset.from_tensor_slices((np.zeros((4, 5, 2), "float32"),
                                                np.zeros((4,), "int64"))).batch(2)
    bundle = SimpleNamespace(train=train, num_classes=3, label_format="sparse")   # as a DataBundle
    lstm = get_model_class("lstm")
    assert lstm.kwargs_from_data({}, bundle) == {"input_shape": (5, 2), "num_classes": 3}
    assert lstm.kwargs_from_data({"task": "regression"}, bundle) == {"task": "regression",
                                                                      "input_shape": (5, 2)}


# === Token inputs with padding, all three styles ===

@pytest.mark.parametrize("name,kwargs", [
    ("lstm", {"units": (6,), "num_classes": 3}),
    ("bidirectional", {"units": (5,), "cell": "simple", "return_sequences": True, "num_classes": 4}),
    ("tagger", {"units": (5,), "cell": "gru", "num_classes": 4, "embedding_dim": 6}),
])
def test_token_models_agree_in_three_styles_and_ignore_extra_padding(name, kwargs):
    tokens = token_batch(3, 8, 12, seed=4, min_length=2)
    models = _three(name, input_shape=(None,), vocab_size=12, **kwargs)
    assert models["functional"].inputs[0].dtype == "int32"
    assert models["sequential"].inputs[0].dtype == "int32"
    outputs = {s: m.predict(tokens, verbose=0) for s, m in models.items()}
    for style in ("sequential", "subclassed"):
        np.testing.assert_allclose(outputs[style], outputs["functional"], rtol=1e-5, atol=1e-6)
    longer = models["functional"].predict(_pad(tokens, 5), verbose=0)
    if outputs["functional"].ndim == 3:                          # one row per token
        real = tokens > 0
        np.testing.assert_allclose(longer[:, :8][real], outputs["functional"][real], rtol=1e-5,
                                   atol=1e-6)
    else:
        np.testing.assert_allclose(longer, outputs["functional"], rtol=1e-5, atol=1e-6)


def test_many_to_one_lstm_skips_padding_but_not_without_mask():
    tokens = token_batch(4, 6, 9, seed=2)
    masked = build("lstm", input_shape=(None,), units=(4,), vocab_size=9)
    unmasked = build("lstm", input_shape=(None,), units=(4,), vocab_size=9, mask_zero=False)
    unmasked.set_weights(masked.get_weights())
    for model, same in ((masked, True), (unmasked, False)):
        a = model.predict(tokens, verbose=0)
        b = model.predict(_pad(tokens, 4), verbose=0)
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6) is same


# === Masking in the tagger: padding changes neither the loss nor the real tokens' outputs ===

@pytest.mark.parametrize("style", STYLES)
def test_tagger_padding_changes_neither_loss_nor_real_outputs(style):
    from kerasdl.data.sequences import tag_tokens

    tokens = token_batch(4, 9, 20, seed=7, min_length=3)
    tags = tag_tokens(tokens)
    model = build("tagger", style=style, input_shape=(None,), vocab_size=20, units=(8,),
                  embedding_dim=8, num_classes=5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    short = model.evaluate(tokens, tags, verbose=0, return_dict=True)
    long = model.evaluate(_pad(tokens, 7), _pad(tags, 7), verbose=0, return_dict=True)
    assert short["loss"] == pytest.approx(long["loss"], rel=1e-5)
    assert short["accuracy"] == pytest.approx(long["accuracy"], rel=1e-6)
    real = tokens > 0
    outputs = model.predict(tokens, verbose=0)
    np.testing.assert_allclose(model.predict(_pad(tokens, 7), verbose=0)[:, :9][real], outputs[real],
                               rtol=1e-5, atol=1e-6)
    # one training step on padded data leaves the same weights as on unpadded data
    twin = build("tagger", style=style, input_shape=(None,), vocab_size=20, units=(8,),
                 embedding_dim=8, num_classes=5)
    twin.set_weights(model.get_weights())
    twin.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.train_on_batch(tokens, tags)
    twin.train_on_batch(_pad(tokens, 7), _pad(tags, 7))
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_masking_check_would_catch_an_unmasked_tagger():
    """The same BiLSTM without mask_zero: its backward pass reads the padding, so outputs move."""
    import keras

    tokens = token_batch(4, 9, 20, seed=7, min_length=3)
    stack = recurrent_layers(cell="lstm", units=(8,), bidirectional=True, return_sequences=True,
                             num_classes=5, vocab_size=20, embedding_dim=8, mask_zero=False)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), *stack])
    real = tokens > 0
    padded = model.predict(_pad(tokens, 7), verbose=0)[:, :9]
    moved = padded[real] - model.predict(tokens, verbose=0)[real]
    assert np.abs(moved).max() > 1e-4


# === Generated datasets ===

def test_sine_sequences():
    from kerasdl.data.sequences import load_sine_sequences, make_sine_sequences

    splits = load_sine_sequences(split_seed=0)
    assert splits.x_train.shape == (800, 10, 1) and splits.x_test.shape == (200, 10, 1)
    assert splits.y_train.shape == (800, 1) and splits.num_classes is None
    assert splits.x_train.dtype == np.float32
    x, y = make_sine_sequences(n=5, noise=0.0, seed=3)
    rng = np.random.default_rng(3)                   # the documented draw: w, p, then the noise
    omega, phase = rng.uniform(0.2, 0.6, (5, 1)), rng.uniform(0, 2 * np.pi, (5, 1))
    np.testing.assert_allclose(y[:, 0], np.sin(omega * 10 + phase)[:, 0], atol=1e-6)
    np.testing.assert_allclose(x[:, :, 0], np.sin(omega * np.arange(10) + phase), atol=1e-6)
    np.testing.assert_array_equal(load_sine_sequences(0).x_test, splits.x_test)
    assert not np.array_equal(load_sine_sequences(1).x_test, splits.x_test)


def test_adding_task_marks_one_value_in_each_half_and_sums_them():
    from kerasdl.data.sequences import load_adding_task, make_adding_task

    x, y = make_adding_task(n=300, length=60, seed=5)
    values, markers = x[..., 0], x[..., 1]
    assert x.shape == (300, 60, 2) and y.shape == (300, 1)
    assert np.all(markers.sum(1) == 2) and set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers[:, :30].sum(1) == 1) and np.all(markers[:, 30:].sum(1) == 1)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(1), rtol=1e-6)
    assert 0.0 <= values.min() and values.max() <= 1.0
    splits = load_adding_task(split_seed=0)
    assert splits.x_train.shape == (8000, 50, 2) and splits.x_test.shape == (2000, 50, 2)
    baseline = float(np.mean((splits.y_test - 1.0) ** 2))   # predicting the mean
    assert baseline == pytest.approx(1 / 6, abs=0.015)


def test_synthetic_tags_rule_needs_both_neighbours():
    from kerasdl.data.sequences import TAG_NAMES, load_synthetic_tags, tag_tokens

    #           marker word word word marker word marker marker word pad pad
    tokens = np.array([[2, 10, 11, 12, 5, 13, 1, 3, 14, 0, 0]])
    expected = [[1, 3, 2, 4, 1, 3, 1, 1, 3, 0, 0]]
    np.testing.assert_array_equal(tag_tokens(tokens), expected)
    assert TAG_NAMES[4] == "BEFORE_MARKER"
    splits = load_synthetic_tags(split_seed=0)
    assert splits.x_train.shape == (3200, 20) and splits.y_train.shape == (3200, 20)
    assert splits.x_train.dtype == np.int32 and splits.num_classes == 5
    np.testing.assert_array_equal(splits.y_train == 0, splits.x_train == 0)   # padding <-> tag 0
    lengths = (splits.x_train > 0).sum(1)
    assert lengths.min() == 5 and lengths.max() == 20
    assert np.all(np.diff((splits.x_train > 0).astype(int), axis=1) <= 0)     # right padding only
    assert set(np.unique(splits.y_train)) == {0, 1, 2, 3, 4}


def test_generated_sets_through_the_pipeline():
    from kerasdl.config import Data
    from kerasdl.data import embedded_datasets, load_data

    assert {"sine_sequences", "adding_task", "synthetic_tags"} <= set(embedded_datasets())
    tags = load_data(Data(name="synthetic_tags", source="embedded", rescale=None, batch_size=8),
                     "sparse", log=lambda line: None)
    x, y = next(iter(tags.train))
    assert x.dtype.name == "int32" and x.shape == (8, 20) and y.shape == (8, 20)
    assert tags.num_classes == 5 and tags.label_format == "sparse"
    sine = load_data(Data(name="sine_sequences", source="embedded", rescale=None, batch_size=8),
                     "same", log=lambda line: None)
    x, y = next(iter(sine.train))
    assert x.shape == (8, 10, 1) and y.shape == (8, 1) and sine.label_format == "raw"
    assert sine.counts == {"train": 720, "validation": 80, "test": 200}


# === TFDS tagging set (CoNLL-2003) under tfds.testing.mock_data ===

def _load_tfds_with_tagging_adapter(name, train_split, test_split, data_dir):
    """The TFDS path with the adapter hook this issue asks for in kerasdl/data/tfds_source.py."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from kerasdl.data.sequences import TFDS_TAGGING
    from kerasdl.data.splits import Splits

    adapter = TFDS_TAGGING[name]
    (train, test), info = tfds.load(name, split=[train_split, test_split], data_dir=data_dir,
                                    download=False, shuffle_files=False, with_info=True)
    train, test = (ds.map(adapter.to_supervised, num_parallel_calls=tf.data.AUTOTUNE)
                   for ds in (train, test))
    return Splits(train, test, adapter.num_classes(info), f"tfds.load('{name}') (mock)", "tfds")


def test_conll2003_has_no_supervised_keys():
    import tensorflow_datasets as tfds

    assert "conll2003" in tfds.list_builders()
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(ValueError, match="does not support a supervised structure"):
            tfds.load("conll2003", split="train", as_supervised=True)


def test_conll2003_adapter_feeds_a_raw_token_tagger(tmp_path, monkeypatch):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from kerasdl.config import Data
    from kerasdl.data import load_data, pipeline
    from kerasdl.data.sequences import CONLL2003

    monkeypatch.setattr(pipeline, "load_tfds", _load_tfds_with_tagging_adapter)
    with tfds.testing.mock_data(num_examples=24):
        (raw,) = tfds.load("conll2003", split=["train"])
        example = next(iter(raw))
        tokens, tags = CONLL2003.to_supervised(example)
        n = min(len(example["tokens"]), len(example["ner"]), 128)
        assert tokens.shape == (128,) and tags.shape == (128,) and tags.dtype.name == "int32"
        np.testing.assert_array_equal(tags[:n], example["ner"][:n].numpy() + 1)
        assert np.all(tags[n:].numpy() == 0) and all(t == b"" for t in tokens[n:].numpy())

        bundle = load_data(Data(name="conll2003", source="tfds", rescale=None, batch_size=8,
                                validation_fraction=0.25), "sparse", log=lambda line: None)
        assert bundle.num_classes == 10 and bundle.counts == {"train": 18, "validation": 6, "test": 24}
        kwargs = get_model_class("tagger").kwargs_from_data({"units": (4,), "embedding_dim": 4}, bundle)
        x, y = next(iter(bundle.train))
    assert x.dtype.name == "string" and x.shape == (8, 128) and y.shape == (8, 128)
    assert kwargs["input_shape"] == (128,) and kwargs["num_classes"] == 10
    vocabulary = kwargs["vocabulary"]
    assert vocabulary and "" not in vocabulary and len(set(vocabulary)) == len(vocabulary)

    models = _three("tagger", **kwargs)
    assert models["functional"].inputs[0].dtype == "string"
    words = [vocabulary[0], "never-seen-token", vocabulary[-1]]
    sentence = tf.constant([words + [""] * 125])          # Keras takes strings as tf tensors
    expected = models["functional"].predict(sentence, verbose=0)
    assert expected.shape == (1, 128, 10)
    for style in ("sequential", "subclassed"):
        np.testing.assert_allclose(models[style].predict(sentence, verbose=0), expected, rtol=1e-5,
                                   atol=1e-6)
    model = models["functional"]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.train_on_batch(x, y))
    expected = model.predict(sentence, verbose=0)
    model.save(tmp_path / "tagger.keras")
    np.save(tmp_path / "y.npy", expected)
    check = run_python(
        "import numpy as np, tensorflow as tf, kerasdl\n"
        f"m = kerasdl.load_model(r'{tmp_path / 'tagger.keras'}')\n"
        f"x = tf.constant([{words!r} + [''] * 125])\n"
        f"np.testing.assert_array_equal(m.predict(x, verbose=0), np.load(r'{tmp_path / 'y.npy'}'))\n"
        "print('RAW STRINGS OK')\n", cwd=tmp_path)
    assert "RAW STRINGS OK" in check.stdout, check.stderr[-3000:]


def test_vocabulary_is_by_frequency_then_alphabetical():
    from kerasdl.models.tagger import build_vocabulary

    batches = [np.array([[b"b", b"a", b"c", b""], [b"c", b"a", b"", b""]]), np.array([["d", "c"]])]
    assert build_vocabulary(batches) == ["c", "a", "b", "d"]
    assert build_vocabulary(batches, max_tokens=2) == ["c", "a"]
    assert build_vocabulary(batches, min_count=2) == ["c", "a"]


# === Long-term memory: the adding problem (slow, real training) ===

@pytest.mark.slow
def test_lstm_and_gru_beat_simple_rnn_on_the_adding_problem(tmp_path):
    """Same experiment (experiments/lstm.py), same seed, data, optimizer and 12 epochs; only the cell
    differs. Predicting the mean scores an MSE of 0.167."""
    from kerasdl.experiment import load_experiment
    from kerasdl.runner import run

    best, test = {}, {}
    for name in ("simple_rnn", "lstm", "gru"):
        experiment = load_experiment(REPO / "experiments" / "lstm.py", overrides={
            "model.name": name, "trainer.epochs": 12, "trainer.verbose": 0,
            "callbacks.early_stopping.enabled": False, "callbacks.tensorboard.enabled": False,
            "output.runs_dir": str(tmp_path / "runs"), "output.publish": "never"})
        result = run(experiment, log=lambda line: None)
        best[name], test[name] = min(result.history["val_loss"]), result.test_metrics["loss"]
        print(f"{name}: best val MSE {best[name]:.4f}, test MSE {test[name]:.4f}, "
              f"{result.model.count_params():,} parameters, {result.wall_time_s:.0f} s")
    assert best["simple_rnn"] > 0.12, best            # SimpleRNN stays near the mean predictor
    for name in ("lstm", "gru"):
        assert best[name] < 0.02 and best[name] < best["simple_rnn"] / 10, best
        assert test[name] < test["simple_rnn"] / 10, test


@pytest.mark.slow
def test_bidirectional_tagger_sees_the_right_context_a_unidirectional_one_cannot(tmp_path):
    """synthetic_tags: a word right before a marker has its own tag (12% of the tokens), so a
    left-to-right tagger cannot beat 1 - 0.12; the BiLSTM tags every token (experiments/tagger.py)."""
    from kerasdl.experiment import load_experiment
    from kerasdl.runner import run

    accuracy = {}
    for bidirectional in (True, False):
        experiment = load_experiment(REPO / "experiments" / "tagger.py", overrides={
            "model.kwargs.bidirectional": bidirectional, "trainer.epochs": 4, "trainer.verbose": 0,
            "callbacks.tensorboard.enabled": False, "output.runs_dir": str(tmp_path / "runs"),
            "output.publish": "never"})
        result = run(experiment, log=lambda line: None)
        accuracy[bidirectional] = result.test_metrics["accuracy"]
        print(f"bidirectional={bidirectional}: test token accuracy {accuracy[bidirectional]:.4f}")
    assert accuracy[True] > 0.99, accuracy
    assert accuracy[False] < 0.90, accuracy
