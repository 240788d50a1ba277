"""BiLSTM tagger (Huang et al. 2015; Lample et al. 2016) on synthetic token sentences, padding masked.

Run:
    python -m kerasdl run experiments/tagger.py
    python -m kerasdl run experiments/tagger.py --smoke            # 1 epoch on 256 sentences

Data: 'synthetic_tags', generated offline from split_seed (kerasdl/data/sequences.py): 4,000
sentences of 5-20 token ids (vocabulary 50, padding 0), tags 0 (padding) .. 4 that depend on the
neighbouring tokens on both sides; 3,200 train (10% held out for validation) / 800 test. Accuracy
counts real tokens only: the padding is masked in the LSTMs, the loss and the metric. The BiLSTM
tags every test token right within 1-2 epochs; a left-to-right tagger
(--set model.kwargs.bidirectional=false) stays at 88%: it cannot know that the next token is a
marker (the slow test in tests/test_sequences.py pins both).

The faithful run is NER on CoNLL-2003 (TFDS 'conll2003': 14,041 train / 3,453 test sentences,
9 IOB2 tags + padding = 10 classes), fed as raw tokens: the tagger builds its vocabulary from the
training split and keeps it in the model (a StringLookup), so the saved model tags raw text. It
needs the TFDS adapter hook described in kerasdl/data/sequences.py (TFDS_TAGGING), then:
    python -m kerasdl run experiments/tagger.py --set data.name=conll2003 --set data.source=tfds \
        --set model.kwargs.vocab_size=None --set model.kwargs.embedding_dim=100 \
        --set "model.kwargs.units=(100,)"
(The papers add character features and a CRF layer; this tagger is their BiLSTM core.)

Model: Embedding(50, 64, mask_zero) -> Bidirectional(LSTM(64), concat) -> Dense(5) softmax per
token: 3,200 + 2 * 4 * 64 * (64 + 64 + 1) + 645 = 69,893 parameters.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer

VOCAB_SIZE = 50        # kerasdl.data.sequences.TAGS_VOCAB_SIZE (ids 0..49, 0 = padding)


def get_config() -> Experiment:
    return Experiment(
        name="tagger",
        description="BiLSTM(64) tagger on synthetic token sentences (padding masked)",
        data=Data(name="synthetic_tags", source="embedded", rescale=None, batch_size=32,
                  validation_fraction=0.1),
        model=ModelConfig(name="tagger", style="functional",
                    kwargs={"vocab_size": VOCAB_SIZE, "embedding_dim": 64, "units": (64,)}),
        trainer=Trainer(optimizer="adam", learning_rate=3e-3, loss="sparse_categorical_crossentropy",
                        metrics=("accuracy",), epochs=10),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=5)),
    )
