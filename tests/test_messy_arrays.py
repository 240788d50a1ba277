"""Messy arrays and CSV files (issue 24, part 1): every defect a hostile user tried is refused in
one line naming the file (key and index, or line and column) and the fix, before any run folder,
or used correctly; ``data.test_limit`` and ``--smoke`` score every class of class-sorted data."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from kerasdl.config import Data
from kerasdl.errors import ConfigError, DataError

from conftest import REPO, run_cli, run_python

MLP = str(REPO / "experiments" / "mlp_digits.py")


def cli_in_one_process(cases: list[list[str]], cwd: Path, timeout: float = 600) -> list[dict]:
    """``kerasdl ARGS`` for each case, through the CLI's ``main()``, all in one fresh process.

    Returns ``{"rc", "output"}`` per case (its stdout and stderr); TensorFlow is imported once,
    so a dozen refused runs cost one import."""
    code = f"""
import contextlib, io, json, sys
from kerasdl.cli import main
results = []
for argv in {cases!r}:
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            main(argv)
            rc = 0
        except SystemExit as exit:
            rc = exit.code if isinstance(exit.code, int) else 1
        except BaseException as error:            # what main() let through: a traceback
            import traceback
            output.write("Traceback (uncaught)\\n" + traceback.format_exc())
            rc = 99
    results.append({{"rc": rc, "output": output.getvalue()}})
print("RESULTS" + json.dumps(results))
"""
    done = run_python(code, cwd=cwd, timeout=timeout)
    assert "RESULTS" in done.stdout, done.stderr[-3000:]
    return json.loads(done.stdout.split("RESULTS", 1)[1])


def error_line(output: str) -> str:
    """The one ``error:`` line of a refused run (asserting there is exactly one, no traceback)."""
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in output, output[-2000:]
    return lines[0]


def nothing_written(root: Path) -> bool:
    """No run folder and no model file anywhere under ``root``."""
    runs = root / "runs"
    return (not runs.exists() or not any(runs.iterdir())) and not list(root.rglob("*.keras"))


def _features(count: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def _write_csv(path: Path, rows: list[str], header: str = "a,b,label", encoding: str = "utf-8",
               bom: bool = False) -> Path:
    data = ("\n".join([header, *rows]) + "\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _rows(count: int = 60, seed: int = 0) -> list[str]:
    x, y = _features(count, seed)
    return [f"{a:.4f},{b:.4f},{label}" for (a, b, *_), label in zip(x, y)]


def _messy_files(root: Path) -> list[tuple[str, list[str], list[str]]]:
    """(data.name, extra --set items, the words the error line must hold) per defect."""
    x, y = _features()
    cases = []

    def npz(name, sets=(), *expected, **arrays):
        np.savez(root / name, **arrays)
        cases.append((f"npz:{root / name}", list(sets), [str(root / name), *expected]))

    def csv(name, rows, *expected, sets=(), **options):
        path = _write_csv(root / name, rows, **options)
        cases.append((f"csv:{path}", ["data.label_column=label", *sets], [str(path), *expected]))

    bad = x.copy()
    bad[3, 2] = np.nan
    npz("nan.npz", (), "x[3, 2] is nan (1 non-finite value(s) in x)", "fill in or drop", x=bad, y=y)
    bad = x.copy()
    bad[[5, 7], 1] = [np.inf, -np.inf]
    npz("inf_test.npz", (), "x_test[5, 1] is inf (2 non-finite value(s) in x_test)",
        x_train=x, y_train=y, x_test=bad, y_test=y)
    npz("negative.npz", (), "y[0] is -1", "class ids must be whole numbers 0..K-1",
        "data.label_type='numeric'", x=x, y=y - 1)
    npz("empty.npz", (), "x_train and y_train are empty (0 rows)",
        x_train=x[:0], y_train=y[:0], x_test=x, y_test=y)
    npz("short_names.npz", (), "y holds class id 2 but class_names names only 2 classes",
        x=x, y=y * 2, class_names=np.array(["no", "yes"]))
    npz("bool.npz", (), "y is boolean; save class ids as integers", x=x, y=y.astype(bool))
    npz("text_x.npz", (), "x holds <U3 values; features must be numbers",
        x=np.array(["a", "bcd"] * 60), y=y)
    many = np.repeat(np.arange(2000), 2)
    npz("many.npz", (), "2000 classes but a 20% test split of 4000 examples holds 800",
        "raise data.test_fraction to at least 0.5", "add examples, or give a test split",
        x=np.zeros((4000, 2), "float32"), y=many)
    big = x.astype("float64")
    big[4, 0] = 1e300                    # finite in float64, inf in the model's float32
    npz("float64.npz", (), "x[4, 0] is 1e+300, beyond float32's range (3.4e38)", x=big, y=y)
    npz("dtypes.npz", (), "x_train is uint8 but x_test is float32", "both splits need one dtype",
        x_train=(np.abs(x) * 50).astype("uint8"), y_train=y, x_test=x, y_test=y)
    npz("twice.npz", (), "class_names names 'a' 2 times; give every class its own name",
        x=x, y=y, class_names=np.array(["a", "a"]))
    npz("ids.npz", (), "y holds class id 1000000 but the labels hold only 2 distinct ids",
        "numpy.unique(y, return_inverse=True)", x=x, y=y * 1_000_000)
    npz("uint64.npz", (), "y holds class id 9223372036854775808", x=x,
        y=y.astype("uint64") * np.uint64(2**63))
    npz("no_features.npz", (), "x has shape (120, 0): its examples hold no features",
        x=x[:, :0], y=y)
    (root / "pickle.npz").write_bytes(b"\x80\x04K\x01." * 20)        # a pickle: never loaded
    cases.append((f"npz:{root / 'pickle.npz'}", [], [
        f"{root / 'pickle.npz'} is not an .npz archive (numpy would have to unpickle it"]))
    np.save(root / "single.npy", x)
    (root / "single.npy").rename(root / "single.npz")
    cases.append((f"npz:{root / 'single.npz'}", [], ["is a single array (.npy), not an .npz archive"]))
    with zipfile.ZipFile(root / "members.npz", "w") as archive:
        archive.writestr("x.npy", b"not an array")
        archive.writestr("y.npy", b"nor this")
    cases.append((f"npz:{root / 'members.npz'}", [], ["'x' is not a numpy array (.npy)"]))
    (root / "folder.csv").mkdir()
    cases.append((f"csv:{root / 'folder.csv'}", ["data.label_column=label"],
                  [f"{root / 'folder.csv'} cannot be read as a CSV file (Is a directory)"]))
    for split, classes in (("train", "ab"), ("test", "abc")):
        for label in classes:
            (root / "extra_class" / split / label).mkdir(parents=True)
            for index in range(4):
                (root / "extra_class" / split / label / f"{index}.txt").write_text(f"{label} {index}")
    cases.append((f"textfolder:{root / 'extra_class'}", [], [
        f"{root / 'extra_class' / 'test'} has class folders that {root / 'extra_class' / 'train'} "
        "lacks: c; every class needs training texts"]))        # its texts were left out unsaid
    for name, text in (("latin1", "caf\u00e9".encode("latin-1")), ("one_class", b"fine")):
        for index in range(6):
            folder = root / name / ("a" if name == "one_class" or index % 2 else "b")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index}.txt").write_bytes(b"some text\n" + text)
    cases.append((f"textfolder:{root / 'latin1'}", [],
                  [f"{root / 'latin1' / 'a' / '1.txt'} line 2 is not UTF-8 text (byte 0xe9)"]))
    cases.append((f"textfolder:{root / 'one_class'}", [],
                  [f"{root / 'one_class'} holds one class folder, 'a'; a classifier needs at least 2"]))
    rows = _rows()
    csv("wide.csv", [f"{float(row.split(',')[0]) * 1e25:.4g},{row.split(',', 1)[1]}" for row in rows],
        "column 'a': its values spread too widely for the model's float32 (standard deviation 8.",
        "divide it by 1e24")     # the Normalization layer's variance was inf: a NaN model
    csv("semicolons.csv", [row.replace(",", ";") for row in rows], "has no column 'label'",
        "kerasdl reads comma-separated files, and this one is separated by ';'", header="a;b;label")
    for cell in ("nan", "NaN", "inf", "-inf", "Infinity"):
        csv(f"cell_{cell}.csv", rows[:4] + [f"{cell},1.0,1"] + rows[4:],
            f"line 6, column 'a': '{cell}' is not a finite number", "fill in or drop missing")
    csv("huge.csv", rows + ["1e39,1.0,1"], "line 62, column 'a': '1e39' is beyond the float32 range")
    csv("latin1.csv", rows + ["1.0,2.0,caf\u00e9"], "line 62 is not UTF-8 text (byte 0xe9)",
        "save the file as UTF-8", encoding="latin-1")
    for label, words in (("", "the label is empty"), ("nan", "'nan' is not a finite number"),
                         ("inf", "'inf' is not a finite number"),
                         ("1e39", "'1e39' is beyond the float32 range")):
        csv(f"label_{label or 'empty'}.csv", rows + [f"1.0,2.0,{label}"],
            f"line 62, column 'label' (data.label_column): {words}")
    csv("price.csv", [row.rsplit(",", 1)[0] + f",{100 + i}" for i, row in enumerate(rows)],
        "has a numeric target (float labels, no classes) but loss 'sparse_categorical_crossentropy' "
        "needs class ids; set trainer.loss='mse'", sets=["data.label_type=numeric"])
    csv("text_numeric.csv", [row[:-1] + ("yes" if row.endswith("1") else "no") for row in rows],
        "line 2, column 'label' (data.label_column): 'no' is not a number, and "
        "data.label_type='numeric' needs a numeric target",
        sets=["data.label_type=numeric"])
    return cases


def test_messy_files_are_refused_in_one_line_through_the_cli_before_any_run_folder(tmp_path):
    """Each defect of the issue through ``kerasdl run`` (its ``main()``, one process for all):
    one ``error:`` line naming the file, where in it and the fix; no traceback, no run folder,
    no model file. Before the fixes, NaN features trained and published a NaN model (rc 0), and
    the others ended in raw ValueErrors or unrelated messages."""
    data = tmp_path / "data"
    data.mkdir()
    cases = _messy_files(data)
    argvs = [["run", MLP, "--set", f"data.name={name}", "--set", "trainer.epochs=1",
              *[part for item in sets for part in ("--set", item)]] for name, sets, _ in cases]
    argvs.append(["run", MLP, "--set", "data.label_type=numeric"])    # on the digits: not used
    argvs.append(["run", MLP, "--set", "data.label_type=clases"])
    results = cli_in_one_process(argvs, cwd=tmp_path)
    line = error_line(results[-2]["output"])
    assert ("config key 'data.label_type'='numeric' applies to csv: and npz: data; dataset 'digits' "
            "has its own labels: remove the key") in line and results[-2]["rc"] == 2
    for (name, _, expected), result in zip(cases, results):
        line = error_line(result["output"])
        assert result["rc"] == 1 and "Warning" not in result["output"], (name, result)
        for words in expected:
            assert words in line, (name, words, line)
    line = error_line(results[-1]["output"])
    assert "'data.label_type' must be one of 'auto', 'classes', 'numeric'" in line
    assert "(did you mean 'classes'?)" in line and results[-1]["rc"] == 2
    assert nothing_written(tmp_path)


@pytest.mark.slow      # (a real run; the default suite is at its 10 minutes)
def test_grey_class_sorted_arrays_train_lenet5_smoke_and_score_every_class(tmp_path):
    """A greyscale (N, 28, 28) uint8 npz, as keras.datasets gives MNIST, trains LeNet-5 (it was
    refused, and the fix the message suggested failed next): the channel axis is added and said.
    Its x_test is sorted by class: --smoke's test_limit=128 took classes 0-4 of 10, now all."""
    rng = np.random.default_rng(0)
    classes, per_train, per_test = 10, 40, 30
    y_train, y_test = np.repeat(np.arange(classes), per_train), np.repeat(np.arange(classes), per_test)
    stripes = lambda y: (np.arange(28)[None, :, None] % classes == y[:, None, None]) * 200  # noqa: E731
    image = lambda y: np.clip(stripes(y) + rng.integers(0, 50, (len(y), 28, 28)), 0, 255)  # noqa: E731
    np.savez(tmp_path / "grey.npz", x_train=image(y_train).astype("uint8"), y_train=y_train,
             x_test=image(y_test).astype("uint8"), y_test=y_test)
    result = run_cli("run", str(REPO / "experiments" / "lenet5.py"), "--smoke",
                     "--set", f"data.name=npz:{tmp_path / 'grey.npz'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert "x (28, 28, 1) uint8 (grey images (28, 28), given a channel axis)" in result.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    per_class = json.loads((run_dir / "per_class.json").read_text())
    counts = {name: found["count"] for name, found in per_class.items()}
    assert len(counts) == classes and sum(counts.values()) == 128
    assert min(counts.values()) >= 12, counts              # 12 or 13 of each class
    assert np.isfinite(json.loads((run_dir / "metrics.json").read_text())["loss"])


def _load(name: str, **data):
    from kerasdl.data.local import load_local, local_source

    scheme, path = local_source(name)
    return load_local(scheme, path, Data(name=name, **data), log=lambda line: None)


def _labels(dataset) -> np.ndarray:
    return np.array([int(y) for _, y in dataset.as_numpy_iterator()])


def test_a_bom_and_spellings_of_one_number_are_one_column_and_one_class(tmp_path):
    """A UTF-8 byte-order mark stays out of the first column's name; ``1`` and ``1.0`` (and
    `` 1e0``) are one class named ``1``; blank lines are skipped and lines still counted."""
    x, y = _features(80)
    spellings = {0: ["0", "0.0", " 0e0"], 1: ["1", "1.0", "1e0 "]}
    rows = [f"{spellings[label][i % 3]},{b:.4f},{a:.4f}" for i, ((a, b, *_), label) in
            enumerate(zip(x, y))]
    path = _write_csv(tmp_path / "bom.csv", rows[:10] + [""] + rows[10:], header="label,b,a", bom=True)
    splits = _load(f"csv:{path}", label_column="label")
    assert splits.class_names == ("0", "1") and splits.feature_columns == ("b", "a")
    broken = _write_csv(tmp_path / "broken.csv", rows[:10] + [""] + rows[10:] + ["1,x,2"],
                        header="label,b,a", bom=True)
    with pytest.raises(DataError, match="line 83, column 'b': 'x' is not a number"):
        _load(f"csv:{broken}", label_column="label")


def test_label_type_says_whether_numbers_are_classes_or_a_target(tmp_path):
    """A whole-number price is classes by default (the data line says how to change it);
    data.label_type='numeric' makes it a target, 'classes' makes fractional grades classes."""
    rng = np.random.default_rng(0)
    prices = rng.permutation(np.repeat(np.arange(100, 130), 3))
    path = _write_csv(tmp_path / "prices.csv",
                      [f"{p / 100:.3f},{rng.random():.3f},{p}" for p in prices])
    auto = _load(f"csv:{path}", label_column="label", test_fraction=0.4)
    assert auto.num_classes == len(set(prices))
    assert "data.label_type='numeric' makes them a numeric target" in auto.description
    numeric = _load(f"csv:{path}", label_column="label", label_type="numeric")
    assert numeric.num_classes is None and "a numeric target" in numeric.description
    grades = _write_csv(tmp_path / "grades.csv",
                        [f"{g:.3f},{rng.random():.3f},{g}" for g in [0.5, 1.5, 2.5] * 20])
    assert _load(f"csv:{grades}", label_column="label").num_classes is None
    assert _load(f"csv:{grades}", label_column="label",
                 label_type="classes").class_names == ("0.5", "1.5", "2.5")
    x, y = _features()
    np.savez(tmp_path / "ints.npz", x=x, y=y * 100)
    assert _load(f"npz:{tmp_path / 'ints.npz'}", label_type="numeric").num_classes is None
    np.savez(tmp_path / "floats.npz", x=x, y=y + 0.5)
    with pytest.raises(DataError, match=r"y\[0\] is 0.5 .* class ids must be whole numbers"):
        _load(f"npz:{tmp_path / 'floats.npz'}", label_type="classes")
    with pytest.raises(ConfigError, match="did you mean 'numeric'"):
        Data(label_type="numerical")


def test_a_whole_number_target_taken_for_classes_says_so_when_the_split_fails(tmp_path):
    path = _write_csv(tmp_path / "prices.csv", [f"{i},{i},{1000 + i}" for i in range(40)])
    with pytest.raises(DataError) as error:
        _load(f"csv:{path}", label_column="label")
    assert "class '1000' has 1 example(s)" in str(error.value)
    assert "if 'label' is a numeric target, not classes, set data.label_type='numeric'" in str(error.value)


@pytest.mark.parametrize("limit", [10, 25])
def test_the_first_examples_of_every_split_hold_every_class(tmp_path, limit):
    """Class-sorted npz (both splits given, or one to carve) and text folders: the first
    ``limit`` test examples (what data.test_limit takes) hold every class of the five."""
    x = np.random.default_rng(0).normal(size=(150, 3)).astype("float32")
    y = np.repeat(np.arange(5), 30)
    np.savez(tmp_path / "sorted.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    np.savez(tmp_path / "whole.npz", x=x, y=y)
    for split in ("train", "test"):
        for label in range(5):
            folder = tmp_path / "texts" / split / f"class{label}"
            folder.mkdir(parents=True)
            for index in range(12):
                (folder / f"{index}.txt").write_text(f"text {label} {index}")
    for name in (f"npz:{tmp_path / 'sorted.npz'}", f"npz:{tmp_path / 'whole.npz'}",
                 f"textfolder:{tmp_path / 'texts'}"):
        splits = _load(name, test_fraction=0.5)
        assert set(_labels(splits.test.take(limit))) == set(range(5)), name
        assert set(_labels(splits.train.take(limit))) == set(range(5)), name


def test_labels_shaped_n_by_1_are_class_ids_and_csv_statistics_follow_the_train_limit(tmp_path):
    """keras.datasets.cifar10 gives labels of shape (N, 1): they are class ids (they were taken
    for a numeric target). Under data.train_limit (--smoke) the CSV's Normalization statistics
    are those of the rows that train (they were those of the whole train split)."""
    x, y = _features()
    np.savez(tmp_path / "cifar_like.npz", x_train=x, y_train=y[:, None].astype("uint8"),
             x_test=x, y_test=y[:, None].astype("uint8"))
    splits = _load(f"npz:{tmp_path / 'cifar_like.npz'}")
    assert splits.num_classes == 2 and "labels (N, 1) read as (N,)" in splits.description
    assert splits.train.element_spec[1].shape == ()
    path = _write_csv(tmp_path / "rows.csv", _rows(200))
    limited = _load(f"csv:{path}", label_column="label", train_limit=40, validation_fraction=0.25)
    rows = np.stack([features for features, _ in limited.train.as_numpy_iterator()])
    np.testing.assert_allclose(limited.normalization[0], rows[:30].mean(0), rtol=1e-5)


@pytest.mark.slow
def test_predict_reads_csv_inputs_as_training_does(tmp_path):
    """``kerasdl predict`` on CSV rows uses the training reader: a byte-order mark is no part of
    a column name, a NaN cell and a latin-1 file are refused naming the line; the classes of
    labels spelled ``1`` and ``1.0`` are one (predict showed ``1 0.281, 1.0 0.266, ...``)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    spelled = [("{}", "{}.0")[i % 2].format(int(a > 0)) for i, (a, _) in enumerate(x)]
    _write_csv(tmp_path / "train.csv", [f"{a:.3f},{b:.3f},{label}" for (a, b), label in
                                         zip(x, spelled)], bom=True)
    _write_csv(tmp_path / "new.csv", ["1.5,0", "-1.5,0"], header="a,b", bom=True)
    _write_csv(tmp_path / "nan.csv", ["1.5,0", "nan,0"], header="a,b")
    _write_csv(tmp_path / "latin1.csv", ["1.5,0", "-1.5,0", "caf\u00e9,0"], header="a,b",
               encoding="latin-1")
    code = f"""
import contextlib, io, pathlib
from kerasdl.cli import main
def cli(*argv):
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            main(list(argv))
        except SystemExit as exit:
            output.write(f"rc={{exit.code}}")
    return output.getvalue()
root = pathlib.Path({str(tmp_path)!r})
cli("run", {MLP!r}, "--set", f"data.name=csv:{{root / 'train.csv'}}", "--set",
    "data.label_column=label", "--set", "trainer.epochs=2")
(run_dir,) = (root / "runs").iterdir()
for name in ("new", "nan", "latin1"):
    print("PREDICT", cli("predict", str(run_dir), str(root / f"{{name}}.csv")).replace("\\n", " | "))
"""
    done = run_python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    new, nan, latin1 = [line.removeprefix("PREDICT ") for line in done.stdout.splitlines()
                        if line.startswith("PREDICT")]
    assert f"{tmp_path / 'new.csv'}:2: " in new and f"{tmp_path / 'new.csv'}:3: " in new, new
    shown = {pair.split()[0] for row in new.split(" | ") if row.startswith(str(tmp_path))
             for pair in row.split(": ", 1)[1].split(", ")}
    assert shown == {"0", "1"}, new                 # two classes, not 0, 0.0, 1 and 1.0
    assert (f"error: {tmp_path / 'nan.csv'} line 3, column 'a': 'nan' is not a finite number"
            in nan), nan
    assert f"error: {tmp_path / 'latin1.csv'} line 4 is not UTF-8 text (byte 0xe9)" in latin1, latin1



def test_a_test_limit_below_the_number_of_classes_is_said(tmp_path):
    """Five class-sorted classes and data.test_limit=3: the three examples are of three classes
    (stratified_order), and the run says that two go unscored."""
    from kerasdl.data import load_data

    x = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
    np.savez(tmp_path / "five.npz", x=x, y=np.repeat(np.arange(5), 10))
    lines = []
    bundle = load_data(Data(name=f"npz:{tmp_path / 'five.npz'}", test_fraction=0.4, test_limit=3),
                       "sparse", log=lines.append)
    assert len(set(np.concatenate([y for _, y in bundle.test.as_numpy_iterator()]))) == 3
    assert ("WARNING: data.test_limit=3 keeps fewer test examples than the 5 classes: some go "
            "unscored; raise it to score every class") in lines


def test_a_presplit_numeric_target_sorted_by_value_is_sampled_not_cut(tmp_path):
    """x_train/y_train sorted by the target: the validation carve (the tail of the train split)
    held only the largest values and data.test_limit only the smallest; now both are seeded
    samples of the whole range."""
    from kerasdl.data import load_data

    x = np.linspace(0, 1, 100, dtype="float32")[:, None]
    y = np.arange(100, dtype="float32")
    np.savez(tmp_path / "sorted.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    bundle = load_data(Data(name=f"npz:{tmp_path / 'sorted.npz'}", validation_fraction=0.2,
                            test_limit=10), "same", log=lambda line: None)
    values = lambda dataset: np.concatenate([y for _, y in dataset.as_numpy_iterator()])  # noqa: E731
    assert values(bundle.validation).min() < 50 < values(bundle.validation).max()
    assert values(bundle.test).max() > 50


def test_a_text_folders_test_split_may_lack_classes_and_keeps_the_train_ids(tmp_path):
    """test/ holding only classes b and c of a, b, c: its labels are train's ids 1 and 2 (Keras
    refused it with a raw ValueError about class_names). A validation/ folder is the validation
    split, as for image folders (it was ignored)."""
    for split, classes in (("train", "abc"), ("test", "bc"), ("validation", "a")):
        for label in classes:
            (tmp_path / "texts" / split / label).mkdir(parents=True)
            for index in range(4):
                (tmp_path / "texts" / split / label / f"{index}.txt").write_text(label)
    splits = _load(f"textfolder:{tmp_path / 'texts'}")
    assert splits.class_names == ("a", "b", "c")
    pairs = {(text.decode(), int(label)) for text, label in splits.test.as_numpy_iterator()}
    assert pairs == {("b", 1), ("c", 2)}
    assert {(text.decode(), int(label)) for text, label in splits.validation.as_numpy_iterator()
            } == {("a", 0)}
    assert "12 train / 4 validation / 8 test texts, its train/, validation/ and test/ folders" in \
        splits.description
