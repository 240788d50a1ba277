"""Seq2seq LSTM encoder-decoder with Luong attention: English number words to digits.

Run:
    python -m kerasdl run experiments/seq2seq.py
    python -m kerasdl run experiments/seq2seq.py --smoke             # 1 epoch on 256 pairs
    python -m kerasdl run experiments/seq2seq.py --set model.kwargs.attention=None   # no attention
    echo "four thousand three hundred twelve" | python -m kerasdl predict saved_models/seq2seq.keras -

Data: 'number_words', generated offline (kerasdl/data/toy_text.py): every number 0..9,999 in
English words ("four thousand three hundred twelve", 1..6 words) -> its digits ("4 3 1 2" + end,
2..5 tokens), split 8,000 train (10% held out for validation) / 2,000 test numbers by split_seed.
Features are (source ids, decoder input ids): the target shifted right behind a start token
(teacher forcing); labels are the target ids. Padding is masked in the loss and the accuracy, so
the logged accuracy is per real target token. Sequence-level exact match by greedy decoding:
``kerasdl.models.seq2seq.greedy_decode`` then ``exact_match`` (tests/test_text_models.py).

The faithful run of Sutskever et al. (2014) is WMT'14 English->French. A TFDS translation pair
runs on a user's machine (downloaded once) through kerasdl/data/translation.py, which learns both
vocabularies on the training split and yields (source ids, decoder input ids) -> target ids:
    python -m kerasdl run experiments/seq2seq.py --set data.name=ted_hrlr_translate/pt_to_en \
        --set data.source=tfds --set data.test_split=validation --set data.batch_size=64
(tested offline under tfds.testing.mock_data in tests/test_translation.py; not run on real data).

Model: Embedding(31, 32) and Embedding(13, 32), LSTM(64) encoder and decoder (the encoder's final
state starts the decoder), Luong "general" attention, tanh(W_c [c_t; h_t]) and a softmax over the
13 target tokens: 64,269 parameters.

Measured with ``python -m kerasdl run experiments/seq2seq.py`` (2-core x86_64 CPU with AVX-512
shared with another job's tests, load average 5; TF 2.21; 2026-12-04): test token accuracy
1.000, test loss 2.4e-04, 20 of 20 epochs; done in 37 s and 37 s; greedy exact match 2,000 of
2,000 test numbers (``python bench/seq2seq_exact_match.py RUN_DIR`` on the run's model).
Reproduced exactly by a second run (the same history.csv, every digit, and 2,000 of 2,000): the
run is seeded (trainer.seed=42) and repeats on a CPU without trainer.deterministic.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="seq2seq",
        description="LSTM encoder-decoder + Luong attention, number words -> digits",
        data=Data(name="number_words", source="embedded", rescale=None, batch_size=64,
                  validation_fraction=0.1),
        model=ModelConfig(name="seq2seq", style="functional",
                    kwargs={"cell": "lstm", "units": 64, "embed_dim": 32, "attention": "luong"}),
        trainer=Trainer(optimizer="adam", learning_rate=3e-3, clipnorm=1.0,
                        loss="sparse_categorical_crossentropy", metrics=("accuracy",), epochs=20),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=3)),
    )
