"""Transfer learning: pretrained backbones and fine-tuning recipes (issue #5).

Library use::

    from kerasdl.transfer import load_backbone, make_transfer_model, train_recipe, compile_with

    backbone = load_backbone("keras:MobileNetV2", input_shape=(160, 160, 3), weights="imagenet")
    model = make_transfer_model(backbone, num_classes=5, recipe="two_phase", input_scale=255)
    history = train_recipe(model, train_ds, val_ds, recipe="two_phase", epochs=10,
                           learning_rate=1e-3, head_epochs=3, unfreeze=20,
                           compile_fn=compile_with("adam"))

In an experiment file the same recipes are ``finetune=Finetune(recipe=..., backbone=...)``; the
runner calls :func:`build_transfer_model` and runs the recipe's :func:`plan_phases` in
:func:`kerasdl.runner.fit_phases`, as :func:`train_recipe` does.

Importing this package registers its Keras classes (FrozenMode, ApplicationPreprocessing,
LayerwiseLearningRate), which a saved transfer model needs to load.

Reference:
    Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural networks?"
    NIPS 2014.
    Howard, Ruder. "Universal Language Model Fine-tuning for Text Classification." ACL 2018.
"""
from kerasdl.transfer.backbones import APPLICATIONS, Backbone, cut, load_backbone
from kerasdl.layers.transfer import ApplicationPreprocessing, FrozenMode
from kerasdl.layerwise import LayerwiseLearningRate, layer_multipliers
from kerasdl.transfer.recipes import (RECIPE_SPECS, Phase, backbone_of, build_transfer_model,
                                      compile_with, discriminative_optimizer, extract_features,
                                      freeze_backbone, make_transfer_model, plan_phases,
                                      train_recipe, unfreeze_backbone)

__all__ = ["APPLICATIONS", "ApplicationPreprocessing", "Backbone", "FrozenMode",
           "LayerwiseLearningRate", "Phase", "RECIPE_SPECS", "backbone_of", "build_transfer_model",
           "compile_with", "cut", "discriminative_optimizer", "extract_features",
           "freeze_backbone", "layer_multipliers", "load_backbone", "make_transfer_model",
           "plan_phases", "train_recipe", "unfreeze_backbone"]
