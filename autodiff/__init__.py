"""autodiff: reverse-mode automatic differentiation on numpy arrays.

A :class:`Tensor` records the operations applied to it into a graph;
``backward()`` walks that graph in reverse topological order and accumulates
gradients by the chain rule. The API follows PyTorch (``requires_grad``,
``backward``, ``grad``, ``no_grad``) with numpy's names for array things
(``axis``, ``keepdims``, ``shape``, ``dtype``).

Where things live: ``tensor`` (the Tensor), ``ops`` (every derivative rule),
``engine`` (the chain rule), ``functions`` (the differentiable functions),
``grad_mode``, ``anomaly`` (``detect_anomaly``), ``gradcheck``, ``autograd`` (PyTorch-style ``grad``),
``transforms`` (``grad``, ``elementwise_grad``, ``jacobian``, ``hessian``, ``hvp``), ``random``
(``manual_seed``, ``randn``, ``rand``, ``normal``...: one seeded generator, shared with ``nn``), ``draw``
(``draw_graph``), ``value`` (micrograd's Value), ``allocator`` (``tune_allocator``:
glibc's malloc thresholds for training loops, opt-in), ``deferred`` (big products made when read:
``(W * W).sum()`` without making ``W * W``).
"""

import numpy as np

from . import allocator, autograd
from . import methods as methods  # attaches Tensor's operators and op methods
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .checkpoint import checkpoint
from .draw import Graph, draw_graph
from .forward import jacfwd, jvp
from .function import Function
from .functions import *  # noqa: F401,F403
from .functions import __all__ as _function_names
from .grad_mode import enable_grad, is_grad_enabled, no_grad, scope, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .random import manual_seed, normal, rand, rand_like, randint, randn, randn_like, randperm
from .tensor import Tensor
from .transforms import elementwise_grad, grad, hessian, hvp, jacobian, value_and_grad
from .value import Value

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_

allocator.tune_on_import()
tune_allocator = allocator.tune_allocator

__version__ = "0.1.0"
__all__ = [
    "Tensor",
    "Value",
    "autograd",
    "Function",
    "grad",
    "elementwise_grad",
    "value_and_grad",
    "jacobian",
    "hessian",
    "hvp",
    "jvp",
    "jacfwd",
    "checkpoint",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "scope",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "AnomalyError",
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
    "float16",
    "float32",
    "float64",
    "int32",
    "int64",
    "bool_",
    "draw_graph",
    "Graph",
    "tune_allocator",
    "manual_seed",
    "randn",
    "rand",
    "normal",
    "randint",
    "randperm",
    "randn_like",
    "rand_like",
] + list(_function_names)
