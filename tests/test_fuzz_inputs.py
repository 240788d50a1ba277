"""Property-based tests of the user's files (issue 24): CSV and npz files with random defects
(NaN, inf, a BOM, another encoding, empty cells, spellings of one label, wrong types, one class or
hundreds, empty arrays, boolean or negative labels...). Each is either used correctly (finite
features, labels that are valid class ids, and a trained model that is finite and whose
predictions vary) or refused in one line that names the file, with no traceback, no run folder
and no model file.

Most examples go through the data layer in this process (``kerasdl.data.load_data``, as a run
calls it); a few go through ``python -m kerasdl run``. Examples are derandomized, so CI sees the
same files every time."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kerasdl.config import Data
from kerasdl.errors import KerasdlError

from conftest import REPO, run_cli
from test_messy_arrays import error_line, nothing_written

#: defects that make a file unusable: the data layer must refuse it
CSV_FATAL = {"latin1", "nan_cell", "inf_cell", "empty_cell", "text_cell", "huge_cell",
             "empty_label", "nan_label", "inf_label", "short_row", "long_row", "dup_column",
             "label_only", "no_rows", "random_bytes"}
CSV_BENIGN = {"bom", "crlf", "blank_lines", "quoted", "accents", "spellings"}
NPZ_FATAL = {"nan_x", "inf_x", "nan_y", "negative", "bool_y", "text_y", "empty", "short_names",
             "mismatch", "text_x", "huge_x", "no_features", "dup_names", "huge_id", "dtype_mix",
             "cut_short", "random_bytes"}
NPZ_BENIGN = {"names", "grey", "bool_x", "int_x", "float16_x", "scalar_x", "column_y"}


@dataclass
class Case:
    """A file written with some defects, and whether they must make it refused."""

    name: str                   # data.name
    path: Path
    sets: dict                  # other Data fields
    defects: frozenset
    fatal: bool
    classes: bool               # the labels are meant as classes (not a numeric target)


def _class_counts(draw, classes_only: bool, most: int) -> tuple[int, int]:
    """(classes, examples per class): now and then many tiny classes, else a few of any size."""
    many = draw(st.booleans()) and draw(st.booleans())
    n_classes = draw(st.integers(40, most)) if many else draw(st.sampled_from([1, 2, 2, 3, 4, 5]))
    per_class = draw(st.integers(1, 3)) if many else draw(st.sampled_from([1, 2, 5, 12, 25]))
    if classes_only:     # (real runs, few examples: mostly files that can train)
        n_classes, per_class = draw(st.integers(2, 5)), draw(st.sampled_from([12, 25, 2]))
    return n_classes, per_class


@st.composite
def csv_cases(draw, root: Path, classes_only: bool = False) -> Case:
    """A CSV file of random size, label kind and defects, written under ``root``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n_classes, per_class = _class_counts(draw, classes_only, most=120)
    label_kind = draw(st.sampled_from(["text", "int"] + ([] if classes_only else ["regression"])))
    defects = frozenset(draw(st.sets(st.sampled_from(sorted(CSV_FATAL | CSV_BENIGN)), max_size=3)))
    if classes_only:
        defects -= CSV_FATAL - {"nan_cell", "latin1", "empty_label"}
    n_features = draw(st.integers(1, 4))
    labels = np.repeat(np.arange(n_classes), per_class)
    rows = len(labels)
    x = rng.normal(size=(rows, n_features)) + labels[:, None]
    names = [f"f{j}" + ("é" if "accents" in defects or "latin1" in defects else "")
             for j in range(n_features)]
    if label_kind == "text":
        spelled = [f"class_{v}" for v in labels]
    elif label_kind == "int":
        variants = ("{}", "{}.0", " {}e0") if "spellings" in defects else ("{}",)
        spelled = [variants[i % len(variants)].format(v) for i, v in enumerate(labels)]
    else:
        spelled = [f"{v + 0.25 + rng.random():.4f}" for v in labels]
    cells = [[f"{value:.5g}" for value in row] + [label] for row, label in zip(x, spelled)]
    header = names + ["label"]
    row = draw(st.integers(0, max(rows - 1, 0)))
    column = draw(st.integers(0, n_features - 1))
    for defect, value in (("nan_cell", "nan"), ("inf_cell", "-Infinity"), ("empty_cell", ""),
                          ("text_cell", "n/a"), ("huge_cell", "3e39")):
        if defect in defects and rows:
            cells[row][column] = value
    for defect, value in (("empty_label", ""), ("nan_label", "NaN"), ("inf_label", "inf")):
        if defect in defects and rows:
            cells[row][-1] = value
    if "short_row" in defects and rows:     # (a row of one empty cell is a blank line: skipped)
        cells[row] = [cell or "1" for cell in cells[row][1:]] if n_features == 1 else cells[row][1:]
    if "long_row" in defects and rows:
        cells[row] = cells[row] + ["1"]
    if "dup_column" in defects:
        header[0] = "label"
    if "label_only" in defects:
        header, cells = ["label"], [[c[-1]] for c in cells]
    if "no_rows" in defects:
        cells = []
    quote = (lambda cell: f'"{cell}"') if "quoted" in defects else (lambda cell: cell)  # noqa: E731
    lines = [",".join(map(quote, header))] + [",".join(map(quote, c)) for c in cells]
    if "blank_lines" in defects:
        lines = [line for i, text in enumerate(lines) for line in ([text, ""] if i % 7 == 3 else [text])]
    text = ("\r\n" if "crlf" in defects else "\n").join(lines) + "\n"
    data = text.encode("latin-1" if "latin1" in defects else "utf-8")
    path = root / f"data{draw(st.integers(0, 10**6))}.csv"
    path.write_bytes((b"\xef\xbb\xbf" if "bom" in defects else b"") + data)
    if "random_bytes" in defects:
        path.write_bytes(rng.bytes(draw(st.integers(0, 2000))))
    label_type = draw(st.sampled_from(["auto", "auto", "classes", "numeric"]))
    if classes_only:
        label_type = "auto"
    fatal = bool(defects & CSV_FATAL) or (label_type == "numeric" and label_kind == "text")
    classes = label_type == "classes" or (label_type == "auto" and label_kind != "regression")
    return Case(f"csv:{path}", path, {"label_column": "label", "label_type": label_type},
                defects, fatal, classes)


@st.composite
def npz_cases(draw, root: Path, classes_only: bool = False) -> Case:
    """An .npz file of random layout, dtypes and defects, written under ``root``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n_classes, per_class = _class_counts(draw, classes_only, most=300)
    defects = set(draw(st.sets(st.sampled_from(sorted(NPZ_FATAL | NPZ_BENIGN)), max_size=3)))
    if classes_only:
        defects -= NPZ_FATAL - {"nan_x", "negative", "bool_y"}
    regression = not classes_only and draw(st.booleans()) and not draw(st.booleans())
    y = np.repeat(np.arange(n_classes), per_class)
    shape = (8, 8) if "grey" in defects else () if "scalar_x" in defects else (draw(st.integers(1, 5)),)
    x = rng.normal(size=(len(y), *shape)) + y.reshape(-1, *[1] * len(shape))
    x = (np.clip(x * 20 + 100, 0, 255).astype("uint8") if "grey" in defects else
         (x > y.mean()).reshape(x.shape) if "bool_x" in defects else
         np.round(x).astype("int64") if "int_x" in defects else
         x.astype("float16" if "float16_x" in defects else "float32"))
    labels = y + rng.random(len(y)) if regression else y
    first = draw(st.integers(0, max(len(y) - 1, 0)))
    if "nan_x" in defects and x.dtype.kind == "f":
        x.reshape(len(x), -1)[first, 0] = np.nan
    if "inf_x" in defects and x.dtype.kind == "f":
        x.reshape(len(x), -1)[first, 0] = np.inf
    if "huge_x" in defects:                 # finite in float64, inf in the model's float32
        x = x.astype("float64")
        x.reshape(len(x), -1)[first, 0] = 1e300
    if "huge_id" in defects:
        labels = labels.copy()
        labels[first] = 10**6
    if "nan_y" in defects:
        labels = labels.astype("float64")
        labels[first] = np.nan
    if "negative" in defects:
        labels = labels - 1
    if "bool_y" in defects:
        labels = labels > labels.mean()
    if "text_y" in defects:
        labels = np.array([f"c{v}" for v in y])
    if "text_x" in defects:
        x = np.array([f"{v}" for v in range(len(y))])
    if "no_features" in defects:
        x = x.reshape(len(x), -1)[:, :0]
    if "column_y" in defects and labels.dtype.kind in "iu":    # as keras.datasets.cifar10 has them
        labels = labels[:, None]
    arrays = {}
    if defects & {"names", "short_names", "dup_names"}:
        arrays["class_names"] = np.array([f"name{i}" for i in range(
            max(n_classes - 1, 0) if "short_names" in defects else n_classes)])
        if "dup_names" in defects and n_classes > 1:
            arrays["class_names"][-1] = arrays["class_names"][0]
    split = draw(st.booleans())
    order = rng.permutation(len(y)) if draw(st.booleans()) else np.arange(len(y))   # or by class
    x, labels = x[order], labels[order]
    if split:
        cut = len(y) // 2
        arrays.update(x_train=x[:cut], y_train=labels[:cut], x_test=x[cut:], y_test=labels[cut:])
        if "empty" in defects:
            arrays.update(x_test=x[:0], y_test=labels[:0])
        if "mismatch" in defects:
            arrays.update(y_train=labels[:cut + 1])
        if "dtype_mix" in defects and x.dtype.kind in "biuf":   # uint8 pixels beside floats
            test = np.nan_to_num(np.abs(arrays["x_test"].astype("float64")), posinf=0)
            arrays.update(x_test=test.astype("float32" if x.dtype == np.uint8 else "uint8"))
    else:
        arrays.update(x=x[:0] if "empty" in defects else x, y=labels[:0] if "empty" in defects else labels)
        if "mismatch" in defects:
            arrays.update(y=labels[1:])
    path = root / f"data{draw(st.integers(0, 10**6))}.npz"
    np.savez(path, **arrays)
    if "cut_short" in defects:              # a download or copy that stopped half-way
        path.write_bytes(path.read_bytes()[:draw(st.integers(0, path.stat().st_size - 1))])
    if "random_bytes" in defects:
        path.write_bytes(rng.bytes(draw(st.integers(0, 2000))))
    label_type = "auto" if classes_only else draw(st.sampled_from(["auto", "auto", "classes", "numeric"]))
    fatal_here = set(NPZ_FATAL)
    if "nan_x" in defects and x.dtype.kind != "f" or "inf_x" in defects and x.dtype.kind != "f":
        fatal_here -= {"nan_x", "inf_x"}
    classes = label_type == "classes" or (label_type == "auto" and not regression)
    if not classes:
        fatal_here -= {"negative", "short_names", "dup_names", "huge_id"}
    if n_classes < 2:
        fatal_here.discard("dup_names")
    if not split or x.dtype.kind not in "biuf":
        fatal_here.discard("dtype_mix")
    fatal = bool(defects & fatal_here) or (regression and label_type == "classes")
    return Case(f"npz:{path}", path, {"label_type": label_type}, frozenset(defects), fatal, classes)


def _check_in_process(case: Case) -> None:
    """The data layer on ``case``: a sane bundle, or one DataError line naming the file."""
    from kerasdl.data import load_data

    try:
        bundle = load_data(Data(name=case.name, batch_size=16, **case.sets), "sparse",
                           log=lambda line: None)
    except KerasdlError as error:
        message = str(error)
        assert str(case.path) in message and "\n" not in message, (case, message)
        event("refused" + (" (fatal defects)" if case.fatal else
                           ": " + message.split(str(case.path))[-1][:40]))
        return
    assert not case.fatal, f"{case.defects} were not refused: {bundle.description}"
    assert str(case.path) in bundle.description
    event(f"used: {'classes' if bundle.num_classes else 'a numeric target'}")
    names = bundle.class_names
    assert names is None or len(set(names)) == len(names) == bundle.num_classes, names
    for dataset in (bundle.test, bundle.validation):
        for x, y in dataset or ():
            assert np.all(np.isfinite(np.asarray(x, np.float64))), case
            y = np.asarray(y)
            if bundle.num_classes:
                assert y.dtype.kind == "i" and y.min() >= 0 and y.max() < bundle.num_classes
            else:
                assert np.all(np.isfinite(y))


def _fuzz(max_examples: int):
    return settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _in_process(data):
    with tempfile.TemporaryDirectory() as folder:
        kind = data.draw(st.sampled_from([csv_cases, npz_cases]))
        _check_in_process(data.draw(kind(Path(folder))))


@_fuzz(15)
@given(st.data())
def test_random_messy_files_are_used_or_refused_in_one_line(data):
    _in_process(data)


@pytest.mark.slow
@_fuzz(400)
@given(st.data())
def test_random_messy_files_are_used_or_refused_in_one_line_many(data):
    _in_process(data)


@pytest.mark.slow
@_fuzz(6)
@given(st.data())
def test_random_messy_files_through_kerasdl_run(data):
    """``python -m kerasdl run`` on random class-labelled files: rc 0 and a finite model whose
    predictions vary, or rc 1 and one error line naming the file, no run folder, no model."""
    from kerasdl.loading import load_model

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        kind = data.draw(st.sampled_from([csv_cases, npz_cases]))
        case = data.draw(kind(root, classes_only=True))
        sets = [f"data.{key}={value}" for key, value in case.sets.items()]
        result = run_cli("run", str(REPO / "experiments" / "mlp_digits.py"),
                         "--set", f"data.name={case.name}", "--set", "trainer.epochs=2",
                         *[part for item in sets for part in ("--set", item)], cwd=root)
        output = result.stdout + result.stderr
        if result.returncode:
            assert result.returncode == 1 and str(case.path) in error_line(output), output[-2000:]
            assert nothing_written(root)
            event("refused" + (" (fatal defects)" if case.fatal else ""))
            return
        assert not case.fatal, f"{case.defects} were not refused"
        (run_dir,) = (root / "runs").iterdir()
        assert all(np.isfinite(v) for v in json.loads((run_dir / "metrics.json").read_text()).values())
        model = load_model(run_dir / "model.keras")
        shape = model.inputs[0].shape[1:]
        rows = np.random.default_rng(0).normal(size=(32, *shape)).astype("float32") * 3
        predicted = model.predict(rows, verbose=0)
        assert np.all(np.isfinite(predicted)) and np.ptp(predicted, axis=0).max() > 1e-6
        event("trained")
