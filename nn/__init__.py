"""nn: modules, layers, losses, optimizers and training loops on top of autodiff, shaped like ``torch.nn``.

Where things live: ``module`` (Module, Parameter, ModuleList, Sequential),
``layers`` (Linear, activations, MLP), ``init`` (initialisation), ``functional``
(losses, penalties, activations), ``losses`` (loss modules), ``optim``
(SGD, Adam, AdamW), ``data`` (minibatches), ``train`` (fit, evaluate),
``serialization`` (save, load), ``rng`` (the global generator), ``demo``
(``python -m nn.demo``).
"""
from . import data, functional, init, optim
from .layers import MLP, Identity, Linear, ReLU, Sigmoid, Tanh
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module, ModuleList, Parameter, Sequential, biases, weights
from .rng import manual_seed
from .serialization import CheckpointError, load, save
from .train import History, TrainingDiverged, accuracy, evaluate, fit, predict

__all__ = [
    "data", "functional", "init", "optim",
    "Module", "Parameter", "ModuleList", "Sequential", "weights", "biases",
    "Linear", "ReLU", "Tanh", "Sigmoid", "Identity", "MLP",
    "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss",
    "manual_seed", "save", "load", "CheckpointError",
    "fit", "evaluate", "predict", "accuracy", "History", "TrainingDiverged",
]
