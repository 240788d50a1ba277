"""A single-layer perceptron learns OR: a linearly separable function (Rosenblatt 1958).

Run:
    python -m kerasdl run experiments/perceptron_or.py
    python -m kerasdl run experiments/perceptron_or.py --smoke
    python -m kerasdl run experiments/perceptron_xor.py          # the same perceptron fails on XOR
    python -m kerasdl run experiments/mlp_xor.py                 # a hidden layer solves XOR

Data: 'logic_or' (kerasdl/data/logic.py), always offline: the four points of the truth table,
each repeated 100 times with Gaussian noise (sigma 0.1) on the inputs, split 320/80 train/test;
20% of the train split is held out for validation. The features are floats, so data.rescale=None.
Model: the 3-parameter perceptron, sigmoid(w . x + b), trained with binary cross-entropy.
Expected: test accuracy 1.0 (OR is linearly separable).
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="perceptron_or",
        description="single-layer perceptron on the OR truth table (linearly separable)",
        data=Data(name="logic_or", source="embedded", rescale=None, batch_size=32,
                  validation_fraction=0.2),
        model=ModelConfig(name="perceptron", style="functional"),
        trainer=Trainer(optimizer="adam", learning_rate=0.05, loss="binary_crossentropy",
                        metrics=("accuracy",), epochs=60),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=15)),
    )
