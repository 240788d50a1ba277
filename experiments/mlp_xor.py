"""The seed's 8-12-8-1 MLP learns XOR, which the single-layer perceptron cannot.

Run:
    python -m kerasdl run experiments/mlp_xor.py
    python -m kerasdl run experiments/mlp_xor.py --smoke
    python -m kerasdl run experiments/perceptron_xor.py          # the perceptron fails here

Data: 'logic_xor' (kerasdl/data/logic.py), always offline: the four points of the truth table,
each repeated 100 times with Gaussian noise (sigma 0.1) on the inputs, split 320/80 train/test;
20% of the train split is held out for validation. The features are floats, so data.rescale=None.
Model: the registered 'mlp' (hidden 12 and 8 ReLU units, one sigmoid output) on 2 inputs:
36 + 104 + 9 = 149 parameters. Expected: test accuracy 1.0.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="mlp_xor",
        description="MLP 2-12-8-1 on the XOR truth table",
        data=Data(name="logic_xor", source="embedded", rescale=None, batch_size=32,
                  validation_fraction=0.2),
        model=ModelConfig(name="mlp", style="functional",
                    kwargs={"input_shape": (2,), "hidden": (12, 8)}),
        trainer=Trainer(optimizer="adam", learning_rate=0.01, loss="binary_crossentropy",
                        metrics=("accuracy",), epochs=60),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=15)),
    )
