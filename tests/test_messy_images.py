"""Messy image folders (issue 24, 2): every image is used as the run says, or refused in one line
naming the file before a run folder exists; ``kerasdl evaluate`` scores a new folder whole."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from kerasdl.config import Data, Model, Output, Trainer
from kerasdl.errors import ConfigError, DataError
from kerasdl.runner import run

from conftest import REPO, run_cli, small_experiment
from test_local_data import CLASSES, make_image_folder


def _experiment(tmp_path, folder, **data):
    return small_experiment(
        tmp_path, data=Data(name=f"folder:{folder}", batch_size=16, validation_fraction=0.2, **data),
        model=Model(name="mlp", kwargs={"hidden": (32,)}), trainer=Trainer(epochs=3, verbose=0),
        output=Output(runs_dir=str(tmp_path / "runs"), publish="never"))


def _truncate(file) -> None:
    data = file.read_bytes()
    file.write_bytes(data[:len(data) // 2])        # the header intact, the pixels cut


def _huge_header(file) -> None:
    data = bytearray(file.read_bytes())
    data[16:24] = (100_000).to_bytes(4, "big") * 2          # IHDR width and height
    file.write_bytes(bytes(data))


def _cmyk_jpeg(file) -> None:
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).convert("CMYK").save(file)


def _no_runs(tmp_path) -> bool:
    return not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("breakage, message", [
    (lambda root: _truncate(root / "cross" / "003.png"),
     "{root}/cross/003.png cannot be decoded (Invalid PNG data"),
    (lambda root: _huge_header(root / "cross" / "003.png"),
     "{root}/cross/003.png claims 100000x100000 pixels, more than the 89,478,485 of Pillow's guard"),
    (lambda root: os.symlink(root, root / "zall"),
     "class folder {root}/zall is a symbolic link to {root}, the data root"),
    (lambda root: os.symlink(root / "cross", root / "crosses"),
     "class folder {root}/crosses is a symbolic link to {root}/cross, inside the data root"),
    (lambda root: (root / "loop").symlink_to(root.parent),
     "class folder {root}/loop is a symbolic link to {parent}, a folder holding the data root"),
    (lambda root: os.symlink(root / "circle", root / "cross" / "more"),
     "folder {root}/cross/more is a symbolic link to {root}/circle, inside the data root"),
    (lambda root: (make_image_folder(root.parent / "ext", per_class=1),
                   os.symlink(root.parent / "ext", root.parent / "ext" / "again"),
                   os.symlink(root.parent / "ext", root / "cross" / "ext")),
     "folder {root}/cross/ext/again is {parent}/ext again, through a symbolic link (a loop)"),
], ids=["truncated-png", "huge-header", "link-to-root", "link-inside-root", "link-above-root",
        "link-in-a-class-folder", "loop-outside-the-root"])
def test_a_broken_image_or_a_looping_class_folder_is_named_before_any_run_folder(
        tmp_path, breakage, message):
    root = make_image_folder(tmp_path / "data" / "shapes", per_class=6)
    breakage(root)
    with pytest.raises(DataError) as error:
        run(_experiment(tmp_path, root, image_size=(16, 16)), log=lambda line: None)
    assert message.format(root=root, parent=root.parent) in str(error.value)
    assert "\n" not in str(error.value) and "node" not in str(error.value)
    assert _no_runs(tmp_path)


def test_a_linked_folder_outside_the_data_root_is_followed(tmp_path):
    from kerasdl.data.local import load_local

    root = make_image_folder(tmp_path / "shapes", per_class=5)
    make_image_folder(tmp_path / "more", per_class=5, seed=3)
    os.symlink(tmp_path / "more" / "cross", root / "cross" / "more")
    splits = load_local("folder", root, Data(name=f"folder:{root}"), log=lambda line: None)
    labels = [int(y) for split in (splits.train, splits.test) for _, y in split]
    assert np.bincount(labels).tolist() == [5, 10, 5]


def test_a_truncated_png_fails_in_one_line_through_the_cli(tmp_path):
    """The defect as a user met it: no 'decode_image/DecodeImage' node, the file named, no run."""
    root = make_image_folder(tmp_path / "shapes", per_class=10, size=28)
    _truncate(root / "square" / "007.png")
    printed = run_cli("run", str(REPO / "experiments" / "lenet5.py"), "--set",
                      f"data.name=folder:{root}", "--set", "trainer.epochs=1", "--set",
                      f"output.runs_dir={tmp_path / 'runs'}", "--set", "output.publish=never",
                      cwd=tmp_path)
    assert printed.returncode != 0
    errors = [line for line in printed.stderr.splitlines() if line.strip()]
    assert errors == [f"error: {root}/square/007.png cannot be decoded (Invalid PNG data, "
                      f"size {(root / 'square' / '007.png').stat().st_size}): a damaged file, or "
                      "not the image its extension says; delete or replace it"], printed.stderr
    assert _no_runs(tmp_path)


def test_cmyk_jpegs_read_as_grey_and_odd_channels_are_said(tmp_path):
    """A CMYK JPEG (TensorFlow decodes it to RGB only) reads under data.channels=1; one RGB
    image among grey ones is read as grey, and the run says so, naming it."""
    from kerasdl.data.local import load_local

    root = make_image_folder(tmp_path / "shapes", per_class=10)
    _cmyk_jpeg(root / "cross" / "cmyk.jpg")
    lines = []
    splits = load_local("folder", root, Data(name=f"folder:{root}", channels=1), log=lines.append)
    assert len([x for x, _ in splits.train]) + len([x for x, _ in splits.test]) == 31
    assert not any("read as" in line for line in lines), lines      # data.channels chose
    splits = load_local("folder", root, Data(name=f"folder:{root}"), log=lines.append)
    assert splits.train.element_spec[0].shape == (16, 16, 1)
    assert lines == ["data: 1 of 31 images is colour (cross/cmyk.jpg); read as grey since the "
                     "others are (set data.channels=3 to keep colour)"]
    # colour wins where most images are colour: the grey ones are repeated to RGB
    for index in range(40):
        _cmyk_jpeg(root / "circle" / f"c{index:02d}.jpg")
    lines.clear()
    splits = load_local("folder", root, Data(name=f"folder:{root}"), log=lines.append)
    assert splits.train.element_spec[0].shape == (16, 16, 3)
    assert lines == ["data: 30 of 71 images are grey (circle/000.png, circle/001.png, "
                     "circle/002.png, ...); read as RGB (grey repeated) since the others are "
                     "colour (set data.channels=1 to read all as grey)"]


def test_above_the_memory_bound_files_are_decoded_again_after_the_check(tmp_path, monkeypatch):
    """Over IN_MEMORY_BYTES the splits keep file paths (decoded per epoch): the same pixels as
    the decoded arrays below it, and a truncated file is still named before training."""
    from kerasdl.data import folders
    from kerasdl.data.local import load_local

    root = make_image_folder(tmp_path / "rgb", per_class=4, mode="RGB")
    cfg = Data(name=f"folder:{root}", test_fraction=0.25)

    def pixels():
        splits = load_local("folder", root, cfg, log=lambda line: None)
        return [(int(y), np.asarray(x).tobytes()) for split in (splits.train, splits.test)
                for x, y in split]

    in_memory = pixels()
    monkeypatch.setattr(folders, "IN_MEMORY_BYTES", 0)
    assert pixels() == in_memory
    _truncate(root / "square" / "002.png")
    with pytest.raises(DataError, match=r"/square/002.png cannot be decoded \(Invalid PNG data"):
        pixels()


def test_the_test_split_and_a_train_folder_keep_every_class_in_their_first_n(tmp_path):
    """test_limit takes the first N: of a class-ordered test/ folder they were all one class."""
    from kerasdl.data.local import load_local

    root = tmp_path / "data"
    make_image_folder(root / "train", per_class=20)
    make_image_folder(root / "test", per_class=20, seed=1)
    splits = load_local("folder", root, Data(name=f"folder:{root}"), log=lambda line: None)
    for split in (splits.train, splits.test):
        first = [int(label) for _, label in split.take(9)]
        assert sorted(first) == [0, 0, 0, 1, 1, 1, 2, 2, 2], first


@pytest.fixture
def trained_on_shapes(tmp_path):
    trained = make_image_folder(tmp_path / "shapes", per_class=20)
    return trained, run(_experiment(tmp_path, trained), log=lambda line: None)


@pytest.mark.slow      # (a real run; the default suite is at its 10 minutes)
def test_evaluate_scores_every_image_of_a_new_folder_and_says_how_many(tmp_path,
                                                                       trained_on_shapes):
    trained, result = trained_on_shapes
    new = make_image_folder(tmp_path / "new", per_class=12, seed=5)
    (new / "square").rename(tmp_path / "square-aside")          # a folder may lack a class
    printed = run_cli("evaluate", str(result.run_dir), "--data", f"folder:{new}", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert f"on folder:{new} (every image in it, 24): test accuracy " in printed.stdout
    written = [line.split("wrote ")[1] for line in printed.stdout.splitlines() if "wrote " in line]
    found = json.loads(open(written[0]).read())
    assert found["counts"] == {"test": 24} and found["scored"] == "every image in it, 24"
    assert written[1].endswith("-confusion.png")
    # what a user tried first is refused, pointing here
    with pytest.raises(ConfigError, match=r"got 1.0 \(kerasdl evaluate RUN --data folder:PATH "
                                          "scores every image of a labelled folder without train/"):
        Data(test_fraction=1.0)


@pytest.mark.slow   # two CLI evaluations, ~20 s
def test_evaluate_scores_the_training_folder_by_its_test_split_and_refuses_unknown_classes(
        tmp_path, trained_on_shapes):
    trained, result = trained_on_shapes
    again = run_cli("evaluate", str(result.run_dir), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"on folder:{trained} (its test split, 12 examples): test accuracy" in again.stdout
    new = make_image_folder(tmp_path / "new", per_class=2, seed=5)
    (new / "circle").rename(new / "star")
    refused = run_cli("evaluate", str(result.run_dir), "--data", f"folder:{new}", cwd=tmp_path)
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        f"error: {new} has class folders that the model does not know: star; its classes are "
        f"{', '.join(CLASSES)}"), refused.stderr


@pytest.mark.slow   # two CLI runs that train, ~40 s
def test_smoke_on_a_class_ordered_test_folder_scores_every_class(tmp_path):
    """--smoke keeps 128 test images: of 3 x 60 class-ordered ones, not 60 circles and 60 crosses
    and 8 squares but every class in proportion."""
    from kerasdl.data import load_data
    from kerasdl.deploy import load_trained

    root = tmp_path / "data"
    make_image_folder(root / "train", per_class=30, size=28)
    make_image_folder(root / "test", per_class=60, seed=1, size=28)
    printed = run_cli("run", str(REPO / "experiments" / "lenet5.py"), "--smoke", "--set",
                      f"data.name=folder:{root}", "--set", f"output.runs_dir={tmp_path / 'runs'}",
                      "--set", "output.publish=never", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    run_dir, = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"]["counts"]["test"] == 128
    data = load_data(load_trained(run_dir).experiment.data, "sparse", log=lambda line: None)
    labels = np.concatenate([y for _, y in data.test.as_numpy_iterator()])
    assert np.bincount(labels).tolist() in ([43, 43, 42], [43, 42, 43], [42, 43, 43])


@pytest.mark.slow   # a CLI run that trains, ~20 s
def test_one_rgb_jpeg_among_grey_pngs_keeps_the_model_grey_and_says_so(tmp_path):
    from PIL import Image

    root = make_image_folder(tmp_path / "shapes", per_class=20, size=28)
    Image.new("RGB", (28, 28), (250, 120, 0)).save(root / "cross" / "x.jpg")
    printed = run_cli("run", str(REPO / "experiments" / "lenet5.py"), "--set",
                      f"data.name=folder:{root}", "--set", "trainer.epochs=1", "--set",
                      f"output.runs_dir={tmp_path / 'runs'}", "--set", "output.publish=never",
                      cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert ("data: 1 of 61 images is colour (cross/x.jpg); read as grey since the others are "
            "(set data.channels=3 to keep colour)") in printed.stdout + printed.stderr
    run_dir, = (tmp_path / "runs").iterdir()
    from kerasdl.deploy import load_trained

    assert load_trained(run_dir).model.inputs[0].shape[-1] == 1      # grey, not 3 channels


@pytest.mark.slow   # three CLI subprocesses, ~30 s
@pytest.mark.parametrize("breakage, options, message", [
    (_huge_header, ("--set", "data.image_size=(28, 28)"), "claims 100000x100000 pixels"),
    (_cmyk_jpeg, ("--set", "data.channels=1"), None),
], ids=["huge-header", "cmyk-grey"])
def test_huge_headers_are_named_and_cmyk_trains_through_the_cli(tmp_path, breakage, options,
                                                                message):
    root = make_image_folder(tmp_path / "shapes", per_class=10, size=28)
    breakage(root / "cross" / ("003.png" if message else "cmyk.jpg"))
    printed = run_cli("run", str(REPO / "experiments" / "lenet5.py"), "--set",
                      f"data.name=folder:{root}", "--set", "trainer.epochs=1", *options, "--set",
                      f"output.runs_dir={tmp_path / 'runs'}", "--set", "output.publish=never",
                      cwd=tmp_path)
    if message:
        assert printed.returncode != 0 and _no_runs(tmp_path)
        assert f"{root}/cross/003.png {message}" in printed.stderr
        assert len(printed.stderr.strip().splitlines()) == 1, printed.stderr
    else:
        assert printed.returncode == 0, printed.stderr
