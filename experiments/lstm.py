"""LSTM (Hochreiter & Schmidhuber 1997) on the adding problem: memory over 50 steps.

Run:
    python -m kerasdl run experiments/lstm.py
    python -m kerasdl run experiments/lstm.py --smoke              # 1 epoch on 256 sequences

Data: 'adding_task', generated offline from split_seed (kerasdl/data/sequences.py): 10,000
sequences of 50 steps of (value ~ U(0, 1), marker); target the sum of the two marked values (one
marked step in each half). 8,000 train (10% held out for validation) / 2,000 test. Predicting the
mean scores an MSE of 0.167; solving the task scores near 0. The adding problem is the paper's own
(experiment 4) and is synthetic by design: the faithful run is this one (the paper used lengths of
100 to 1,000; set the length in kerasdl.data.sequences.ADDING_LENGTH to go further).

Model: one LSTM layer of 64 units and a linear Dense(1):
4 * 64 * (64 + 2 + 1) + 65 = 17,217 parameters. Gradients are clipped by norm (trainer.clipnorm).
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="lstm",
        description="LSTM(64) on the adding problem (T=50)",
        data=Data(name="adding_task", source="embedded", rescale=None, batch_size=64,
                  validation_fraction=0.1),
        model=ModelConfig(name="lstm", style="functional", kwargs={"units": (64,)}),
        trainer=Trainer(optimizer="adam", learning_rate=3e-3, clipnorm=1.0, loss="mse",
                        metrics=("mae",), epochs=30),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=10)),
    )
