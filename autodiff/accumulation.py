"""Storing gradients into ``.grad``: adding into it, or taking the array as it is.

A leaf's gradient becomes its ``.grad`` without a copy when nothing else refers to the array (PyTorch's
``AccumulateGrad`` steals it the same way). Whether something does is read off CPython's reference
count, which depends on the interpreter (3.14 borrows references on the stack): a self-test at import
(``STEALS``) decides whether stealing is safe here, and without it every gradient is copied.
"""

import sys

import numpy as np

from . import deferred
from .ops import Scaled
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


def add_gradient(entry, g):
    """``entry[1] + g`` for the walk's [leaf, gradient] ``entry``, when it may not add into ``entry[1]`` in place:
    a ``Scaled`` part waits behind an array (``entry[2:]``) until ``settle_gradients`` can add it in place."""
    first = entry[1]
    if type(first) is Scaled:
        if type(g) is Scaled:  # made now: a fresh array, which the other is added into
            entry[1] = made = first.made()
            deferred.add_product(made, g.x, g.c, np.add)
        else:
            entry[1] = g
            entry.append(first)
    elif type(g) is Scaled:
        entry.append(g)
    else:
        entry[1] = first + g


def settle_gradients(leaves):
    """Add the waiting ``Scaled`` parts of the walk's leaf gradients: into the array in place when only the walk
    holds it (after the walk, when it has let go of its own references), else into a new one."""
    for entry in leaves.values():
        if len(entry) == 2 and type(entry[1]) is not Scaled:
            continue
        own = STEALS and unshared(entry)  # before entry[1] is a local variable: that is one more reference
        parts = entry[2:]
        del entry[2:]
        if type(entry[1]) is Scaled:
            entry[1], own = entry[1].made(), True
        for part in parts:
            if own:
                deferred.add_product(entry[1], part.x, part.c, np.add)
            else:
                entry[1], own = entry[1] + part.made(), True


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
