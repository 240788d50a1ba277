"""GLUE single-sentence tasks (SST-2, CoLA) through the TFDS path.

TFDS's ``glue`` builder defines no ``supervised_keys``, so ``tfds.load("glue/sst2",
as_supervised=True)`` fails ("glue does not support a supervised structure"). The adapters here
turn each example ``{"sentence", "label", "idx"}`` into ``(sentence, label)``: raw strings, as the
transformer classifier's TextVectorization takes them.

GLUE's test split has no labels (they are -1): run with ``data.test_split='validation'``.

Reference:
    Wang et al. "GLUE: A multi-task benchmark and analysis platform for natural language
    understanding." ICLR 2019. SST-2: Socher et al., EMNLP 2013.
"""
from __future__ import annotations

from typing import Optional


class GlueSentence:
    """Feeds a single-sentence GLUE task as (sentence, label) pairs."""

    def __init__(self, text_key: str = "sentence", label_key: str = "label"):
        self.text_key, self.label_key = text_key, label_key

    def to_supervised(self, example):
        return example[self.text_key], example[self.label_key]

    def num_classes(self, info) -> Optional[int]:
        return getattr(info.features[self.label_key], "num_classes", None)


#: TFDS name -> adapter
GLUE_SENTENCE_TASKS: dict[str, GlueSentence] = {"glue/sst2": GlueSentence(),
                                                "glue/cola": GlueSentence()}

try:     # the TFDS path's adapter hook (kerasdl.data.tfds_source.register_tfds_adapter)
    from kerasdl.data.tfds_source import register_tfds_adapter
except ImportError:                       # a TFDS path without the hook: glue stays unsupported
    register_tfds_adapter = None

if register_tfds_adapter is not None:
    for _name, _adapter in GLUE_SENTENCE_TASKS.items():
        register_tfds_adapter(_name)(_adapter)
