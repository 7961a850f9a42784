"""Storing gradients into ``.grad``: adding into it, or taking the array as it is.

A leaf's gradient becomes its ``.grad`` without a copy when nothing else refers to the array (PyTorch's
``AccumulateGrad`` steals it the same way). Whether something does is read off CPython's reference
count, which depends on the interpreter (3.14 borrows references on the stack): a self-test at import
(``STEALS``) decides whether stealing is safe here, and without it every gradient is copied.
"""

import sys

import numpy as np

from . import deferred
from .tensor import Tensor
from .versions import bump_version

_getrefcount = sys.getrefcount
_UNSHARED_REFS = _getrefcount([]) + 2  # the entry's list, the local variable and the call's argument


def unshared(entry):
    """Whether ``entry[1]`` is an array that nothing but ``entry`` refers to: a fresh array, or a view of
    all of one (a transposed product) that nothing else refers to either."""
    g = entry[1]
    if type(g) is not np.ndarray or _getrefcount(g) > _UNSHARED_REFS or not g.flags.writeable:
        return False
    base = g.base
    return base is None or (
        type(base) is np.ndarray and base.base is None and base.size == g.size and _getrefcount(base) <= _UNSHARED_REFS
    )


def _stealing_is_safe():
    held, whole = np.zeros(1), np.zeros((2, 3))
    return (
        unshared([None, np.zeros(1)])
        and unshared([None, np.zeros((3, 2)).T])
        and not unshared([None, held])
        and not unshared([None, held[:]])
        and not unshared([None, whole.T])
        and not unshared([None, np.zeros(4)[:2]])
        and not unshared([None, np.broadcast_to(np.zeros(3), (3,))])
    )


STEALS = _stealing_is_safe()


def accumulate(tensor, g, create_graph, unshared):
    """Add ``g`` into ``tensor.grad``; ``g`` becomes the grad without a copy only if ``unshared``."""
    tensor._grad_tensor()  # a gradient backward stored bare becomes the Tensor it adds into
    if create_graph:
        tensor._grad = g if tensor._grad is None else tensor._grad + g
    elif tensor._grad is None:
        tensor._grad = Tensor._wrap(g if unshared else np.array(g, dtype=tensor.dtype))
    else:
        grad = tensor._grad
        if grad._requires_grad or not grad._data.flags.writeable:
            tensor._grad = Tensor._wrap(grad._data + g)
        else:
            if deferred.waiting:  # products that read this .grad see it before it changes
                deferred.settle(grad._data)
            grad._data += g
            bump_version(grad)
