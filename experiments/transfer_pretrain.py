"""LeNet-5 pretrained on MNIST digits 0-4: the backbone of the transfer-learning demonstration.

Run:
    python -m kerasdl run experiments/transfer_pretrain.py
    python -m kerasdl run experiments/transfer_pretrain.py --smoke        # 1 epoch on 256 images

Then fine-tune it on digits 5-9 with few labels (experiments/transfer_finetune.py), or run the
whole comparison of recipes against training from scratch:
    python -m kerasdl.transfer.demo

Data: 'mnist_0to4' (kerasdl/data/mnist_subsets.py), the digits 0-4 of the embedded MNIST copy
(2,000 train / 500 test, offline); 10% of the train split is held out for validation. The model
is published as saved_models/transfer_pretrain.keras (the backbone transfer_finetune.py loads).
"""
from kerasdl.config import Callbacks, Data, EarlyStopping, Experiment, Model, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="transfer_pretrain",
        description="LeNet-5 on MNIST digits 0-4 (source task of the transfer demonstration)",
        # random shifts of up to 3 pixels: features that hold up on other digits, too
        data=Data(name="mnist_0to4", source="embedded", image_size=(32, 32), batch_size=32,
                  validation_fraction=0.1, augment=("translate",)),
        model=Model(name="lenet5", style="functional"),
        trainer=Trainer(optimizer="adam", learning_rate=1e-3, epochs=40, metrics=("accuracy",)),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStopping(patience=8)),
    )
