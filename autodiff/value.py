"""micrograd's ``Value``, running on this engine."""

import numpy as np

from .tensor import Tensor


class Value(Tensor):
    """A scalar that requires grad: a 0-d float64 Tensor, so micrograd code runs unchanged.

    >>> a = Value(-4.0); b = Value(2.0)
    >>> c = a * b + b**3
    >>> c.backward(); a.grad.item(), b.grad.item()
    (2.0, 8.0)

    Results of operations are plain Tensors (0-d); ``.data`` is a 0-d numpy
    array and ``.grad`` a 0-d Tensor, both of which format and compare like
    numbers (``f"{a.grad:.4f}"``).
    """

    def __init__(self, data, _children=(), _op="", label=""):
        if _children or _op:
            raise TypeError(
                "Value(data, _children, _op) is how micrograd's own operators build its graph; here "
                "operations record the graph themselves: write a * b, a + b, a.tanh() ..."
            )
        super().__init__(data, requires_grad=True, dtype=np.float64, name=label or None)
        if self.ndim:
            raise ValueError(f"a Value holds one number, got shape {self.shape}; use Tensor for arrays")

    def __repr__(self):
        grad = None if self._grad is None else self._grad.item()
        return f"Value(data={self.item()}, grad={grad})"
