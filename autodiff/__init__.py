"""autodiff: reverse-mode automatic differentiation on numpy arrays.

A :class:`Tensor` records the operations applied to it into a graph;
``backward()`` walks that graph in reverse topological order and accumulates
gradients by the chain rule. The API follows PyTorch (``requires_grad``,
``backward``, ``grad``, ``no_grad``) with numpy's names for array things
(``axis``, ``keepdims``, ``shape``, ``dtype``).

Where things live: ``tensor`` (the Tensor), ``ops`` (every derivative rule),
``engine`` (the chain rule), ``functions`` (the differentiable functions),
``grad_mode``, ``anomaly`` (``detect_anomaly``), ``gradcheck``, ``autograd`` (PyTorch-style ``grad``),
``transforms`` (``grad``, ``jacobian``, ``hessian``, ``hvp``), ``draw``
(``draw_graph``), ``value`` (micrograd's Value), ``allocator`` (``tune_allocator``:
glibc's malloc thresholds for training loops, opt-in).
"""

import numpy as np

from . import allocator, autograd
from . import methods as methods  # attaches Tensor's operators and op methods
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .draw import Graph, draw_graph
from .functions import *  # noqa: F401,F403
from .functions import __all__ as _function_names
from .grad_mode import enable_grad, is_grad_enabled, no_grad, scope, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import Tensor
from .transforms import grad, hessian, hvp, jacobian, value_and_grad
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
    "grad",
    "value_and_grad",
    "jacobian",
    "hessian",
    "hvp",
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
] + list(_function_names)
