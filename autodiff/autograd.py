"""PyTorch's ``torch.autograd`` interface: gradients returned instead of accumulated into ``.grad``."""

from . import engine
from .engine import backward
from .tensor import Tensor

__all__ = ["grad", "backward"]


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
    roots = [engine.root_gradient(t, g, create_graph, i) for i, (t, g) in enumerate(zip(outputs, grad_outputs))]
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
