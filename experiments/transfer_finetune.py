"""Transfer LeNet-5 from digits 0-4 to digits 5-9 with 10 images per digit (two-phase recipe).

Run (after experiments/transfer_pretrain.py has published saved_models/transfer_pretrain.keras):
    python -m kerasdl run experiments/transfer_finetune.py
    python -m kerasdl run experiments/transfer_finetune.py --smoke       # random lenet5 backbone
    python -m kerasdl run experiments/transfer_finetune.py --set finetune.recipe=linear_probe
    python -m kerasdl run experiments/transfer_finetune.py --set data.name=mnist_5to9_50

Recipes (finetune.recipe): linear_probe, cut_and_probe (with finetune.cut_at='s4'),
finetune_all, retrain_all, two_phase; see kerasdl/transfer/recipes.py. The same model trained
from scratch: --set finetune.recipe=None. `python -m kerasdl.transfer.demo` runs them all at 10
and 50 images per digit and writes the table and plot.

Data: 'mnist_5to9_10' (kerasdl/data/mnist_subsets.py): 10 training images of each digit 5-9
(labels 0-4) and all 500 held-out test images of 5-9, offline. With 50 training images in all
there is no validation split to spare: the run trains for a fixed number of epochs (the same for
every recipe and for training from scratch) and its checkpoint watches the training loss. The
smoke variant uses an untrained kerasdl lenet5 backbone, so it runs where
saved_models/transfer_pretrain.keras does not exist yet.
"""
from kerasdl.config import (DEFAULT_SMOKE, Callbacks, Data, EarlyStopping, Experiment, Finetune,
                            Model, Trainer)


def get_config() -> Experiment:
    return Experiment(
        name="transfer_finetune",
        description="LeNet-5 pretrained on digits 0-4, fine-tuned on 5-9 (10 images per digit)",
        data=Data(name="mnist_5to9_10", source="embedded", image_size=(32, 32), batch_size=16,
                  validation_fraction=0.0),
        model=Model(name="lenet5", style="functional"),       # the from-scratch baseline
        trainer=Trainer(optimizer="adam", learning_rate=3e-3, epochs=60, metrics=("accuracy",)),
        callbacks=Callbacks(monitor="loss", early_stopping=EarlyStopping(enabled=False)),
        finetune=Finetune(recipe="two_phase", backbone="saved_models/transfer_pretrain.keras",
                          head_epochs=20, unfreeze="all", cut_at=None),
        smoke={**DEFAULT_SMOKE, "finetune.backbone": "kerasdl:lenet5", "finetune.weights": None},
    )
