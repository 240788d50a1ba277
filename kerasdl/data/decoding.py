"""The user's files decoded as training decodes them: UTF-8 text and images.

One decoder per kind, shared by the data sources (:mod:`kerasdl.data.local`,
:mod:`kerasdl.data.folders`) and ``kerasdl predict`` (:mod:`kerasdl.deploy.readers`), so a trained
model is given its inputs exactly as it was trained on them. Imports no TensorFlow until an image
decoder is built.
"""
from __future__ import annotations

from pathlib import Path

from kerasdl.errors import DataError

GIF_SIGNATURE = b"GIF8"
JPEG_SIGNATURE = b"\xff\xd8"


def utf8_text(data: bytes, name: str | Path, role: str = "", hint: str = "") -> str:
    """``data``, the bytes of the file ``name``, as UTF-8 text (a byte-order mark dropped).

    Text in another encoding (latin-1, cp1252) is refused in one line naming the file (after
    ``role``: ``"predict input "``), the line and the byte, rather than guessed: guessing could turn
    letters into other letters without a word, so the fix (save as UTF-8) is the user's. ``hint``
    ends the message: what else the caller reads.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        text = error.object                      # positions count from after a byte-order mark
        line = text.count(b"\n", 0, error.start) + 1
        suffix = Path(str(name)).suffix
        excel = "Excel: 'CSV UTF-8'; or " if suffix.lower() == ".csv" else ""
        raise DataError(f"{role}{name} line {line} is not UTF-8 text (byte {text[error.start]:#04x}); "
                        f"save the file as UTF-8 ({excel}iconv -f latin1 -t utf-8 old{suffix} "
                        f"> new{suffix}){hint}") from None


def decodes_to_rgb_only(file: str | Path) -> bool:
    """Whether TensorFlow decodes ``file`` to RGB only, by its header: a GIF or a CMYK JPEG.

    Reads 4 bytes, and a JPEG's header with Pillow; :func:`image_decoder` makes such an image grey
    where the model reads grey."""
    with open(file, "rb") as stream:
        head = stream.read(len(GIF_SIGNATURE))
    if head.startswith(GIF_SIGNATURE):
        return True
    if not head.startswith(JPEG_SIGNATURE):
        return False
    from PIL import Image

    with Image.open(file) as image:
        return image.mode == "CMYK"


def image_decoder(channels: int, shape: tuple, with_label: bool = False):
    """``(path, via_rgb[, label]) -> (image[, label])``: TensorFlow's decode, as Keras's loader does it.

    ``image`` is uint8 of ``shape`` (``(height, width, channels)``, a size None where it varies).
    ``via_rgb`` (:func:`decodes_to_rgb_only`) marks a CMYK JPEG or a GIF, which TensorFlow decodes
    to RGB only: with one channel it is decoded so and made grey (TensorFlow's luma)."""
    import tensorflow as tf

    from kerasdl.data.batching import plain_graph

    def decode(path, via_rgb, *label):
        data = tf.io.read_file(path)
        if channels == 1:        # CMYK JPEGs and GIFs decode to RGB only: made grey after
            image = tf.cond(via_rgb, lambda: tf.image.rgb_to_grayscale(tf.io.decode_image(
                data, channels=3, expand_animations=False)), lambda: tf.io.decode_image(
                data, channels=1, expand_animations=False))
        else:
            image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.ensure_shape(image, shape)
        return (image, *label) if with_label else image

    return plain_graph(decode)
