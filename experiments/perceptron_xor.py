"""A single-layer perceptron cannot learn XOR (Minsky & Papert 1969): it is not linearly separable.

Run:
    python -m kerasdl run experiments/perceptron_xor.py
    python -m kerasdl run experiments/perceptron_xor.py --smoke
    python -m kerasdl run experiments/perceptron_or.py           # the same perceptron learns OR
    python -m kerasdl run experiments/mlp_xor.py                 # a hidden layer solves XOR

Data: 'logic_xor' (kerasdl/data/logic.py), always offline: the four points of the truth table,
each repeated 100 times with Gaussian noise (sigma 0.1) on the inputs, split 320/80 train/test;
20% of the train split is held out for validation. The features are floats, so data.rescale=None.
Model: the 3-parameter perceptron, sigmoid(w . x + b), trained exactly as in perceptron_or.py.
Expected: test accuracy at most 0.75 (one line classifies at most 3 of the 4 points) and a loss
that stays near ln 2 = 0.693.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="perceptron_xor",
        description="single-layer perceptron on the XOR truth table (not linearly separable)",
        data=Data(name="logic_xor", source="embedded", rescale=None, batch_size=32,
                  validation_fraction=0.2),
        model=ModelConfig(name="perceptron", style="functional"),
        trainer=Trainer(optimizer="adam", learning_rate=0.05, loss="binary_crossentropy",
                        metrics=("accuracy",), epochs=60),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=15)),
    )
