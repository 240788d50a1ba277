"""The seed's CIFAR-10 CNN (conv32, dropout 0.3, conv32, max pool, dense 512, dropout 0.5, 10).

Run (the default is OFFLINE: MNIST digits resized to CIFAR's 32x32x3, see Data below):
    python -m kerasdl run experiments/seed_cnn_cifar.py
    python -m kerasdl run experiments/seed_cnn_cifar.py --smoke

The faithful run, CIFAR-10 from TFDS (downloads ~160 MB on first use, or copy a prepared TFDS
folder and add --set data.data_dir=...):
    python -m kerasdl run experiments/seed_cnn_cifar.py --set data.name=cifar10 \
        --set data.image_size=None --set data.channels=None

Data: by default 'mnist' (TFDS where it can be loaded, else the embedded 5,000 real MNIST images,
announced loudly), zero-padded from 28x28 to 32x32 and repeated to 3 channels, so the model and
the whole pipeline run unchanged on any machine; its accuracy says nothing about CIFAR-10. With
data.name=cifar10: TFDS 'cifar10' (50,000 train / 10,000 test, 32x32x3, 10 classes) as is.
10% of the train split is held out for validation either way.
Model: 'seed_cnn_cifar', 4,210,090 parameters at 32x32x3.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="seed_cnn_cifar",
        description="the seed's conv32-conv32-dense512 CNN; offline default: MNIST at 32x32x3",
        data=Data(name="mnist", image_size=(32, 32), resize_method="pad", channels=3,
                  batch_size=64, validation_fraction=0.1),
        model=ModelConfig(name="seed_cnn_cifar", style="functional"),
        trainer=Trainer(optimizer="adam", learning_rate=1e-3,
                        loss="sparse_categorical_crossentropy", metrics=("accuracy",), epochs=30),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=5)),
    )
