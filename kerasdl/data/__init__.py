"""Data: TFDS as the one path, embedded real datasets offline, and the tf.data pipeline."""
from kerasdl.data.embedded import EMBEDDED
from kerasdl.data.pipeline import DataBundle, load_data

__all__ = ["EMBEDDED", "DataBundle", "load_data"]
