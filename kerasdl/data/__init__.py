"""Data: TFDS as the one path, embedded real datasets offline, and the tf.data pipeline."""
from kerasdl.data.embedded import ArraySplits, embedded_datasets, register_dataset
from kerasdl.data.pipeline import DataBundle, load_data

__all__ = ["ArraySplits", "DataBundle", "embedded_datasets", "load_data", "register_dataset"]
