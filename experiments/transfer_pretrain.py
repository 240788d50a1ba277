"""LeNet-5 pretrained on MNIST digits 0-4: the backbone of the transfer-learning demonstration.

Run:
    python -m kerasdl run experiments/transfer_pretrain.py
    python -m kerasdl run experiments/transfer_pretrain.py --smoke        # 1 epoch on 256 images

Then fine-tune it on digits 5-9 with few labels (experiments/transfer_finetune.py), or run the
whole comparison of recipes against training from scratch:
    python bench/transfer_demo.py

Data: 'mnist_0to4' (kerasdl/data/mnist_subsets.py), the digits 0-4 of the embedded MNIST copy
(2,000 train / 500 test, offline); 10% of the train split is held out for validation. The model
is published as saved_models/transfer_pretrain.keras (the backbone transfer_finetune.py loads).
Test accuracy on digits 0-4: 0.996 (trainer seed 42, the default), about 1 min on 2 cores.

The recipe was chosen for what it transfers (issue #15, 4): transfer_finetune.py's default
fine-tuning (two_phase, 10 images per digit 5-9, trainer seeds 0/1/2) reached a mean validation
accuracy of 0.901 on the old recipe's backbone (Adam 1e-3, shifts only, early stopping), 0.904
on 30 epochs of this recipe with shifts only, 0.907 on 30 epochs, 0.920 on 60 and 0.923 on 100
(transfer_finetune.py has the whole table).
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="transfer_pretrain",
        description="LeNet-5 on MNIST digits 0-4 (source task of the transfer demonstration)",
        # experiments/lenet5.py's recipe, run for 100 epochs: random shifts, rotations and zooms
        # (features that hold up on other digits, too), SGD with momentum 0.9 on a cosine
        # schedule over a fixed budget of 100 epochs (the budget is the stopping rule). Chosen
        # by the fine-tuned model's validation accuracy on digits 5-9 (transfer_finetune.py)
        data=Data(name="mnist_0to4", source="embedded", image_size=(32, 32), batch_size=32,
                  validation_fraction=0.1, augment=("translate", "rotate", "zoom")),
        model=ModelConfig(name="lenet5", style="functional"),
        trainer=Trainer(optimizer="momentum", learning_rate=0.06, lr_schedule="cosine", epochs=100,
                        metrics=("accuracy",)),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(enabled=False)),
    )
