"""PyTorch's ``torch.autograd`` interface: gradients returned instead of accumulated into ``.grad``,
and ``Function`` for differentiable operations written in user code (``autograd.function``)."""

import sys

import numpy as np

from . import engine, function, tensor
from .errors import describe
from .function import Function, FunctionCtx, once_differentiable
from .tensor import Tensor

__all__ = ["grad", "backward", "Function", "FunctionCtx", "once_differentiable", "function"]


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """∂outputs/∂inputs, weighted by ``grad_outputs``, as a tuple with one entry per input.

    Leaves' ``.grad`` is not touched. ``grad_outputs`` may be omitted for
    single-element outputs. With ``create_graph=True`` the returned gradients are
    themselves differentiable. An input the outputs do not depend on is an error,
    or ``None`` with ``allow_unused=True``.
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = _as_list(grad_outputs)
        if len(grad_outputs) != len(outputs):
            raise ValueError(f"grad_outputs has {len(grad_outputs)} entries but there are {len(outputs)} outputs")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    roots = [root_gradient(t, g, create_graph, i) for i, (t, g) in enumerate(zip(outputs, grad_outputs))]
    found = engine.run_backward(outputs, roots, retain_graph, create_graph, capture=inputs)
    result = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}, shape {x.shape}) appears to not "
                    "have been used in the graph. Set allow_unused=True if this is the desired behavior."
                )
            result.append(None)
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(Tensor._wrap(g.astype(x.dtype, copy=True)))
    return tuple(result)


def root_gradient(root, gradient, create_graph, position):
    """The gradient to start from at ``root`` (given, or 1 for a one-element root), checked."""
    if not root._requires_grad:
        raise RuntimeError(
            f"element {position} of tensors does not require grad and does not have a grad_fn "
            "(nothing that produced it requires grad: create the inputs with requires_grad=True)"
        )
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                "grad can be implicitly created only for scalar outputs; this output has shape "
                f"{root.shape}: pass gradient= (an array of that shape, the ∂L/∂output to start from)"
            )
        g = np.ones(root._data.shape, root._data.dtype)
    else:
        try:
            g = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        except (ValueError, TypeError):  # ragged nesting
            raise TypeError(f"gradient must be numbers, got a ragged {type(gradient).__name__}") from None
        if g.dtype.kind not in "biuf":
            raise TypeError(
                f"gradient must be real numbers (∂L/∂output, shape {root.shape}), got "
                f"{type(gradient).__name__} of dtype {g.dtype} ({describe(g)})"
            )
        if g.shape != root.shape:
            raise RuntimeError(
                f"Mismatch in shape: gradient has a shape of {g.shape} and output {position} "
                f"has a shape of {root.shape}"
            )
        if g.dtype != root.dtype:
            g = g.astype(root.dtype)
    if create_graph:
        return gradient if isinstance(gradient, Tensor) and gradient.dtype == root.dtype else Tensor._wrap(g)
    return g


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate into ``.grad`` of every leaf the ``tensors`` depend on (PyTorch's ``torch.autograd.backward``)."""
    tensors = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"got {len(grad_tensors)} gradients for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    grads = [root_gradient(t, g, create_graph, i) for i, (t, g) in enumerate(zip(tensors, grad_tensors))]
    engine.run_backward(tensors, grads, retain_graph, create_graph)


def tensor_backward(tensor, gradient=None, retain_graph=None, create_graph=False):
    """``Tensor.backward``: ``backward([tensor], [gradient], ...)`` without making the lists."""
    root = root_gradient(tensor, gradient, create_graph, 0)
    engine.run_backward((tensor,), (root,), create_graph if retain_graph is None else retain_graph, create_graph)


tensor._autograd = sys.modules[__name__]  # Tensor.backward calls tensor_backward() above
