"""An MLP on scikit-learn's 8x8 digits: the small, always-offline dataset.

Run:
    python -m kerasdl run experiments/mlp_digits.py
    python -m kerasdl run experiments/mlp_digits.py --smoke

Data: 'digits' is embedded only (sklearn.datasets.load_digits: 1,797 real 8x8 digits, stratified
80/20 train/test split); the images are flattened by the model.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="mlp_digits",
        description="MLP 64-128-64-10 on sklearn's 8x8 digits",
        data=Data(name="digits", source="embedded", batch_size=32, validation_fraction=0.15),
        model=ModelConfig(name="mlp", style="functional", kwargs={"hidden": (128, 64), "dropout": 0.2}),
        trainer=Trainer(optimizer="adam", learning_rate=1e-3, metrics=("accuracy",), epochs=60),
        callbacks=Callbacks(monitor="val_accuracy", early_stopping=EarlyStoppingConfig(patience=10)),
    )
