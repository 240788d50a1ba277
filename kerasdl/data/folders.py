"""Image folders (``folder:PATH``): one subfolder per class, checked before any training.

:mod:`kerasdl.data.local` describes the layout; this module scans the files, checks them and
builds the tf.data splits.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from kerasdl.data.splits import LocalSplits, carved_test_split, class_folders, stratified_index
from kerasdl.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


@dataclass
class _Files:
    paths: list[str]
    labels: np.ndarray                      # int64 class ids
    sizes: set[tuple[int, int]]             # (width, height) seen
    grey: bool                              # every image is single-channel


def _scan(root: Path, class_names: tuple[str, ...], log, split: str) -> _Files:
    """Every image under ``root/<class>/``, checked by reading its header (Pillow)."""
    from PIL import UnidentifiedImageError

    paths, labels, sizes, grey, skipped = [], [], set(), True, 0
    for label, name in enumerate(class_names):
        folder = root / name
        if not folder.is_dir():
            continue                         # a split may lack a class (e.g. a small test/)
        found = 0
        for file in _files_under(folder):
            if os.path.splitext(file)[1].lower() not in IMAGE_EXTENSIONS:
                skipped += 1
                continue
            try:
                size, is_grey = png_header(file) or _pillow_header(file)
                sizes.add(size)
                grey = grey and is_grey
            except (UnidentifiedImageError, OSError) as error:
                raise DataError(f"{file} is not a readable image ({type(error).__name__}); "
                                "delete or replace it") from None
            paths.append(file)
            labels.append(label)
            found += 1
        if not found and split == "train":
            raise DataError(f"class folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
                            "add images or remove the folder")
    if skipped:
        log(f"data: skipped {skipped} file(s) under {root} without an image extension "
            f"({', '.join(IMAGE_EXTENSIONS)})")
    return _Files(paths, np.asarray(labels, dtype=np.int64), sizes, grey)


def _files_under(folder: Path) -> list[str]:
    """Every file under ``folder``, subfolders included, sorted.

    ``os.walk``: a quarter of ``Path.rglob``'s time at 10,000 files.
    """
    return sorted(os.path.join(directory, name) for directory, _, names in os.walk(folder)
                  for name in names)


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


def _pillow_header(file: str) -> tuple[tuple[int, int], bool]:
    """((width, height), grey) read by Pillow (JPEG, BMP, GIF); raises if not an image."""
    from PIL import Image

    with Image.open(file) as image:
        return image.size, image.mode in ("1", "L", "LA", "I", "I;16", "F")


def load_folder(path: Path, cfg, log) -> LocalSplits:
    """The splits of an image folder (``folder:PATH``), every file checked first."""
    import tensorflow as tf

    from kerasdl.data.pipeline import plain_graph

    if not path.is_dir():
        raise DataError(f"data.name='folder:{path}': {path} is not a folder; folder: takes a "
                        "folder of class subfolders (npz: takes an .npz file)")
    presplit = (path / "train").is_dir()
    train_root = path / "train" if presplit else path
    class_names = tuple(p.name for p in class_folders(train_root))
    splits = {"train": _scan(train_root, class_names, log, "train")}
    if presplit:
        for split in ("validation", "test"):
            if (path / split).is_dir():
                extra = sorted({p.name for p in class_folders(path / split)} - set(class_names))
                if extra:
                    raise DataError(f"{path / split} has class folders that {train_root} lacks: "
                                    f"{', '.join(extra)}; every class needs training images")
                splits[split] = _scan(path / split, class_names, log, split)
    if "test" not in splits:
        splits["train"], splits["test"] = _stratified(splits["train"], cfg.test_fraction,
                                                      cfg.split_seed, path)
    else:                # pre-split training images are ordered by class: mix them (seeded)
        splits["train"] = _subset(splits["train"], np.random.default_rng(cfg.split_seed)
                                  .permutation(len(splits["train"].paths)))
    sizes = set().union(*(files.sizes for files in splits.values()))
    if len(sizes) > 1 and not cfg.image_size:
        shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
        raise DataError(f"the images under {path} have {len(sizes)} different sizes ({shown}"
                        f"{', ...' if len(sizes) > 4 else ''}); set data.image_size=(H, W) to "
                        "resize them (data.resize_method: pad, bilinear or nearest)")
    channels = cfg.channels or (1 if all(files.grey for files in splits.values()) else 3)
    (width, height), = sizes if len(sizes) == 1 else ((None, None),)

    def decode(file, label):
        image = tf.io.decode_image(tf.io.read_file(file), channels=channels,
                                   expand_animations=False)
        image.set_shape((height, width, channels))
        return image, label

    def dataset(files: _Files):
        return tf.data.Dataset.from_tensor_slices((np.asarray(files.paths), files.labels)).map(
            plain_graph(decode), num_parallel_calls=tf.data.AUTOTUNE)

    counts = ", ".join(f"{len(files.paths)} {split}" for split, files in splits.items())
    how = (f"its {' '.join(f'{split}/' for split in splits)} folders"
           if presplit and (path / "test").is_dir() else carved_test_split(cfg))
    return LocalSplits(
        dataset(splits["train"]), dataset(splits["test"]),
        dataset(splits["validation"]) if "validation" in splits else None,
        len(class_names), class_names,
        f"image folder {path}: {len(class_names)} classes ({', '.join(class_names[:6])}"
        f"{', ...' if len(class_names) > 6 else ''}), {counts} images, {how}")


def _subset(files: _Files, index: np.ndarray) -> _Files:
    return _Files([files.paths[i] for i in index], files.labels[index], files.sizes, files.grey)


def _stratified(files: _Files, fraction: float, seed: int, where: Path) -> tuple[_Files, _Files]:
    train, test = stratified_index(files.labels, fraction, seed, where)
    return _subset(files, train), _subset(files, test)
