"""nn: modules, layers, losses, optimizers and training loops on top of autodiff, shaped like ``torch.nn``.

Where things live: ``module`` (Module, Parameter, ModuleList, Sequential),
``layers`` (Linear, activations, Flatten, MLP), ``init`` (initialisation),
``functional`` (losses, penalties, activations), ``losses`` (loss modules),
``optim`` (SGD, Adam, AdamW), ``data`` (TensorDataset, DataLoader, minibatches), ``train`` (fit, evaluate),
``serialization`` (save, load: .npz or .safetensors), ``interop`` (to_torch,
from_torch, export_onnx), ``rng`` (the shared generator of ``autodiff.random``). The digits example is
``examples/digits.py``.
"""

from . import data, functional, init, optim
from .interop import export_onnx, from_torch, to_torch
from .layers import MLP, Flatten, Identity, Linear, ReLU, Sigmoid, Tanh
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module, ModuleList, Parameter, Sequential, biases, weights
from .rng import manual_seed
from .serialization import CheckpointError, load, save
from .train import History, TrainingDiverged, accuracy, evaluate, fit, predict

__all__ = [
    "data",
    "functional",
    "init",
    "optim",
    "Module",
    "Parameter",
    "ModuleList",
    "Sequential",
    "weights",
    "biases",
    "Linear",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "Identity",
    "Flatten",
    "MLP",
    "MSELoss",
    "CrossEntropyLoss",
    "BCEWithLogitsLoss",
    "manual_seed",
    "save",
    "load",
    "CheckpointError",
    "to_torch",
    "from_torch",
    "export_onnx",
    "fit",
    "evaluate",
    "predict",
    "accuracy",
    "History",
    "TrainingDiverged",
]
