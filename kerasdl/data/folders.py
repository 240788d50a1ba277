"""Image folders (``folder:PATH``): one subfolder per class, every image checked before any training.

:mod:`kerasdl.data.local` describes the layout; this module scans the files, checks them and
builds the tf.data splits. The check, before a run folder exists, refuses in one line naming the
file:

* a file with an image extension that is not an image, or that claims more pixels than Pillow's
  guard against decompression bombs (``PIL.Image.MAX_IMAGE_PIXELS``, 89 million);
* an image that does not decode (a truncated PNG or JPEG): every image is decoded once, by
  TensorFlow as ``keras.utils.image_dataset_from_directory`` decodes it, in parallel. Where the
  decoded splits are one size and fit in ``IN_MEMORY_BYTES``, those pixels are the splits (no
  second decode); otherwise the pipeline decodes the files again, knowing that they decode;
* a class folder (or a folder in one) that is a symbolic link to a folder inside the data root,
  or to one that holds the data root, or round a loop: its images would count twice. Links
  elsewhere are followed.

Channels: ``data.channels`` where set; else 1 if most images are grey (by their headers), 3
otherwise (a tie keeps colour). Where the images differ, the run says how many do, names a few
and says how they are read: colour images as grey (TensorFlow's luma) when grey wins, grey ones
repeated to RGB when colour wins. CMYK JPEGs and GIFs, which TensorFlow decodes to RGB only, are
decoded so and then made grey where the run reads grey.

Order: the test split (and the training split of a folder with ``train/``) is in
:func:`kerasdl.data.splits.stratified_order`, so ``data.test_limit``, ``data.train_limit`` and
``--smoke``, which take the first N, keep every class.

:func:`folder_test_split` reads a whole folder as one test split, for ``kerasdl evaluate`` on a
new labelled folder.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.data.decoding import image_decoder
from kerasdl.data.splits import (Splits, carved_test_split, class_folders, refuse_unknown_classes,
                                 stratified_index, stratified_order)
from kerasdl.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
#: decoded splits up to this size are held as uint8 arrays; larger ones are decoded again per epoch
IN_MEMORY_BYTES = 256 * 2**20
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


@dataclass
class _Files:
    paths: list[str]
    labels: np.ndarray                      # int64 class ids
    sizes: np.ndarray                       # (n, 2) int64: (width, height) from each header
    grey: np.ndarray                        # bool: single-channel by its header
    via_rgb: np.ndarray                     # bool: decodes to RGB only (CMYK JPEG, GIF)


def _scan(root: Path, class_names: Sequence[str], log, split: str, data_root: Path) -> _Files:
    """Every image under ``root/<class>/``, checked by reading its header."""
    from PIL import UnidentifiedImageError

    rows, labels, skipped = [], [], 0
    for label, name in enumerate(class_names):
        folder = root / name
        if not folder.is_dir():
            continue                         # a split may lack a class (e.g. a small test/)
        _refuse_inner_link(folder, data_root, "class folder")
        found = 0
        for file in _files_under(folder, data_root):
            if os.path.splitext(file)[1].lower() not in IMAGE_EXTENSIONS:
                skipped += 1
                continue
            try:
                rows.append(_header(file))
            except (UnidentifiedImageError, OSError) as error:
                raise DataError(f"{file} is not a readable image ({type(error).__name__}); "
                                "delete or replace it") from None
            labels.append(label)
            found += 1
        if not found and split == "train":
            raise DataError(f"class folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                            "add images or remove the folder")
    if skipped:
        log(f"data: skipped {skipped} file(s) under {root} without an image extension "
            f"({', '.join(IMAGE_EXTENSIONS)})")
    return _Files([row[0] for row in rows], np.asarray(labels, dtype=np.int64),
                  np.asarray([row[1] for row in rows], dtype=np.int64).reshape(-1, 2),
                  np.asarray([row[2] for row in rows], dtype=bool),
                  np.asarray([row[3] for row in rows], dtype=bool))


def _refuse_inner_link(folder: Path, data_root: Path, what: str = "folder") -> None:
    """Refuse a folder that links into the data root, or to a folder holding it (a loop)."""
    if not folder.is_symlink():
        return
    target, root = folder.resolve(), data_root.resolve()
    if target == root or root in target.parents or target in root.parents:
        where = ("the data root" if target == root else "inside the data root" if
                 root in target.parents else "a folder holding the data root")
        raise DataError(f"{what} {folder} is a symbolic link to {target}, {where} "
                        f"{data_root}: its images would count twice (or loop); remove the link "
                        "(or copy the images it should hold into a real folder)")


def _files_under(folder: Path, data_root: Path) -> list[str]:
    """Every file under ``folder``, subfolders included (linked ones too), sorted.

    A linked subfolder is followed unless it leads back into the data root or round a loop.
    ``os.walk``: a quarter of ``Path.rglob``'s time at 10,000 files.
    """
    files, seen = [], set()
    for directory, subfolders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:
            raise DataError(f"folder {directory} is {real} again, through a symbolic link (a loop); "
                            "remove the link")
        seen.add(real)
        for name in subfolders:
            _refuse_inner_link(Path(directory) / name, data_root)
        files.extend(os.path.join(directory, name) for name in names)
    return sorted(files)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_header(file: str) -> Optional[tuple[tuple[int, int], bool]]:
    """((width, height), grey) from a PNG's IHDR chunk, or None if ``file`` is not a PNG.

    Reads 26 bytes. Three times faster than Pillow's header parse, which matters at 10,000 files.
    """
    descriptor = os.open(file, os.O_RDONLY)         # a third of open()'s cost per file
    try:
        head = os.read(descriptor, 26)
    finally:
        os.close(descriptor)
    if len(head) < 26 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return (width, height), head[25] in (0, 4)          # colour types grey, grey + alpha


def _header(file: str) -> tuple[str, tuple[int, int], bool, bool]:
    """(file, (width, height), grey, decodes to RGB only); refuses a decompression bomb."""
    from PIL import Image

    png = png_header(file)
    if png is not None:
        (size, grey), via_rgb = png, False
    else:                                            # JPEG, BMP, GIF
        with Image.open(file) as image:
            size, grey = image.size, image.mode in GREY_MODES
            via_rgb = image.format == "GIF" or image.mode == "CMYK"
    if size[0] * size[1] > Image.MAX_IMAGE_PIXELS:
        raise DataError(f"{file} claims {size[0]}x{size[1]} pixels, more than the "
                        f"{Image.MAX_IMAGE_PIXELS:,} of Pillow's guard against decompression "
                        "bombs: a damaged or hostile file; delete it or replace it with a smaller "
                        "image")
    return file, size, grey, via_rgb


def load_folder(path: Path, cfg, log) -> Splits:
    """The splits of an image folder (``folder:PATH``), every file checked first."""
    _refuse_non_folder(path)
    presplit = (path / "train").is_dir()
    train_root = path / "train" if presplit else path
    class_names = tuple(p.name for p in class_folders(train_root))
    splits = {"train": _scan(train_root, class_names, log, "train", path)}
    if presplit:
        for split in ("validation", "test"):
            if (path / split).is_dir():
                refuse_unknown_classes(path / split, class_names, f"{train_root} lacks",
                                       "every class needs training images")
                splits[split] = _scan(path / split, class_names, log, split, path)
    if "test" not in splits:
        splits["train"], splits["test"] = _stratified(splits["train"], cfg.test_fraction,
                                                      cfg.split_seed, path)
    else:        # pre-split training images are ordered by class: interleave them (seeded)
        splits["train"] = _ordered(splits["train"], cfg.split_seed)
    splits["test"] = _ordered(splits["test"], cfg.split_seed)       # the first N keep every class
    datasets = _datasets(splits, cfg, path, log)
    counts = ", ".join(f"{len(files.paths)} {split}" for split, files in splits.items())
    how = (f"its {' '.join(f'{split}/' for split in splits)} folders"
           if presplit and (path / "test").is_dir() else carved_test_split(cfg))
    return Splits(
        datasets["train"], datasets["test"], len(class_names),
        f"image folder {path}: {len(class_names)} classes ({', '.join(class_names[:6])}"
        f"{', ...' if len(class_names) > 6 else ''}), {counts} images, {how}", "folder",
        class_names, validation=datasets.get("validation"))


def folder_test_split(path: Path, cfg, class_names: Optional[Sequence[str]], log,
                      channels: Optional[int] = None):
    """(dataset, count, class names): every image of the folder at ``path`` as one test split.

    For ``kerasdl evaluate`` on a new labelled folder. ``class_names``: the model's, which give
    the labels (the folder may lack some; a class folder the model does not know is refused);
    None: the folder's own. ``channels`` overrides ``data.channels`` (the model's input).
    """
    _refuse_non_folder(path)
    if class_names:
        refuse_unknown_classes(path, class_names, "the model does not know",
                               f"its classes are {', '.join(class_names)}")
    else:
        class_names = tuple(p.name for p in class_folders(path))
    files = _scan(path, class_names, log, "test", path)
    if not files.paths:
        raise DataError(f"{path} holds no images in class folders named like the model's classes "
                        f"({', '.join(class_names[:6])}); put each class's images in its folder")
    files = _ordered(files, cfg.split_seed)
    test = _datasets({"test": files}, cfg, path, log, channels)["test"]
    return test, len(files.paths), tuple(class_names)


def _refuse_non_folder(path: Path) -> None:
    if not path.is_dir():
        raise DataError(f"data.name='folder:{path}': {path} is not a folder; folder: takes a "
                        "folder of class subfolders (npz: takes an .npz file)")


def _datasets(splits: dict[str, _Files], cfg, root: Path, log, channels: Optional[int] = None):
    """The unbatched uint8 ``(image, label)`` dataset of each split, every image decoded once first."""
    import tensorflow as tf

    files = _concatenated(list(splits.values()))
    sizes = {tuple(size) for size in files.sizes}
    if len(sizes) > 1 and not cfg.image_size:
        shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
        raise DataError(f"the images under {root} have {len(sizes)} different sizes ({shown}"
                        f"{', ...' if len(sizes) > 4 else ''}); set data.image_size=(H, W) to "
                        "resize them (data.resize_method: pad, bilinear or nearest)")
    channels = channels or cfg.channels or _channels(files, root, log)
    (width, height), = sizes if len(sizes) == 1 else ((None, None),)
    shape = (height, width, channels)
    in_memory = len(sizes) == 1 and len(files.paths) * width * height * channels <= IN_MEMORY_BYTES
    pixels = _decode_all(files, channels, shape, keep=in_memory)
    datasets, start = {}, 0
    for split, part in splits.items():
        end = start + len(part.paths)
        if pixels is not None:
            datasets[split] = tf.data.Dataset.from_tensor_slices((pixels[start:end], part.labels))
        else:
            datasets[split] = tf.data.Dataset.from_tensor_slices(
                (np.asarray(part.paths), part.via_rgb, part.labels)).map(
                image_decoder(channels, shape, with_label=True), num_parallel_calls=tf.data.AUTOTUNE)
        start = end
    return datasets


def _channels(files: _Files, root: Path, log) -> int:
    """1 where most images are grey, else 3; where they differ, the run says how it reads them."""
    grey = int(files.grey.sum())
    channels = 1 if 2 * grey > len(files.paths) else 3
    odd = np.flatnonzero(files.grey != (channels == 1))
    if len(odd):
        shown = ", ".join(sorted(os.path.relpath(files.paths[i], root) for i in odd)[:3])
        many = len(odd) > 1
        log(f"data: {len(odd)} of {len(files.paths)} images {'are' if many else 'is'} "
            f"{'colour' if channels == 1 else 'grey'} ({shown}{', ...' if len(odd) > 3 else ''}); "
            + ("read as grey since the others are (set data.channels=3 to keep colour)"
               if channels == 1 else "read as RGB (grey repeated) since the others are colour "
               "(set data.channels=1 to read all as grey)"))
    return channels


def _decode_all(files: _Files, channels: int, shape: tuple, keep: bool) -> Optional[np.ndarray]:
    """Every image decoded once, in parallel; their uint8 pixels if ``keep``, else None.

    A file that does not decode (or not to its header's size) fails with its name: a second
    pass, which drops the failures (``ignore_errors``, a fifth slower), finds which.
    """
    import tensorflow as tf

    decode = image_decoder(channels, shape)
    count = len(files.paths)

    def decoded(tolerant: bool):
        # without ``keep``, a value of the pixels (the shape alone, known statically, lets
        # TensorFlow prune the decode)
        dataset = tf.data.Dataset.from_tensor_slices(
            (np.arange(count), np.asarray(files.paths, dtype=str), files.via_rgb)).map(
            lambda index, path, via_rgb: (index, decode(path, via_rgb) if keep else
                                          tf.reduce_max(decode(path, via_rgb))),
            num_parallel_calls=tf.data.AUTOTUNE)
        return (dataset.ignore_errors() if tolerant else dataset).batch(1024).as_numpy_iterator()

    pixels = np.empty((count, *shape), np.uint8) if keep else None
    try:
        for index, images in decoded(tolerant=False):
            if keep:
                pixels[index] = images
        return pixels
    except tf.errors.OpError:
        found = np.zeros(count, bool)
        for index, _ in decoded(tolerant=True):
            found[index] = True
    bad = np.flatnonzero(~found)
    if not len(bad):                     # a failure that did not come back: the file system's?
        raise DataError(f"the images under {Path(files.paths[0]).parent.parent} could not all be "
                        "read; check that the folder is readable and try again")
    raise DataError(f"{files.paths[bad[0]]} cannot be decoded ({_decode_error(files, bad[0], decode)})"
                    f"{f' (and {len(bad) - 1} other file(s))' if len(bad) > 1 else ''}: a damaged "
                    "file, or not the image its extension says; delete or replace it")


def _decode_error(files: _Files, index: int, decode) -> str:
    """Why file ``index`` does not decode, in TensorFlow's words without its node names."""
    import tensorflow as tf

    try:
        decode(tf.constant(files.paths[index]), tf.constant(bool(files.via_rgb[index])))
    except tf.errors.OpError as error:
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*$", "", error.message.splitlines()[0]).strip()
        if "shape" in reason.lower():
            width, height = files.sizes[index]
            reason = f"it does not decode to the {width}x{height} pixels its header claims"
        return reason.rstrip(".")
    return "it failed while decoding with the others"


def _concatenated(parts: list[_Files]) -> _Files:
    return _Files([path for part in parts for path in part.paths],
                  *(np.concatenate([getattr(part, key) for part in parts])
                    for key in ("labels", "sizes", "grey", "via_rgb")))


def _subset(files: _Files, index: np.ndarray) -> _Files:
    return _Files([files.paths[i] for i in index], files.labels[index], files.sizes[index],
                  files.grey[index], files.via_rgb[index])


def _ordered(files: _Files, seed: int) -> _Files:
    return _subset(files, stratified_order(files.labels, seed))


def _stratified(files: _Files, fraction: float, seed: int, where: Path) -> tuple[_Files, _Files]:
    train, test = stratified_index(files.labels, fraction, seed, where)
    return _subset(files, train), _subset(files, test)
