"""Reusable layers and blocks (residual blocks, inception cells, unshared and tiled convolutions).

Import them from their modules (``from kerasdl.layers.local import LocallyConnected2D``); each is
registered as Keras-serializable (package "kerasdl") when its module is imported.
"""
