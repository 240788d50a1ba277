"""A TFDS translation pair feeding seq2seq (under tfds.testing.mock_data): sentence pairs become
((source ids, decoder input), target ids) with vocabularies learned on the training split."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdl.config import Data
from kerasdl.data.pipeline import load_data
from kerasdl.data.translation import TRANSLATION_PAIRS

from conftest import REPO


@pytest.fixture(scope="module")
def mocked():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=48):
        yield


def test_pairs_become_teacher_forcing_batches(mocked):
    bundle = load_data(Data(name="ted_hrlr_translate/pt_to_en", source="tfds",
                            test_split="validation", batch_size=8, validation_fraction=0.25),
                       "sparse", log=lambda line: None)
    assert bundle.source == "tfds" and bundle.label_format == "sparse"
    (source, decoder_input), target = next(iter(bundle.train))
    assert source.shape == decoder_input.shape == target.shape == (8, TRANSLATION_PAIRS[
        "ted_hrlr_translate/pt_to_en"].length)
    assert source.dtype == decoder_input.dtype == target.dtype == "int32"
    decoder_input, target = decoder_input.numpy(), target.numpy()
    np.testing.assert_array_equal(decoder_input[:, 1:], target[:, :-1])    # shifted by one
    assert bundle.num_classes > 2 and target.max() < bundle.num_classes
    start_ids = set(decoder_input[:, 0].tolist())
    assert len(start_ids) == 1 and start_ids != {0}                        # every one starts


def test_vocabularies_are_learned_from_the_training_split_only(mocked):
    import tensorflow_datasets as tfds

    pair = TRANSLATION_PAIRS["ted_hrlr_translate/pt_to_en"]
    train = tfds.load("ted_hrlr_translate/pt_to_en", split="train", as_supervised=False)
    fitted = pair.fit(train.take(5))
    words = {w for example in train.take(5) for w in
             example["pt"].numpy().decode().lower().split()}
    vocabulary = set(fitted.vocabularies().source[2:])                     # past padding, OOV
    assert vocabulary and vocabulary <= {w.strip(".,!?;:'\"") for w in words} | words
    assert pair.vectorizers == {}                                          # the shared one untouched


def test_seq2seq_trains_on_it_and_decodes(mocked, tmp_path):
    import kerasdl
    from kerasdl.models.seq2seq import greedy_decode

    experiment = kerasdl.load_experiment(REPO / "experiments" / "seq2seq.py", smoke=True, overrides={
        "data.name": "ted_hrlr_translate/pt_to_en", "data.source": "tfds",
        "data.test_split": "validation", "output.runs_dir": str(tmp_path)})
    result = kerasdl.run(experiment, log=lambda line: None)
    assert result.data_source == "tfds" and np.isfinite(result.test_metrics["loss"])
    source = np.ones((2, 32), np.int32)
    decoded = greedy_decode(result.model, source, start_id=2, end_id=3, max_len=5)
    assert decoded.shape[0] == 2 and decoded.shape[1] <= 5
