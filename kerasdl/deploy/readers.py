"""``kerasdl predict``'s inputs read as the model was trained on them.

Image files and folders of images (decoded by :func:`kerasdl.data.decoding.image_decoder`, as
training decodes them), ``.npy``/``.npz`` arrays (one input per row), CSV rows (by the columns the
model trained on), text files (one input per line, UTF-8 by
:func:`kerasdl.data.decoding.utf8_text`) and ``-`` (lines from stdin). Every unreadable input is a
one-line DataError naming it.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from kerasdl.data.decoding import decodes_to_rgb_only, image_decoder, utf8_text
from kerasdl.data.folders import IMAGE_EXTENSIONS
from kerasdl.deploy.messages import clip
from kerasdl.deploy.reference import Trained
from kerasdl.errors import DataError

#: inputs per model.predict step
PREDICT_BATCH = 64
#: what a predict input that is not UTF-8 text could have been instead
NOT_TEXT_HINT = "; images and arrays are read by their extension (.png, .jpg, .npy, .npz, .csv)"

Stdin = Optional[Callable[[], str]]


def read_inputs(trained: Trained, inputs: Sequence[str], stdin: Stdin = None
                ) -> tuple[list[str], np.ndarray | list[Path]]:
    """(a name per input, the stacked raw features), or the image paths.

    The image paths where every input is an image file (folders sorted), to be streamed
    through :func:`image_batches`.
    """
    names, rows = [], []
    for text in inputs:
        found = _read_input(trained, text, stdin)
        names += [name for name, _ in found]
        rows += [row for _, row in found]
    if not rows:
        raise DataError("predict: no inputs (give image files, folders, .npy/.npz arrays, text "
                        "files or - for stdin)")
    if all(isinstance(row, Path) for row in rows):
        return names, rows
    return names, _stacked(trained, [read_image(trained, row) if isinstance(row, Path) else row
                                     for row in rows])


def _read_input(trained: Trained, text: str, stdin: Stdin) -> list[tuple[str, object]]:
    """(name, row) of every input in ``text``: an image's path, an array row, a text line."""
    path = Path(text)
    suffix = path.suffix.lower()
    if text == "-":
        return read_lines(text, stdin)
    if not path.exists():
        raise DataError(f"predict input {path}: no such file or folder")
    if path.is_dir():
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise DataError(f"predict input {path}: a folder with no images "
                            f"({', '.join(IMAGE_EXTENSIONS)})")
        return [(str(image), image) for image in images]
    if suffix in IMAGE_EXTENSIONS:
        return [(str(path), path)]
    if suffix == ".csv":
        return _read_csv_rows(trained, path)
    if path.suffix in (".npy", ".npz"):
        array = read_array(path)
        return [(f"{path}[{i}]", row) for i, row in enumerate(array)]
    return read_lines(text, stdin)


def _read_csv_rows(trained: Trained, path: Path) -> list[tuple[str, np.ndarray]]:
    """(``file:line``, features) of every row of a CSV, by the columns the model trained on."""
    if not trained.feature_columns:
        raise DataError(f"predict input {path}: a CSV, but this model was not trained on "
                        "CSV rows (give images, arrays or text as it was trained on)")
    from kerasdl.data.local import read_csv_features

    _, features, _ = read_csv_features(path, columns=trained.feature_columns)
    return [(f"{path}:{line}", row) for line, row in enumerate(features, start=2)]


def _stacked(trained: Trained, rows: list) -> np.ndarray:
    """Text lines or arrays of one shape as one batch; mixed kinds or shapes are refused."""
    kinds = {type(row) for row in rows}
    if str in kinds and len(kinds) > 1:
        raise DataError("predict: text lines and arrays/images cannot be mixed in one call")
    if str in kinds:
        if trained.model.inputs[0].dtype != "string":
            raise DataError(f"predict: text lines given, but the model takes "
                            f"{trained.model.inputs[0].dtype} inputs of shape "
                            f"{tuple(trained.model.inputs[0].shape[1:])}; give arrays or images")
        return np.asarray(rows, dtype=object)
    shapes = {row.shape for row in rows}
    if len(shapes) > 1:
        raise DataError(f"predict: the inputs have different shapes {sorted(shapes)}; the run had "
                        "no data.image_size to resize them, so give inputs of one size")
    return np.stack(rows)


def read_lines(text: str, stdin: Stdin = None) -> list[tuple[str, str]]:
    """(name, line) of every non-blank line of the text file ``text`` or, for ``-``, of stdin.

    Lines end at ``\n`` (or ``\r\n``) only, as ``wc -l`` and editors count them: a form feed,
    a NEL or a Unicode line separator inside a line stays in it (``str.splitlines`` would split
    there, and every later line would be named by the wrong number)."""
    whole = (stdin or read_stdin)() if text == "-" else _read_text_file(Path(text))
    lines = [line[:-1] if line.endswith("\r") else line for line in whole.split("\n")]
    prefix = "stdin" if text == "-" else text
    return [(f"{prefix}:{i + 1}", line) for i, line in enumerate(lines) if line.strip()]


def read_stdin() -> str:
    """Standard input's text; a one-line DataError where it is closed or not UTF-8."""
    if sys.stdin is None or sys.stdin.closed:
        raise DataError("predict input -: stdin is closed, so there are no lines to read; pipe "
                        "them in (echo 'some text' | kerasdl predict RUN -) or give files")
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return sys.stdin.read()
    return utf8_text(stream.read(), "stdin", role="predict input ", hint=NOT_TEXT_HINT)


def _read_text_file(path: Path) -> str:
    """A predict input's UTF-8 text; a one-line DataError naming it where it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"predict input {path}: cannot read it ({error.strerror or error})") from None
    return utf8_text(data, path, role="predict input ", hint=NOT_TEXT_HINT)


def read_array(path: Path) -> np.ndarray:
    """The inputs in an ``.npy`` file, or under the key ``x`` (``x_test``, a lone array) of an ``.npz``."""
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as archive:
        for key in ("x", "x_test") + tuple(archive.files[:1] if len(archive.files) == 1 else ()):
            if key in archive.files:
                return archive[key]
        raise DataError(f"predict input {path} holds {clip(str(sorted(archive.files)))}; put "
                        "the inputs under the key x")


def _via_rgb(channels: int, paths: Sequence[Path]) -> np.ndarray:
    """For each image, whether it decodes to RGB only (needed only where the model reads grey)."""
    if channels != 1:
        return np.zeros(len(paths), bool)
    return np.array([_rgb_only(path) for path in paths], bool)


def _rgb_only(path: Path) -> bool:
    try:
        return decodes_to_rgb_only(path)
    except OSError:          # a damaged header: TensorFlow's decode fails, naming the file
        return False


def read_image(trained: Trained, path: Path) -> np.ndarray:
    """One image decoded as the model takes it; a one-line error naming it if it cannot be."""
    import tensorflow as tf

    channels = int(trained.model.inputs[0].shape[-1])       # decoded as the model takes them
    decode = image_decoder(channels, (None, None, channels))
    try:
        image = decode(tf.constant(str(path)), tf.constant(_via_rgb(channels, [path])[0])).numpy()
    except tf.errors.InvalidArgumentError:
        raise DataError(f"predict input {path} is not a readable image") from None
    if trained.experiment.data.image_size is None:
        expected = tuple(trained.model.inputs[0].shape[1:3])
        if image.shape[:2] != expected:
            raise DataError(f"predict input {path} is {image.shape[1]}x{image.shape[0]} but the "
                            f"model takes {expected[1]}x{expected[0]} images (the run did not "
                            "resize: data.image_size was None); resize it to that size")
    return image


def image_batches(trained: Trained, paths: Sequence[Path]):
    """A tf.data pipeline of the images at ``paths`` as the model takes them, in order and batched.

    Each is read, decoded (the model's channels, as training decodes) and put through the run's
    preprocessing in parallel. A file that cannot be decoded, or is not the model's size where
    the run did not resize, stops its iteration with ``tf.errors.InvalidArgumentError``.
    """
    import tensorflow as tf

    from kerasdl.data.batching import plain_graph
    from kerasdl.data.pipeline import feature_transform

    shape = trained.model.inputs[0].shape
    if len(shape) != 4:
        raise DataError(f"predict: images given, but the model takes inputs of shape "
                        f"{tuple(shape[1:])}, not images; give inputs like the training data of "
                        f"'{trained.experiment.data.name}'")
    transform = feature_transform(trained.experiment.data)
    channels = int(shape[-1])
    # a known decoded size (checked) spares the resize its per-image shape arithmetic: about
    # 1.5x the images/s of decoding (bench/README.md)
    size = (tuple(shape[1:3]) if trained.experiment.data.image_size is None
            else _png_size(paths)) or (None, None)
    decode = image_decoder(channels, (*size, channels))
    return (tf.data.Dataset.from_tensor_slices(([str(p) for p in paths], _via_rgb(channels, paths)))
            .map(plain_graph(lambda path, via_rgb: transform(decode(path, via_rgb))),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .batch(PREDICT_BATCH).prefetch(tf.data.AUTOTUNE))


def _png_size(paths: Sequence[Path]) -> Optional[tuple[int, int]]:
    """(height, width) where every file is a PNG of that size by its header, else None."""
    from kerasdl.data.folders import png_header

    sizes = set()
    for path in paths:
        header = png_header(path)
        sizes.add(header and header[0])
        if len(sizes) > 1 or None in sizes:
            return None
    width, height = sizes.pop()
    return height, width
