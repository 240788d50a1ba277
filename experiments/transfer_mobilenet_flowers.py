"""MobileNetV2 with ImageNet weights fine-tuned on TF Flowers (5 classes), two-phase recipe.

Run:
    python -m kerasdl run experiments/transfer_mobilenet_flowers.py
    python -m kerasdl run experiments/transfer_mobilenet_flowers.py --smoke   # offline plumbing check
    python -m kerasdl run experiments/transfer_mobilenet_flowers.py \
        --set finetune.recipe=linear_probe --set finetune.cache_features=True

Needs the network once: TFDS downloads 'tf_flowers' (3,670 photos, one 'train' split, cut here
80/20 into train/test) and Keras downloads the ImageNet weights of MobileNetV2 (no top) into
~/.keras/models (KERAS_HOME), where later runs find them offline. The images are resized to
160x160 and rescaled to [0, 1]; the model undoes that and applies
keras.applications.mobilenet_v2.preprocess_input inside itself. Phase 1 trains the head for
5 epochs with the backbone frozen; phase 2 unfreezes the top 30 layers with weights and continues
at learning_rate / 10, BatchNorm kept in inference mode.

The smoke variant runs offline on the embedded MNIST (grey repeated to RGB, 32x32) with a random
MobileNetV2: it checks the plumbing, not the transfer.
"""
from kerasdl.config import (DEFAULT_SMOKE, Callbacks, Data, EarlyStoppingConfig, Experiment, Finetune,
                            ModelConfig, Trainer)


def get_config() -> Experiment:
    return Experiment(
        name="transfer_mobilenet_flowers",
        description="keras.applications MobileNetV2 (ImageNet) fine-tuned on tf_flowers",
        data=Data(name="tf_flowers", source="tfds", train_split="train[:80%]",
                  test_split="train[80%:]", image_size=(160, 160), resize_method="bilinear",
                  batch_size=32, validation_fraction=0.1),
        model=ModelConfig(name="lenet5", kwargs={}),       # unused: the model is the backbone + head
        trainer=Trainer(optimizer="adam", learning_rate=1e-3, epochs=15, metrics=("accuracy",)),
        callbacks=Callbacks(monitor="val_accuracy", early_stopping=EarlyStoppingConfig(patience=4)),
        finetune=Finetune(recipe="two_phase", backbone="keras:MobileNetV2", weights="imagenet",
                          head_epochs=5, unfreeze=30),
        smoke={**DEFAULT_SMOKE, "data.name": "mnist", "data.source": "embedded",
               "data.train_split": "train", "data.test_split": "test", "data.channels": 3,
               "data.image_size": (32, 32), "finetune.weights": None},
    )
