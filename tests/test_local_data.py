"""The user's own data (kerasdl.data.local): image folders and .npz arrays through the one
pipeline, with class names, and bad input said in one line before any training."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kerasdl.config import Data, Model, Trainer
from kerasdl.errors import DataError
from kerasdl.runner import run

from conftest import small_experiment

CLASSES = ("circle", "cross", "square")


def _shape_image(kind: str, rng, size: int = 16, mode: str = "L"):
    """A drawn shape with a random position and noise: separable, but not trivially."""
    from PIL import Image, ImageDraw

    image = Image.new(mode, (size, size), 0)
    draw = ImageDraw.Draw(image)
    x, y = rng.integers(1, size // 3, size=2)
    extent = int(rng.integers(size // 2, size - 2))
    box = (int(x), int(y), int(min(x + extent, size - 1)), int(min(y + extent, size - 1)))
    fill = 255 if mode == "L" else (255, 255, 255)
    if kind == "circle":
        draw.ellipse(box, outline=fill, width=2)
    elif kind == "cross":
        draw.line(box, fill=fill, width=2)
        draw.line((box[0], box[3], box[2], box[1]), fill=fill, width=2)
    else:
        draw.rectangle(box, outline=fill, width=2)
    noise = rng.integers(0, 40, size=(size, size) if mode == "L" else (size, size, 3))
    array = np.clip(np.asarray(image, dtype=np.int64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(array)


def make_image_folder(root, per_class: int = 30, seed: int = 0, size: int = 16,
                      extension: str = "png", mode: str = "L"):
    """``root/<class>/<i>.<extension>`` for the three shape classes; returns root."""
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            _shape_image(kind, rng, size, mode).save(root / kind / f"{index:03d}.{extension}")
    return root


def _experiment(tmp_path, name: str, **data):
    return small_experiment(
        tmp_path, data=Data(name=name, batch_size=16, validation_fraction=0.2, **data),
        model=Model(name="mlp", kwargs={"hidden": (32,)}), trainer=Trainer(epochs=8, verbose=0))


def test_an_image_folder_trains_with_its_class_names(tmp_path):
    folder = make_image_folder(tmp_path / "shapes")
    (folder / "circle" / "notes.txt").write_text("not an image: skipped, and counted")
    lines = []
    result = run(_experiment(tmp_path, f"folder:{folder}"), log=lines.append)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["data"]["source"] == "folder"
    assert manifest["data"]["class_names"] == list(CLASSES)
    # 90 images: a stratified 20% test split (6 per class), 20% of the rest for validation
    assert manifest["data"]["counts"] == {"train": 58, "validation": 14, "test": 18}
    assert any("skipped 1 file(s)" in line for line in lines), lines
    assert result.test_metrics["accuracy"] > 0.6          # chance is 0.33


def test_train_validation_test_folders_are_the_splits(tmp_path):
    for split, count in (("train", 12), ("validation", 4), ("test", 5)):
        make_image_folder(tmp_path / "data" / split, per_class=count, seed=len(split))
    result = run(_experiment(tmp_path, f"folder:{tmp_path / 'data'}"), log=lambda line: None)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["data"]["counts"] == {"train": 36, "validation": 12, "test": 15}


def test_folder_pixels_equal_keras_image_dataset_from_directory(tmp_path):
    """The same decode as Keras's own loader: the same images, pixel for pixel, per class."""
    import keras
    import tensorflow as tf

    from kerasdl.data.local import load_local

    folder = make_image_folder(tmp_path / "rgb", per_class=4, mode="RGB", extension="jpg")
    ours = load_local("folder", folder, Data(name=f"folder:{folder}", test_fraction=0.25),
                      log=lambda line: None)
    theirs = keras.utils.image_dataset_from_directory(folder, batch_size=None, shuffle=False,
                                                      image_size=(16, 16))
    assert tuple(theirs.class_names) == ours.class_names
    expected = sorted((int(y), np.asarray(x, np.uint8).tobytes()) for x, y in theirs)
    found = sorted((int(y), np.asarray(x).tobytes()) for split in (ours.train, ours.test)
                   for x, y in split)
    assert found == expected
    assert ours.train.element_spec[0].shape == (16, 16, 3)
    assert ours.train.element_spec[0].dtype == tf.uint8


def test_mixed_sizes_need_image_size_and_then_train(tmp_path):
    folder = make_image_folder(tmp_path / "mixed", per_class=10)
    _shape_image("circle", np.random.default_rng(1), size=20).save(folder / "circle" / "big.png")
    with pytest.raises(DataError, match=r"2 different sizes \(16x16, 20x20\); set "
                                        r"data.image_size=\(H, W\)"):
        run(_experiment(tmp_path, f"folder:{folder}"), log=lambda line: None)
    assert not list((tmp_path / "runs").iterdir())                # nothing left behind
    result = run(_experiment(tmp_path, f"folder:{folder}", image_size=(16, 16),
                             resize_method="bilinear"), log=lambda line: None)
    assert result.test_metrics["accuracy"] >= 0


@pytest.mark.parametrize("breakage, message", [
    (lambda root: None, "no such folder"),
    (lambda root: (make_image_folder(root), (root / "empty").mkdir()),
     "class folder {root}/empty holds no images"),
    (lambda root: (make_image_folder(root), (root / "cross" / "bad.png").write_text("text")),
     "{root}/cross/bad.png is not a readable image"),
    (lambda root: (root.mkdir(), (root / "a.png").write_text("")), "holds no class folders"),
    (lambda root: (make_image_folder(root / "train", per_class=3),
                   make_image_folder(root / "test" / "x", per_class=1)),
     "has class folders that {root}/train lacks"),
], ids=["missing", "empty-class", "not-an-image", "no-class-folders", "unknown-test-class"])
def test_bad_image_folders_fail_in_one_line_naming_the_file(tmp_path, breakage, message):
    root = tmp_path / "data"
    breakage(root)
    with pytest.raises(DataError) as error:
        run(_experiment(tmp_path, f"folder:{root}"), log=lambda line: None)
    assert message.format(root=root) in str(error.value)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_npz_arrays_with_and_without_a_test_split(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    np.savez(tmp_path / "split.npz", x_train=x[:150], y_train=y[:150], x_test=x[150:],
             y_test=y[150:], class_names=np.array(["negative", "positive"]))
    np.savez(tmp_path / "whole.npz", x=x, y=y)
    split = run(_experiment(tmp_path, f"npz:{tmp_path / 'split.npz'}"), log=lambda line: None)
    manifest = json.loads((split.run_dir / "manifest.json").read_text())
    assert manifest["data"]["counts"] == {"train": 120, "validation": 30, "test": 50}
    assert manifest["data"]["class_names"] == ["negative", "positive"]
    assert split.test_metrics["accuracy"] > 0.8
    whole = run(_experiment(tmp_path, f"npz:{tmp_path / 'whole.npz'}", test_fraction=0.25),
                log=lambda line: None)
    manifest = json.loads((whole.run_dir / "manifest.json").read_text())
    assert manifest["data"]["counts"]["test"] == 50


@pytest.mark.parametrize("arrays, message", [
    (dict(x_train=np.zeros((4, 2)), y_train=np.zeros(4)),
     "holds arrays ['x_train', 'y_train']; expected x_train, y_train, x_test, y_test"),
    (dict(x=np.zeros((5, 2)), y=np.zeros(4, "int64")), "x has 5 rows but y has 4"),
], ids=["missing-keys", "mismatched-lengths"])
def test_bad_npz_files_fail_in_one_line(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run(_experiment(tmp_path, f"npz:{tmp_path / 'bad.npz'}"), log=lambda line: None)


def _write_csv(path, rows, header=("age", "income", "score", "label")):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, row)) for row in rows]) + "\n")
    return path


def _tabular(count: int = 240, seed: int = 0):
    """Rows whose label follows from features on very different scales (age ~40, income ~50,000):
    an MLP learns it only with normalization."""
    rng = np.random.default_rng(seed)
    age, income, score = rng.normal(40, 10, count), rng.normal(50_000, 15_000, count), rng.random(count)
    label = np.where(income / 15_000 - age / 10 > 50_000 / 15_000 - 4, "yes", "no")
    return [(round(a, 2), round(i, 2), round(s, 4), l) for a, i, s, l in
            zip(age, income, score, label)]


def test_a_csv_trains_behind_a_normalization_layer_fitted_on_training_rows_only(tmp_path):
    import keras

    from kerasdl.data.local import load_local
    from kerasdl.loading import load_model

    path = _write_csv(tmp_path / "people.csv", _tabular())
    experiment = small_experiment(
        tmp_path, data=Data(name=f"csv:{path}", label_column="label", batch_size=16,
                            validation_fraction=0.2),
        model=Model(name="mlp", kwargs={"hidden": (16,)}), trainer=Trainer(epochs=15, verbose=0))
    result = run(experiment, log=lambda line: None)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["data"]["class_names"] == ["no", "yes"]
    assert manifest["data"]["feature_columns"] == ["age", "income", "score"]
    assert manifest["data"]["counts"] == {"train": 154, "validation": 38, "test": 48}
    assert result.test_metrics["accuracy"] > 0.85
    # the saved model normalizes raw rows itself, with the statistics of the 154 training rows
    model = load_model(result.run_dir / "model.keras")
    normalize = model.get_layer("normalize")
    assert isinstance(normalize, keras.layers.Normalization)
    splits = load_local("csv", path, experiment.data, log=lambda line: None)
    x_train = np.stack([x for x, _ in splits.train.as_numpy_iterator()])
    np.testing.assert_allclose(np.ravel(normalize.mean), x_train[:154].mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.ravel(normalize.variance), x_train[:154].var(0), rtol=1e-4)
    assert not np.allclose(np.ravel(normalize.mean), x_train.mean(0), rtol=1e-6)   # not all rows


@pytest.mark.parametrize("rows, label, message", [
    ([(30, 40_000, 0.5, "yes")] * 4, "target", "has no column 'target' (data.label_column)"),
    ([(30, "rich", 0.5, "yes")] * 4, "label", "line 2, column 'income': 'rich' is not a number"),
    ([(30, 40_000, 0.5, "yes")] * 4, None, "needs data.label_column"),
], ids=["no-label-column", "not-a-number", "label-column-unset"])
def test_bad_csv_files_fail_in_one_line(tmp_path, rows, label, message):
    path = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError) as error:
        run(_experiment(tmp_path, f"csv:{path}", label_column=label), log=lambda line: None)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_text_folder_trains_the_transformer_classifier_with_its_class_names(tmp_path):
    """textfolder: through Keras's text_dataset_from_directory; the classifier's vectorizer
    learns from the training split and the run predicts raw lines by class name."""
    from kerasdl.deploy import load_trained, predict
    from kerasdl.experiment import load_experiment

    from conftest import REPO

    rng = np.random.default_rng(0)
    words = {"praise": ["good", "great", "superb", "fun"], "complaint": ["bad", "dull", "poor",
                                                                          "weak"]}
    for kind, adjectives in words.items():
        (tmp_path / "reviews" / kind).mkdir(parents=True)
        for index in range(40):
            text = f"the {rng.choice(['film', 'plot', 'cast'])} was {rng.choice(adjectives)}"
            (tmp_path / "reviews" / kind / f"{index}.txt").write_text(text)
    experiment = load_experiment(REPO / "experiments" / "transformer.py", overrides={
        "data.name": f"textfolder:{tmp_path / 'reviews'}", "trainer.epochs": 12,
        "trainer.verbose": 0, "output.runs_dir": str(tmp_path / "runs"),
        "output.publish": "never"})
    result = run(experiment, log=lambda line: None)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["data"]["source"] == "textfolder"
    assert manifest["data"]["class_names"] == ["complaint", "praise"]
    assert manifest["data"]["counts"]["test"] == 16
    assert result.test_metrics["accuracy"] >= 0.9
    (tmp_path / "lines.txt").write_text("the plot was superb\nthe cast was dull\n")
    found = predict(load_trained(result.run_dir), [str(tmp_path / "lines.txt")], top_k=1)
    assert [p.top[0][0] for p in found] == ["praise", "complaint"]
