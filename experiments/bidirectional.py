"""Bidirectional GRU (Schuster & Paliwal 1997), many-to-many: one tag per token of a sentence.

Run:
    python -m kerasdl run experiments/bidirectional.py
    python -m kerasdl run experiments/bidirectional.py --smoke     # 1 epoch on 256 sentences

Data: 'synthetic_tags', generated offline from split_seed (kerasdl/data/sequences.py): 4,000
sentences of 5-20 token ids (vocabulary 50, padding 0), 3,200 train (10% held out for validation)
/ 800 test. A token's tag depends on both neighbours (a word right BEFORE a marker has its own
tag), so only a reader that also goes right to left can tag every token: the task for which
bidirectional RNNs were made. Accuracy counts real tokens only (padding is masked). Schuster &
Paliwal's faithful run is framewise phoneme classification on TIMIT, which TFDS does not carry;
the real many-to-many set this package feeds on a user's machine is CoNLL-2003 NER (TFDS
'conll2003', see experiments/tagger.py).

Model: Embedding(50, 32, mask_zero) -> Bidirectional(GRU(32), concat) per step -> Dense(5)
softmax per step: 1,600 + 2 * 3 * 32 * (32 + 32 + 2) + 325 = 14,597 parameters.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer

VOCAB_SIZE = 50        # kerasdl.data.sequences.TAGS_VOCAB_SIZE (ids 0..49, 0 = padding)


def get_config() -> Experiment:
    return Experiment(
        name="bidirectional",
        description="Bidirectional GRU(32) per-token tagging of synthetic sentences",
        data=Data(name="synthetic_tags", source="embedded", rescale=None, batch_size=32,
                  validation_fraction=0.1),
        model=ModelConfig(name="bidirectional", style="functional",
                    kwargs={"cell": "gru", "units": (32,), "merge_mode": "concat",
                            "return_sequences": True, "vocab_size": VOCAB_SIZE,
                            "embedding_dim": 32}),
        trainer=Trainer(optimizer="adam", learning_rate=3e-3, loss="sparse_categorical_crossentropy",
                        metrics=("accuracy",), epochs=10),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=5)),
    )
