"""A trained model put to work (kerasdl.deploy): predict with the run's own preprocessing and
class names, evaluate on other data, export and reload in the format's own runtime."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from kerasdl.config import Data, Model, Output, Trainer
from kerasdl.runner import run

from conftest import run_cli, small_experiment
from test_local_data import CLASSES, make_image_folder


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """A small CNN trained on an image folder of three shape classes; images are read as 16x16
    grey, and the run pads them to 32x32 (preprocessing that predict must repeat)."""
    tmp_path = tmp_path_factory.mktemp("deploy")
    folder = make_image_folder(tmp_path / "shapes", per_class=40)
    experiment = small_experiment(
        tmp_path, name="shapes",
        data=Data(name=f"folder:{folder}", batch_size=16, validation_fraction=0.2,
                  image_size=(32, 32)),
        model=Model(name="lenet5", kwargs={}), trainer=Trainer(epochs=6, verbose=0),
        output=Output(runs_dir=str(tmp_path / "runs"), saved_models_dir=str(tmp_path / "saved")))
    return tmp_path, folder, run(experiment, log=lambda line: None)


def test_predict_prints_class_names_with_the_runs_own_preprocessing(shapes_run):
    tmp_path, folder, result = shapes_run
    files = [folder / kind / "000.png" for kind in CLASSES]
    printed = run_cli("predict", str(result.run_dir), *map(str, files), "--json", "--top-k", "3",
                      cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    rows = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [row["input"] for row in rows] == list(map(str, files))
    import tensorflow as tf

    # the run's preprocessing, written out here: rescale by 1/255, zero-pad 16x16 to 32x32
    images = tf.stack([tf.io.decode_image(tf.io.read_file(str(f)), channels=1) for f in files])
    expected = result.model.predict(
        tf.image.resize_with_crop_or_pad(tf.cast(images, tf.float32) / 255, 32, 32), verbose=0)
    for row, probabilities in zip(rows, expected):
        assert {top["class"] for top in row["top"]} == set(CLASSES)
        for top in row["top"]:
            assert top["probability"] == pytest.approx(
                probabilities[CLASSES.index(top["class"])], abs=1e-5)
    plain = run_cli("predict", str(result.run_dir), str(folder / "cross"), "--top-k", "1",
                    cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert len(lines) == 40 and all(line.startswith(str(folder / "cross")) for line in lines)
    assert sum(line.split(": ")[1].startswith("cross ") for line in lines) >= 30


def test_predict_from_the_published_model_and_not_from_a_bare_file(shapes_run, tmp_path):
    home, folder, result = shapes_run
    published = home / "saved" / "shapes.keras"
    image = str(folder / "circle" / "001.png")
    ours = run_cli("predict", str(published), image, "--json", cwd=tmp_path)
    theirs = run_cli("predict", str(result.run_dir), image, "--json", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    shutil.copyfile(published, tmp_path / "bare.keras")
    bare = run_cli("predict", str(tmp_path / "bare.keras"), image, cwd=tmp_path)
    assert bare.returncode != 0
    assert "says how its inputs were prepared; pass the run directory" in bare.stderr


@pytest.mark.parametrize("make_input, message", [
    (lambda d: _array_file(d, np.zeros((2, 32, 32, 3), np.uint8)),      # RGB for a grey model
     "the inputs become (32, 32, 3) after the run's preprocessing, but the model takes (32, 32, 1)"),
    (lambda d: (d / "lines.txt").write_text("a circle\n") and d / "lines.txt",
     "text lines given, but the model takes float32 inputs"),
    (lambda d: (d / "fake.png").write_text("not a png") and d / "fake.png",
     "is not a readable image"),
], ids=["wrong-shape", "text-for-images", "not-an-image"])
def test_predict_refuses_inputs_the_model_cannot_take(shapes_run, tmp_path, make_input, message):
    result = shapes_run[2]
    printed = run_cli("predict", str(result.run_dir), str(make_input(tmp_path)), cwd=tmp_path)
    assert printed.returncode != 0 and message in printed.stderr, printed.stderr
    assert "Traceback" not in printed.stderr


def _array_file(directory, array):
    np.save(directory / "inputs.npy", array)
    return directory / "inputs.npy"


def _image_model_stub(channels: int):
    """What predict's image readers look at: the model's input shape and the run's data."""
    from types import SimpleNamespace

    return SimpleNamespace(model=SimpleNamespace(inputs=[SimpleNamespace(shape=(None, 8, 8, channels))]),
                           experiment=SimpleNamespace(data=SimpleNamespace(image_size=None, name="x")))


@pytest.mark.parametrize("channels", [1, 3])
def test_predict_decodes_images_as_training_does(tmp_path, channels):
    """One decoder (kerasdl.data.decoding.image_decoder): a GIF and a CMYK JPEG, which TensorFlow
    decodes to RGB only, are made grey for a grey model as training makes them (before, predict
    refused them: 'is not a readable image'); alpha and grey PNGs too."""
    from PIL import Image

    from kerasdl.data.decoding import decodes_to_rgb_only, image_decoder
    from kerasdl.deploy.readers import read_image

    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8))
    files = {"a.gif": rgb, "b.jpg": rgb.convert("CMYK"), "c.png": rgb.convert("RGBA"),
             "d.png": rgb.convert("L")}
    for name, image in files.items():
        image.save(tmp_path / name)
    import tensorflow as tf

    for name in files:
        path = tmp_path / name
        training = image_decoder(channels, (8, 8, channels))(
            tf.constant(str(path)), tf.constant(decodes_to_rgb_only(path))).numpy()
        np.testing.assert_array_equal(read_image(_image_model_stub(channels), path), training)


def test_predict_reads_utf8_text_as_training_does(tmp_path):
    """One UTF-8 decoder (kerasdl.data.decoding.utf8_text): a byte-order mark is dropped (before,
    predict kept it in the first line), and other encodings are named by file, line and byte."""
    from kerasdl.deploy.readers import read_lines
    from kerasdl.errors import DataError

    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfa circle\n\na cross\n")
    assert read_lines(str(tmp_path / "bom.txt")) == [(f"{tmp_path / 'bom.txt'}:1", "a circle"),
                                                     (f"{tmp_path / 'bom.txt'}:3", "a cross")]
    (tmp_path / "latin1.txt").write_bytes(b"\xef\xbb\xbffine\ncaf\xe9\n")
    with pytest.raises(DataError) as raised:
        read_lines(str(tmp_path / "latin1.txt"))
    assert str(raised.value).startswith(f"predict input {tmp_path / 'latin1.txt'} line 2 is not "
                                        "UTF-8 text (byte 0xe9); save the file as UTF-8")


def test_evaluate_on_other_data_writes_metrics_and_a_confusion_matrix(shapes_run, tmp_path):
    home, folder, result = shapes_run
    other = make_image_folder(tmp_path / "other", per_class=10, seed=7)
    printed = run_cli("evaluate", str(result.run_dir), "--data", f"folder:{other}", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert "(every image in it, 30)" in printed.stdout     # a new folder is scored whole
    written = [line.split("wrote ")[1] for line in printed.stdout.splitlines() if "wrote " in line]
    assert len(written) == 2 and written[1].endswith("-confusion.png")
    found = json.loads(open(written[0]).read())
    assert found["counts"]["test"] == 30 and 0.0 <= found["test_metrics"]["accuracy"] <= 1.0
    # on the data it was trained on, evaluate gives the run's own test metrics
    same = run_cli("evaluate", str(result.run_dir), cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    path = [line.split("wrote ")[1] for line in same.stdout.splitlines() if "wrote " in line][0]
    assert json.loads(open(path).read())["test_metrics"] == pytest.approx(
        json.loads((result.run_dir / "metrics.json").read_text()), abs=1e-6)
    assert path != written[0]


@pytest.mark.slow          # 29 s; test_publish_export_safety exports in the default suite
def test_exports_of_lenet5_equal_keras_and_never_overwrite(shapes_run, tmp_path):
    """SavedModel (tf.saved_model.load), LiteRT (the interpreter) and ONNX (onnxruntime) give
    Keras's outputs within 1e-4; a second export to the same path is refused."""
    result = shapes_run[2]
    x = np.random.default_rng(0).random((4, 32, 32, 1)).astype("float32")
    differences = _export_and_compare(result.run_dir, tmp_path, x)
    assert all(difference <= 1e-4 for difference in differences.values()), differences
    again = run_cli("export", str(result.run_dir), "--output", str(tmp_path / "sm"), cwd=tmp_path)
    assert again.returncode != 0 and "exists; give --output a new path" in again.stderr


@pytest.mark.slow   # 30 s; in CI's slow pass (the default suite's 10 minutes)
def test_a_text_model_predicts_lines_and_exports_only_where_strings_fit(tmp_path):
    """The transformer classifier takes raw strings (its vectorizer is inside the model):
    predict reads text lines from stdin; SavedModel carries it (outputs equal Keras's on the same
    strings); ONNX and LiteRT are refused, saying which format can."""
    import subprocess
    import sys

    import tensorflow as tf

    from conftest import REPO
    from kerasdl.experiment import load_experiment

    experiment = load_experiment(REPO / "experiments" / "transformer.py", smoke=True, overrides={
        "output.runs_dir": str(tmp_path / "runs"), "data.source": "embedded"})
    result = run(experiment, log=lambda line: None)
    lines = ["a great movie", "terrible and boring"]
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    printed = subprocess.run([sys.executable, "-m", "kerasdl", "predict", str(result.run_dir), "-",
                              "--json"], input="\n".join(lines) + "\n", capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=300)
    assert printed.returncode == 0, printed.stderr
    rows = [json.loads(line) for line in printed.stdout.splitlines()]
    expected = result.model.predict(tf.constant(lines), verbose=0)
    assert [row["input"] for row in rows] == ["stdin:1", "stdin:2"]
    for row, probabilities in zip(rows, expected):
        top = row["top"][0]
        assert top["probability"] == pytest.approx(float(probabilities.max()), abs=1e-5)
    for fmt in ("onnx", "litert"):
        refused = run_cli("export", str(result.run_dir), "--format", fmt, cwd=tmp_path)
        assert refused.returncode != 0
        assert (f"format '{fmt}' cannot carry this model: it takes string inputs" in refused.stderr
                and "export it as saved_model" in refused.stderr), refused.stderr
    saved = run_cli("export", str(result.run_dir), "--output", str(tmp_path / "sm"), cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    loaded = tf.saved_model.load(str(tmp_path / "sm"))      # (kept: serve uses its variables)
    served = loaded.serve(tf.constant(lines)).numpy()
    np.testing.assert_allclose(served, expected, atol=1e-4)


@pytest.mark.slow      # (its twin test_predict_reads_csv_inputs_as_training_does is slow too; budget)
def test_predict_reads_csv_rows_by_column_name(tmp_path):
    """A CSV-trained model predicts from raw CSV rows, its columns found by name (any order, the
    label column ignored); a CSV missing a feature column is refused, naming it."""
    from test_local_data import _tabular, _write_csv

    path = _write_csv(tmp_path / "people.csv", _tabular())
    result = run(small_experiment(
        tmp_path, data=Data(name=f"csv:{path}", label_column="label", batch_size=16),
        model=Model(name="mlp", kwargs={"hidden": (16,)}), trainer=Trainer(epochs=3, verbose=0)),
        log=lambda line: None)
    rows = [(35.0, 80_000.0, 0.3), (60.0, 20_000.0, 0.7)]
    shuffled = tmp_path / "new.csv"
    shuffled.write_text("score,income,age\n" + "".join(f"{s},{i},{a}\n" for a, i, s in rows))
    printed = run_cli("predict", str(result.run_dir), str(shuffled), "--json", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    found = [json.loads(line) for line in printed.stdout.splitlines()]
    expected = result.model.predict(np.asarray(rows, np.float32), verbose=0)
    for row, probabilities in zip(found, expected):
        by_class = {top["class"]: top["probability"] for top in row["top"]}
        assert by_class["no"] == pytest.approx(float(probabilities[0]), abs=1e-5)
        assert by_class["yes"] == pytest.approx(float(probabilities[1]), abs=1e-5)
    (tmp_path / "short.csv").write_text("age,score\n30,0.5\n")
    refused = run_cli("predict", str(result.run_dir), str(tmp_path / "short.csv"), cwd=tmp_path)
    assert refused.returncode != 0 and "lacks the column(s) income" in refused.stderr
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "photo.png")               # an image for a CSV model
    refused = run_cli("predict", str(result.run_dir), str(tmp_path / "photo.png"), cwd=tmp_path)
    assert refused.returncode != 0
    assert "images given, but the model takes inputs of shape (3,)" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def _export_and_compare(run_dir, tmp_path, x, formats=("saved_model", "litert", "onnx")):
    """Export ``run_dir`` in each format, load it in that format's runtime and return the
    largest difference from Keras's outputs on ``x``, per format."""
    import tensorflow as tf

    from kerasdl.deploy import load_trained

    expected = load_trained(run_dir).model.predict(x, verbose=0)
    differences = {}
    for fmt in formats:
        target = tmp_path / {"saved_model": "sm", "litert": "m.tflite", "onnx": "m.onnx"}[fmt]
        printed = run_cli("export", str(run_dir), "--format", fmt, "--output", str(target),
                          cwd=tmp_path)
        assert printed.returncode == 0, (fmt, printed.stderr)
        # checked in its own runtime before it was kept (issue 29); stdout is the path alone
        assert f"[kerasdl] checked {target.name} in " in printed.stderr, printed.stderr
        assert printed.stdout == f"wrote {target}\n"
        if fmt == "saved_model":
            loaded = tf.saved_model.load(str(target))
            found = loaded.serve(x).numpy()
        elif fmt == "litert":
            interpreter = tf.lite.Interpreter(model_path=str(target))
            (feed,), (fetch,) = interpreter.get_input_details(), interpreter.get_output_details()
            interpreter.resize_tensor_input(feed["index"], x.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(feed["index"], x)
            interpreter.invoke()
            found = interpreter.get_tensor(fetch["index"])
        else:
            onnxruntime = pytest.importorskip("onnxruntime")
            session = onnxruntime.InferenceSession(str(target))
            (found,) = session.run(None, {session.get_inputs()[0].name: x})
        differences[fmt] = float(np.abs(found - expected).max())
    return differences


@pytest.mark.parametrize("experiment_file, shape", [
    # ResNet-20 (BatchNorm, residual adds) in the slow pass: LeNet-5's and the transfer model's
    # exports keep the default suite within its 10 minutes
    pytest.param("resnet.py", (4, 32, 32, 3), marks=pytest.mark.slow),
    pytest.param("transfer_finetune.py", (4, 32, 32, 1), marks=pytest.mark.slow)],
    ids=["resnet20", "transfer"])
def test_exports_of_resnet20_and_a_transfer_model_equal_keras(tmp_path, experiment_file, shape):
    """Real inputs of the run's own test split, in every format's own runtime: within 1e-4."""
    from conftest import REPO
    from kerasdl.data import load_data
    from kerasdl.deploy import load_trained
    from kerasdl.config import LOSSES
    from kerasdl.experiment import load_experiment

    experiment = load_experiment(REPO / "experiments" / experiment_file, smoke=True, overrides={
        "output.runs_dir": str(tmp_path / "runs"), "data.source": "embedded"})
    result = run(experiment, log=lambda line: None)
    trained = load_trained(result.run_dir)
    data = load_data(trained.experiment.data, LOSSES[trained.experiment.trainer.loss][1],
                     log=lambda line: None)
    x = np.asarray(next(iter(data.test))[0])[: shape[0]].astype("float32")
    assert x.shape[1:] == shape[1:]
    differences = _export_and_compare(result.run_dir, tmp_path, x)
    print(experiment_file, differences)
    assert all(difference <= 1e-4 for difference in differences.values()), differences


@pytest.mark.slow   # 30 s; in CI's slow pass (the default suite's 10 minutes)
def test_seq2seq_translates_text_lines_after_reloading(tmp_path):
    """seq2seq takes and returns strings once reloaded: its vocabularies travel in the run's
    manifest and the publish record, and ``kerasdl predict`` translates text lines (greedy
    decoding) in a fresh process, equal to decoding the trained model in this one, printing
    nothing else; a word the source vocabulary lacks is a one-line error naming it."""
    from conftest import REPO
    from kerasdl.data import toy_text
    from kerasdl.experiment import load_experiment
    from kerasdl.models.seq2seq import greedy_decode

    experiment = load_experiment(REPO / "experiments" / "seq2seq.py", overrides={
        "trainer.epochs": 3, "trainer.verbose": 0, "output.runs_dir": str(tmp_path / "runs"),
        "output.saved_models_dir": str(tmp_path / "saved")})
    result = run(experiment, log=lambda line: None)
    numbers = [4312, 705, 19, 9999, 0, 6080, 1111, 830, 2002, 57]
    sentences = [" ".join(toy_text.number_to_words(n)) for n in numbers]
    sentences[0] = "Four thousand, three hundred TWELVE."      # standardized as in training
    (tmp_path / "numbers.txt").write_text("\n".join(sentences) + "\n\n")
    expected = [toy_text.decode_target(row) for row in greedy_decode(
        result.model, toy_text.number_words_arrays(numbers)[0][0], toy_text.START_ID,
        toy_text.END_ID, toy_text.TARGET_LENGTH)]
    for model in (result.run_dir, tmp_path / "saved" / "seq2seq.keras"):
        printed = run_cli("predict", str(model), str(tmp_path / "numbers.txt"), "--json",
                          cwd=tmp_path, as_a_user=True)
        assert printed.returncode == 0, printed.stderr
        assert printed.stderr == ""         # not even oneDNN's DT_BOOL notice (kerasdl.quiet)
        rows = [json.loads(line) for line in printed.stdout.splitlines()]
        assert [row["input"] for row in rows] == [f"{tmp_path / 'numbers.txt'}:{i + 1}"
                                                  for i in range(len(numbers))]
        assert [row["translation"].replace(" ", "") for row in rows] == expected
    assert sum(digits == str(n) for digits, n in zip(expected, numbers)) >= 9, expected
    (tmp_path / "bad.txt").write_text("four thousand zillion\n")
    refused = run_cli("predict", str(result.run_dir), str(tmp_path / "bad.txt"), cwd=tmp_path)
    assert refused.returncode != 0
    assert ("bad.txt:1: the word 'zillion' is not in the model's source vocabulary"
            in refused.stderr), refused.stderr
