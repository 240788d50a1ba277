"""GRU (Cho et al. 2014) on the adding problem: memory over 50 steps.

Run:
    python -m kerasdl run experiments/gru.py
    python -m kerasdl run experiments/gru.py --smoke               # 1 epoch on 256 sequences

Data: 'adding_task', generated offline from split_seed (kerasdl/data/sequences.py): 10,000
sequences of 50 steps of (value ~ U(0, 1), marker); target the sum of the two marked values (one
marked step in each half). 8,000 train (10% held out for validation) / 2,000 test. Predicting the
mean scores an MSE of 0.167; solving the task scores near 0. Cho et al. evaluated the GRU on
translation (WMT'14 English-French); the adding problem (Hochreiter & Schmidhuber 1997) is the
standard long-term-memory test the GRU is compared on here, synthetic by design, so the faithful
run is this one, the same as experiments/lstm.py for a like-for-like comparison.

Model: one GRU layer of 64 units (Keras' reset_after=True form, two bias vectors) and a linear
Dense(1): 3 * 64 * (64 + 2 + 2) + 65 = 13,121 parameters. Gradients are clipped by norm.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="gru",
        description="GRU(64) on the adding problem (T=50)",
        data=Data(name="adding_task", source="embedded", rescale=None, batch_size=64,
                  validation_fraction=0.1),
        model=ModelConfig(name="gru", style="functional", kwargs={"units": (64,)}),
        trainer=Trainer(optimizer="adam", learning_rate=3e-3, clipnorm=1.0, loss="mse",
                        metrics=("mae",), epochs=30),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=10)),
    )
