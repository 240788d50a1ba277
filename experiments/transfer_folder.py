"""Fine-tune an ImageNet MobileNetV2 on your own images: a folder with one subfolder per class.

Run:
    python -m kerasdl sample-folder sample_digits         # no photos at hand? real MNIST 5-9
    python -m kerasdl run experiments/transfer_folder.py                              # sample_digits
    python -m kerasdl run experiments/transfer_folder.py --set data.name=folder:~/my_photos
    python -m kerasdl predict runs/transfer_folder-<stamp> photo.jpg --top-k 3
    python -m kerasdl export runs/transfer_folder-<stamp> --format onnx
    python -m kerasdl run experiments/transfer_folder.py --smoke      # offline: random weights

Data: ``folder:PATH`` (kerasdl/data/local.py): images (jpg, png, bmp, gif) in one subfolder per
class, whose names are the class names predict prints. With ``train/`` and ``test/`` subfolders
those are the splits (``sample-folder`` writes them: 50 training images of each digit 5-9 and all
500 held-out test images); otherwise a stratified ``data.test_fraction`` (0.2) is held out. Every
image is resized to 96x96 RGB (grey ones repeated to RGB) and rescaled to [0, 1]; the model undoes
the rescale and applies ``keras.applications.mobilenet_v2.preprocess_input`` inside itself, so
the saved and exported model takes the resized pixels as they are.

Model and recipe: ``keras:MobileNetV2`` without its top (ImageNet weights downloaded once into
~/.keras/models, where later runs find them offline) plus a softmax head; ``two_phase``: the head
alone for 5 epochs with the backbone frozen, then the top 30 layers unfrozen at learning_rate /
10, BatchNorm kept in inference mode. The same model from scratch on the same folder:
``--set finetune.recipe=retrain_all --set finetune.weights=None``.
"""
from kerasdl.config import (DEFAULT_SMOKE, Callbacks, Data, EarlyStoppingConfig, Experiment, Finetune,
                            ModelConfig, Trainer)

#: what ``python -m kerasdl sample-folder`` writes, relative to where kerasdl runs
SAMPLE_FOLDER = "sample_digits"


def get_config() -> Experiment:
    return Experiment(
        name="transfer_folder",
        description="keras.applications MobileNetV2 (ImageNet) fine-tuned on an image folder",
        data=Data(name=f"folder:{SAMPLE_FOLDER}", image_size=(96, 96), resize_method="bilinear",
                  channels=3, batch_size=32, validation_fraction=0.1),
        model=ModelConfig(name="lenet5", kwargs={}),       # unused: the model is the backbone + head
        trainer=Trainer(optimizer="adam", learning_rate=1e-3, epochs=15, metrics=("accuracy",)),
        callbacks=Callbacks(monitor="val_accuracy", early_stopping=EarlyStoppingConfig(patience=4)),
        finetune=Finetune(recipe="two_phase", backbone="keras:MobileNetV2", weights="imagenet",
                          head_epochs=5, unfreeze=30),
        smoke={**DEFAULT_SMOKE, "finetune.weights": None, "data.image_size": (32, 32)},
    )
