"""Model families and the registry (``build``, ``list_models``).

Importing this package registers every family's classes with Keras, so that
``keras.models.load_model`` can rebuild subclassed kerasdl models.
"""
from kerasdl.catalog import catalog
from kerasdl.models.registry import STYLES, build, get_model_class, list_models, register

list_models()

__all__ = ["STYLES", "build", "catalog", "get_model_class", "list_models", "register"]
