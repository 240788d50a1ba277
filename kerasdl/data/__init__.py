"""Data: TFDS as the one path, embedded real datasets offline, and the tf.data pipeline."""
from kerasdl.data.embedded import embedded_datasets, register_dataset
from kerasdl.data.pipeline import DataBundle, load_data
from kerasdl.data.splits import Splits

#: the old name of Splits.from_arrays, which embedded loaders return (tests/test_reliability.py)
ArraySplits = Splits.from_arrays

__all__ = ["ArraySplits", "DataBundle", "Splits", "embedded_datasets", "load_data",
           "register_dataset"]
