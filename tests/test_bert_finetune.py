"""Pretrained text backbones from keras-hub (issue 26, 2): ``finetune.backbone=hub:<text preset>``.

Offline: the preset is a tiny random BERT (2 layers, hidden 32, a 191-word vocabulary) saved with
``save_to_preset``, its tokenizer beside it; the texts are generated, two classes told apart by
their adjectives among neutral filler words. The model takes raw strings, its tokenizer inside:
after a reload (in a fresh process through the CLI) it predicts on raw lines, and its SavedModel
export serves strings.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli, run_python

keras_hub = pytest.importorskip("keras_hub")

EXPERIMENT = str(REPO / "experiments" / "bert_finetune.py")
POSITIVE = ("good", "great", "fine", "nice", "superb", "lovely")
NEGATIVE = ("bad", "awful", "poor", "dull", "weak", "boring")
FILLER = tuple(f"w{i}" for i in range(174))
SEQUENCE_LENGTH = 16
#: the experiment on the tiny preset and a text folder: fine-tuning a random BERT needs a higher
#: rate than a pretrained one (5e-5) and a few more epochs
SETTINGS = ["--set", f"model.kwargs.sequence_length={SEQUENCE_LENGTH}", "--set", "trainer.epochs=8",
            "--set", "finetune.second_learning_rate=3e-3", "--set", "data.batch_size=16",
            "--set", "trainer.verbose=0", "--set", "output.publish=never",
            "--set", "trainer.deterministic=true"]


def _sentence(rng, words) -> str:
    """Three to seven filler words with one or two of ``words`` among them."""
    sentence = [str(w) for w in rng.choice(FILLER, size=rng.integers(3, 8))]
    for word in rng.choice(words, size=rng.integers(1, 3)):
        sentence.insert(int(rng.integers(0, len(sentence) + 1)), str(word))
    return " ".join(sentence)


def _sentences(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    return np.array([_sentence(rng, POSITIVE if y else NEGATIVE) for y in labels]), labels


def _tiny_bert(directory: Path) -> Path:
    """A random BertBackbone and its BertTokenizer (the texts' words), saved as one preset.

    Seeded: an unseeded random BERT sometimes fine-tuned to only 0.625 on the CLI test's texts
    (fresh-ci, 2026-12-06), a draw of the initialisation, not of kerasdl."""
    import keras

    keras.utils.set_random_seed(0)
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER]
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=32)
    backbone.save_to_preset(str(directory))
    tokenizer.save_to_preset(str(directory))
    return directory


def _text_folder(root: Path, per_class: int = 60) -> Path:
    """negative/ and positive/, one sentence per .txt file."""
    rng = np.random.default_rng(1)
    for label, words in (("negative", NEGATIVE), ("positive", POSITIVE)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            (root / label / f"{i:03d}.txt").write_text(_sentence(rng, words) + "\n")
    return root


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> Path:
    return _tiny_bert(tmp_path_factory.mktemp("hub") / "tiny_bert")


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> Path:
    return _text_folder(tmp_path_factory.mktemp("texts") / "reviews")


def _model(preset: Path, recipe: str = "finetune_all"):
    from kerasdl.transfer.backbones import load_backbone
    from kerasdl.transfer.recipes import make_transfer_model

    backbone = load_backbone(f"hub:{preset}", builder_kwargs={"sequence_length": SEQUENCE_LENGTH})
    return backbone, make_transfer_model(backbone, 2, recipe)


# === in process ===

def test_a_text_preset_is_a_backbone_that_takes_raw_strings(preset):
    """The model's input is a string; its preprocess layer is the preset's own
    TextClassifierPreprocessor ([CLS] ... [SEP] to 16 tokens), and its features are the preset
    backbone's pooled output on those tokens."""
    import keras
    import tensorflow as tf

    backbone, model = _model(preset)
    assert backbone.takes_text and "BertBackbone" in backbone.description, backbone.description
    assert model.inputs[0].dtype == "string" and model.output.shape[1:] == (2,)
    lines = tf.constant(["w1 good w2", "awful w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16"])
    expected = keras_hub.models.TextClassifierPreprocessor.from_preset(
        str(preset), sequence_length=SEQUENCE_LENGTH)(lines)
    tokens = model.get_layer("preprocess")(lines)
    np.testing.assert_array_equal(tokens["token_ids"], expected["token_ids"])
    assert tokens["token_ids"].shape == (2, SEQUENCE_LENGTH) and tokens["token_ids"][0, 0] == 2
    pooled = keras_hub.models.Backbone.from_preset(str(preset))(expected)["pooled_output"]
    features = keras.Model(model.inputs, model.get_layer("features").output)(lines)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(features),
                               keras.ops.convert_to_numpy(pooled), atol=1e-6)


def test_a_text_model_reloads_and_serves_strings(preset, tmp_path):
    """The saved .keras reloads (the tokenizer's vocabulary an asset of the file) and its
    SavedModel serves a batch of strings, both giving the Keras model's probabilities."""
    import tensorflow as tf

    import kerasdl

    _, model = _model(preset)
    lines = ["w5 good great w6", "w7 awful w8", "nothing known here"]
    expected = model.predict(tf.constant(lines), verbose=0)
    model.save(tmp_path / "bert.keras")
    reloaded = kerasdl.load_model(tmp_path / "bert.keras")
    np.testing.assert_allclose(reloaded.predict(tf.constant(lines), verbose=0), expected, atol=1e-6)
    model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    np.testing.assert_allclose(loaded.serve(tf.constant(lines)).numpy(), expected, atol=1e-5)


def test_a_linear_probe_on_cached_text_features_learns_the_head(preset):
    """linear_probe with cache_features: the frozen BERT runs once over the strings, the head
    trains on its pooled features (the whole model's classifier), the backbone stays as it was."""
    import tensorflow as tf

    from kerasdl.transfer.recipes import backbone_of, compile_with, train_recipe

    _, model = _model(preset, "linear_probe")
    backbone = [w.copy() for w in backbone_of(model).get_weights()]
    head = [w.copy() for w in model.get_layer("classifier").get_weights()]
    x, y = _sentences(64, seed=2)
    history = train_recipe(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16),
                           recipe="linear_probe", epochs=3, learning_rate=1e-2,
                           cache_features=True, compile_fn=compile_with("adamw"),
                           fit_kwargs={"verbose": 0})
    assert len(history["loss"]) == 3
    assert all(np.array_equal(a, b) for a, b in zip(backbone, backbone_of(model).get_weights()))
    assert any(not np.array_equal(a, b)
               for a, b in zip(head, model.get_layer("classifier").get_weights()))


def test_text_preset_errors_are_one_line(preset, tmp_path):
    """A text preset without its tokenizer, a cut_at (its features are the pooled output) and a
    sequence length that cannot hold [CLS] and [SEP]: each one line naming the fix."""
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    no_tokenizer = shutil.copytree(preset, tmp_path / "no_tokenizer")
    (no_tokenizer / "tokenizer.json").unlink()
    cases = [(dict(spec=f"hub:{no_tokenizer}"), ["without a tokenizer", "tokenizer.json",
                                                "save_to_preset"]),
             (dict(spec=f"hub:{preset}", cut_at="pooled_dense"), ["applies to image backbones",
                                                                  "finetune.cut_at=None"]),
             (dict(spec=f"hub:{preset}", builder_kwargs={"sequence_length": 1}),
              ["sequence_length=1", ">= 2"])]
    for kwargs, words in cases:
        with pytest.raises(ModelError) as error:
            load_backbone(**kwargs)
        line = str(error.value)
        assert "\n" not in line and all(w in line for w in words), line


def _images_npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8),
             y_train=np.arange(40) % 2, x_test=rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8),
             y_test=np.arange(10) % 2)
    return path


@pytest.mark.parametrize("case", ["text preset on images", "image backbone on text",
                                  "image preset on text"])
def test_the_wrong_kind_of_data_is_one_line_before_any_run_folder(preset, texts, tmp_path, case):
    import kerasdl
    from kerasdl.errors import ConfigError
    from kerasdl.experiment import load_experiment

    if case == "text preset on images":
        overrides = {"data.name": f"npz:{_images_npz(tmp_path / 'images.npz')}",
                     "data.rescale": 1 / 255}
        words = ["is a text backbone", "float32 examples of shape (8, 8, 3)", "textfolder:PATH"]
    else:
        if case == "image backbone on text":
            backbone = "kerasdl:lenet5"
        else:                                   # found out once the preset is loaded
            from test_backbones_hub import _tiny_preset

            backbone = f"hub:{_tiny_preset(tmp_path / 'tiny_resnet')}"
        overrides = {"data.name": f"textfolder:{texts}", "finetune.backbone": backbone,
                     "finetune.weights": None}
        words = ["gives raw strings", "not a text backbone", "hub:bert_tiny_en_uncased"]
    experiment = load_experiment(EXPERIMENT, {"finetune.backbone": f"hub:{preset}", **overrides})
    with pytest.raises(ConfigError) as error:
        kerasdl.run(experiment, workdir=tmp_path / "runs")
    line = str(error.value)
    assert "\n" not in line and all(w in line for w in words), line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# === through the CLI (slow: each run imports TensorFlow and keras-hub) ===

def _kerasdl_run(args, cwd: Path, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "kerasdl", "run", EXPERIMENT, *SETTINGS, *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=900)


SERVE = """
import json, sys
import numpy as np, tensorflow as tf
import tensorflow_text  # noqa: F401  the tokenizer's ops, which the SavedModel uses
lines = json.load(open(sys.argv[2]))
served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"](tf.constant(lines))
print(json.dumps(np.asarray(next(iter(served.values()))).tolist()))
"""


@pytest.mark.slow
def test_bert_fine_tunes_through_the_cli_predicts_raw_lines_and_serves_strings(preset, texts,
                                                                              tmp_path):
    """The run learns the texts (a random BERT, 8 epochs); in fresh processes ``kerasdl predict``
    labels raw lines as the reloaded Keras model does, and the SavedModel export, loaded by
    TensorFlow alone (and tensorflow_text), gives its probabilities within 1e-5."""
    import tensorflow as tf

    import kerasdl

    result = _kerasdl_run(["--workdir", str(tmp_path / "runs"), "--set",
                           f"finetune.backbone=hub:{preset}", "--set", f"data.name=textfolder:{texts}"],
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    accuracy = json.loads((run_dir / "metrics.json").read_text())["accuracy"]
    print(f"test accuracy {accuracy}")
    assert accuracy >= 0.75, f"test accuracy {accuracy} on 24 texts (chance 0.5)"
    lines, labels = _sentences(12, seed=3)
    (tmp_path / "lines.txt").write_text("\n".join(lines) + "\n")
    predicted = run_cli("predict", str(run_dir), str(tmp_path / "lines.txt"), "--json",
                        cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = [json.loads(line) for line in predicted.stdout.splitlines() if line.startswith("{")]
    keras_probabilities = kerasdl.load_model(run_dir / "model.keras").predict(
        tf.constant(lines), verbose=0)
    names = ["negative", "positive"]
    assert len(rows) == len(lines), predicted.stdout
    assert [row["top"][0]["class"] for row in rows] == [
        names[i] for i in keras_probabilities.argmax(1)]
    assert np.mean(keras_probabilities.argmax(1) == labels) >= 0.75
    exported = run_cli("export", str(run_dir), "--format", "saved_model", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-3000:]
    (tmp_path / "lines.json").write_text(json.dumps(list(lines)))
    served = run_python(SERVE.replace("sys.argv[1]", repr(str(run_dir / "export" / "saved_model")))
                        .replace("sys.argv[2]", repr(str(tmp_path / "lines.json"))), cwd=tmp_path)
    assert served.returncode == 0, served.stderr[-3000:]
    np.testing.assert_allclose(np.array(json.loads(served.stdout.splitlines()[-1])),
                               keras_probabilities, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("recipe, options", [
    ("two_phase", ["--set", "finetune.head_epochs=2"]),
    ("linear_probe", ["--set", "finetune.cache_features=true"])],
    ids=["two_phase", "linear_probe_cached"])
def test_the_other_text_recipes_run_through_the_cli(preset, texts, tmp_path, recipe, options):
    """The experiment's smoke variant (the slow pass's smoke run of experiments/bert_finetune.py,
    whose own preset and data need a download) on the local preset and texts."""
    result = _kerasdl_run(["--smoke", "--workdir", str(tmp_path / "runs"),
                           "--set", f"finetune.recipe={recipe}",
                           "--set", f"finetune.backbone=hub:{preset}", "--set",
                           f"data.name=textfolder:{texts}", "--set", "trainer.epochs=3", *options],
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    (tmp_path / "lines.txt").write_text("w1 good w2\nw3 awful\n")
    predicted = run_cli("predict", str(run_dir), str(tmp_path / "lines.txt"), cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "lines.txt:1" in predicted.stdout and "lines.txt:2" in predicted.stdout


def _max_difference(a: Path, b: Path) -> float:
    import kerasdl

    return max(float(np.abs(x - y).max()) for x, y in
               zip(kerasdl.load_model(a).get_weights(), kerasdl.load_model(b).get_weights()))


@pytest.mark.slow
def test_a_text_fine_tuning_run_resumes_exactly(preset, texts, tmp_path):
    """Killed (kill -9) while writing the backup of epoch 3, the resumed run ends where the
    uninterrupted one ends: the same weights, metrics and best checkpoint."""
    settings = ["--set", f"finetune.backbone=hub:{preset}", "--set", f"data.name=textfolder:{texts}",
                "--set", "trainer.epochs=4"]
    whole = _kerasdl_run(["--workdir", str(tmp_path / "whole"), *settings], cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    (uninterrupted,) = (tmp_path / "whole").iterdir()
    killed = _kerasdl_run(["--workdir", str(tmp_path / "runs"), *settings], cwd=tmp_path,
                          env={"KERASDL_KILL_AT": "backup-rename:3"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    resumed = _kerasdl_run(["--workdir", str(tmp_path / "runs"), "--resume", "latest", *settings],
                           cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _max_difference(run_dir / "model.keras", uninterrupted / "model.keras") == 0.0
    assert (json.loads((run_dir / "metrics.json").read_text())
            == json.loads((uninterrupted / "metrics.json").read_text()))
