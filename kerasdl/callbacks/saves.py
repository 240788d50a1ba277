"""The base of the callbacks that write the model to files."""
from __future__ import annotations

from typing import Any, Optional

import keras


class SavesModel(keras.callbacks.Callback):
    """A callback that writes a model to files: the model being fit, or the one it is part of.

    When the runner fits a part of the model (the classifier on cached backbone features) it sets
    ``saves`` to the whole model, so that checkpoints and backups always hold the whole model.
    The part shares its variables and optimizer with the whole, so what the part learns is in
    the whole model's files.
    """

    def __init__(self):
        super().__init__()
        self.saves: Optional[Any] = None

    @property
    def saved_model(self):
        """The model this callback writes: ``saves`` where it is set, else the model being fit."""
        return self.saves if self.saves is not None else self.model
